"""The flows API: list, detail, trigger with validated params, pause and unpause."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def test_listing_flows_shows_each_with_its_last_runs(client: Any, run_flow: Callable[..., Any]) -> None:
    first = run_flow("numbers", n=2)
    second = run_flow("numbers", n=3, fail=True)
    run_flow("hello")
    body = client.get("/api/v1/flows").json()
    by_name = {f["name"]: f for f in body["items"]}
    assert sorted(by_name) == ["hello", "numbers"]
    numbers = by_name["numbers"]
    assert numbers["run_count"] == 2
    assert numbers["last_run"] == {
        "id": second.id,
        "state": "failed",
        "created_at": numbers["last_run"]["created_at"],
    }
    assert [r["id"] for r in numbers["recent_runs"]] == [second.id, first.id]
    assert numbers["tasks"] == 4
    assert numbers["description"] == "Sum of squares below n, checked."


def test_an_empty_store_lists_no_flows(client: Any) -> None:
    assert client.get("/api/v1/flows").json() == {"items": []}


def test_a_flow_shows_its_graph_params_and_source(
    client: Any, run_flow: Callable[..., Any], flow_file: Path
) -> None:
    run_flow("numbers")
    body = client.get("/api/v1/flows/numbers").json()
    assert [n["task_id"] for n in body["graph"]["nodes"]] == ["make", "square", "total", "check"]
    assert ["make", "square", "data"] in body["graph"]["edges"]
    assert {p["name"]: (p["type"], p["default"]) for p in body["params"]} == {
        "n": ("int", 3),
        "label": ("str", "sum"),
        "fail": ("bool", False),
    }
    assert body["params_schema"]["properties"]["n"]["type"] == "integer"
    assert body["source"] == flow_file.read_text()
    assert body["load_error"] is None
    assert body["path"] == str(flow_file)


def test_an_unknown_flow_is_a_404_with_a_json_error(client: Any) -> None:
    for path in ("/api/v1/flows/nope", "/api/v1/flows/%00bad", "/api/v1/flows/..%2F..%2Fetc"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"


def test_triggering_a_flow_creates_a_queued_run_with_validated_params(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run_flow("numbers")
    response = client.post("/api/v1/flows/numbers/runs", json={"params": {"n": "5", "label": "x"}})
    assert response.status_code == 201
    run = response.json()
    assert run["state"] == "queued"
    assert run["trigger"] == "manual"
    assert run["params"] == {"n": 5, "label": "x", "fail": False}
    assert {t["task_id"]: t["state"] for t in run["task_runs"]} == {
        "make": "pending",
        "square": "pending",
        "total": "pending",
        "check": "pending",
    }
    assert client.get(f"/api/v1/runs/{run['id']}").json()["state"] == "queued"


def test_a_trigger_without_a_body_uses_the_defaults(client: Any, run_flow: Callable[..., Any]) -> None:
    run_flow("hello")
    response = client.post("/api/v1/flows/hello/runs")
    assert response.status_code == 201
    assert response.json()["params"] == {"name": "world"}


def test_invalid_params_are_a_422_naming_the_field(client: Any, run_flow: Callable[..., Any]) -> None:
    run_flow("numbers")
    response = client.post("/api/v1/flows/numbers/runs", json={"params": {"n": "many", "colour": "red"}})
    assert response.status_code == 422
    body = response.json()
    fields = {f["field"] for f in body["fields"]}
    assert fields == {"params.n", "params.colour"}
    assert "n:" in body["detail"] and "colour" in body["detail"]
    assert client.get("/api/v1/runs").json()["total"] == 1  # nothing was recorded


def test_a_malformed_trigger_body_is_a_422(client: Any, run_flow: Callable[..., Any]) -> None:
    run_flow("hello")
    for body in ({"params": [1, 2]}, {"parameters": {}}, {"params": {"name": float("nan")}}):
        response = client.post(
            "/api/v1/flows/hello/runs",
            content=__import__("json").dumps(body),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422, body
        assert response.json()["fields"], body
    response = client.post(
        "/api/v1/flows/hello/runs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_triggering_an_unknown_flow_is_a_404(client: Any) -> None:
    assert client.post("/api/v1/flows/nope/runs", json={"params": {}}).status_code == 404


def test_a_flow_whose_file_is_gone_is_still_triggered_from_its_stored_snapshot(
    client: Any, run_flow: Callable[..., Any], flow_file: Path
) -> None:
    # By design (issue 8), the server never loads a flow's code: params are validated against the
    # stored snapshot, and a worker that cannot import the file fails the try instead.
    run_flow("hello")
    flow_file.unlink()
    response = client.post("/api/v1/flows/hello/runs", json={})
    assert response.status_code == 201
    assert response.json()["params"] == {"name": "world"}
    detail = client.get("/api/v1/flows/hello").json()
    assert detail["load_error"] is None and detail["source"] is None


def test_pausing_and_unpausing_a_flow(client: Any, run_flow: Callable[..., Any]) -> None:
    run_flow("hello")
    response = client.post("/api/v1/flows/hello/pause")
    if response.status_code == 501:  # a store without schedule state
        assert "pause" in response.json()["detail"]
        return
    assert response.status_code == 200
    assert response.json()["paused"] is True
    assert client.get("/api/v1/flows").json()["items"][0]["paused"] is True
    response = client.post("/api/v1/flows/hello/unpause")
    assert response.status_code == 200
    assert response.json()["paused"] is False


def test_pausing_an_unknown_flow_is_a_404(client: Any) -> None:
    assert client.post("/api/v1/flows/nope/pause").status_code == 404
    assert client.post("/api/v1/flows/nope/unpause").status_code == 404
