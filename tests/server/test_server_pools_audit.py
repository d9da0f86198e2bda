"""Pools (set, list, delete; a task waiting for a slot says so) and the audit log: API and UI."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def test_a_pool_is_set_listed_resized_and_deleted(client: Any) -> None:
    made = client.put("/api/v1/pools/db", json={"slots": 3, "description": "the warehouse"})
    client.put("/api/v1/pools/api", json={"slots": 1})
    resized = client.put("/api/v1/pools/db", json={"slots": 5, "description": None})

    assert made.status_code == 200
    assert made.json() | {"updated_at": None} == {
        "name": "db",
        "slots": 3,
        "description": "the warehouse",
        "used": 0,
        "free": 3,
        "updated_at": None,
    }
    assert resized.json()["slots"] == 5 and resized.json()["description"] == "the warehouse"
    listed = client.get("/api/v1/pools").json()["items"]
    assert [(p["name"], p["slots"], p["free"]) for p in listed] == [("api", 1, 1), ("db", 5, 5)]

    assert client.delete("/api/v1/pools/api").status_code == 204
    assert [p["name"] for p in client.get("/api/v1/pools").json()["items"]] == ["db"]


def test_pools_are_listed_in_pages_by_name(client: Any) -> None:
    for name in ("c", "a", "b"):
        client.put(f"/api/v1/pools/{name}", json={"slots": 1})

    whole = client.get("/api/v1/pools").json()
    first = client.get("/api/v1/pools", params={"limit": 2}).json()
    rest = client.get("/api/v1/pools", params={"limit": 2, "offset": first["next_offset"]}).json()

    assert [p["name"] for p in whole["items"]] == ["a", "b", "c"]
    assert (whole["total"], whole["limit"], whole["offset"], whole["next_offset"]) == (3, 100, 0, None)
    assert ([p["name"] for p in first["items"]], first["next_offset"]) == (["a", "b"], 2)
    assert ([p["name"] for p in rest["items"]], rest["next_offset"], rest["total"]) == (["c"], None, 3)
    bad = client.get("/api/v1/pools", params={"limit": 0})
    assert bad.status_code == 422 and [f["field"] for f in bad.json()["fields"]] == ["limit"]


def test_bad_pools_are_refused_naming_the_field(client: Any) -> None:
    for body, field in (
        ({"slots": -1}, "slots"),
        ({"slots": "many"}, "slots"),
        ({"slots": 10**7}, "slots"),
        ({}, "slots"),
        ({"slots": 1, "colour": "red"}, "colour"),
    ):
        response = client.put("/api/v1/pools/db", json=body)
        assert response.status_code == 422, body
        assert [f["field"] for f in response.json()["fields"]] == [field], body
    bad_name = client.put("/api/v1/pools/no%20spaces", json={"slots": 1})
    assert bad_name.status_code == 422
    assert [f["field"] for f in bad_name.json()["fields"]] == ["name"]
    assert client.get("/api/v1/pools").json()["items"] == []


def test_deleting_a_pool_that_does_not_exist_is_a_404(client: Any) -> None:
    for name in ("nope", "no%20spaces"):
        response = client.delete(f"/api/v1/pools/{name}")
        assert response.status_code == 404, name
        assert response.json()["error"] == "not_found"


def test_the_pools_page_lists_slots_used_and_free(client: Any) -> None:
    client.put("/api/v1/pools/db", json={"slots": 0, "description": "held <b>on purpose</b>"})
    client.put("/api/v1/pools/api", json={"slots": 4})

    html = client.get("/pools").text

    assert '<tr data-pool="api">' in html and '<tr data-pool="db">' in html
    assert '<td class="slots">4</td>' in html and '<td class="free">4</td>' in html
    assert '<td class="free full">0</td>' in html
    assert "held &lt;b&gt;on purpose&lt;/b&gt;" in html
    assert client.get("/pools").status_code == 200


def test_a_task_waiting_for_a_pool_says_why_in_the_api_and_on_the_run_page(
    project_client: Any, project_settings: Any, drive: Callable[[int], Any]
) -> None:
    project_client.put("/api/v1/pools/db", json={"slots": 0})
    run_id = project_client.post("/api/v1/flows/report/runs", json={}).json()["id"]
    driver = threading.Thread(target=drive, args=(run_id,), daemon=True)
    driver.start()

    query = _wait_for(lambda: _task(project_client, run_id, "query"), lambda t: t["note"] is not None)
    assert query["state"] in ("pending", "scheduled")
    assert query["pool"] == "db"
    assert "waiting for a slot of pool 'db'" in query["note"]
    one = project_client.get(f"/api/v1/runs/{run_id}/tasks/query").json()
    assert one["note"] == query["note"]
    html = project_client.get(f"/runs/{run_id}").text
    assert "waiting for a slot of pool &#39;db&#39;" in html
    assert 'id="note"' in project_client.get(f"/runs/{run_id}/tasks/query").text

    project_client.put("/api/v1/pools/db", json={"slots": 1})
    driver.join(timeout=30)

    assert not driver.is_alive()
    done = _task(project_client, run_id, "query")
    assert done["state"] == "success" and done["note"] is None


def _task(client: Any, run_id: int, task_id: str) -> dict[str, Any]:
    tasks = client.get(f"/api/v1/runs/{run_id}/tasks").json()["items"]
    found: dict[str, Any] = next(t for t in tasks if t["task_id"] == task_id)
    return found


def _wait_for(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_every_action_through_the_api_is_in_the_audit_log_newest_first(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    done = run_flow("hello")  # from Python: recorded with via "python"
    queued = client.post("/api/v1/flows/hello/runs", json={}).json()["id"]
    client.post(f"/api/v1/runs/{queued}/cancel")
    client.post("/api/v1/flows/hello/pause", headers={"X-Weir-Via": "ui"})
    client.put("/api/v1/pools/db", json={"slots": 2})

    items = client.get("/api/v1/audit").json()["items"]

    assert [(e["action"], e["target"], e["via"]) for e in items[:4]] == [
        ("set_pool", "pool db", "api"),
        ("pause", "flow hello", "ui"),
        ("cancel", f"run {queued}", "api"),
        ("trigger", f"run {queued}", "api"),
    ]
    assert [e["id"] for e in items] == sorted((e["id"] for e in items), reverse=True)
    assert ("trigger", f"run {done.id}", "python") in [(e["action"], e["target"], e["via"]) for e in items]
    assert items[0]["detail"] == {"slots": 2, "created": True}
    assert items[0]["actor"]


def test_the_audit_log_filters_by_action_and_target_and_pages_backwards(client: Any) -> None:
    for slots in range(5):
        client.put("/api/v1/pools/db", json={"slots": slots})
    client.put("/api/v1/pools/api", json={"slots": 1})
    client.delete("/api/v1/pools/api")

    sets = client.get("/api/v1/audit", params={"action": "set_pool"}).json()
    db = client.get("/api/v1/audit", params={"target": "pool db"}).json()
    first = client.get("/api/v1/audit", params={"action": "set_pool", "limit": 2}).json()
    second = client.get(
        "/api/v1/audit", params={"action": "set_pool", "limit": 2, "before": first["next_before"]}
    ).json()

    assert len(sets["items"]) == 6 and sets["total"] == 6
    assert (sets["next_before"], sets["next_offset"]) == (None, None)
    assert [e["detail"]["slots"] for e in db["items"]] == [4, 3, 2, 1, 0]
    deletes = client.get("/api/v1/audit", params={"action": "delete_pool"}).json()["items"]
    assert [e["action"] for e in deletes] == ["delete_pool"]
    assert [e["target"] for e in first["items"]] == ["pool api", "pool db"]
    assert first["next_before"] == first["items"][-1]["id"]
    assert (first["total"], first["limit"], first["next_offset"]) == (6, 2, 2)
    assert [e["detail"]["slots"] for e in second["items"]] == [3, 2]
    by_offset = client.get("/api/v1/audit", params={"action": "set_pool", "limit": 2, "offset": 2}).json()
    assert by_offset["items"] == second["items"] and by_offset["next_offset"] == 4
    last = client.get("/api/v1/audit", params={"action": "set_pool", "limit": 2, "offset": 4}).json()
    assert [e["detail"]["slots"] for e in last["items"]] == [1, 0]
    assert (last["next_offset"], last["next_before"]) == (None, None)
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"before": 0}, "before"),
        ({"action": "Bad!"}, "action"),
    ):
        response = client.get("/api/v1/audit", params=params)
        assert response.status_code == 422, params
        assert [f["field"] for f in response.json()["fields"]] == [field], params


def test_the_audit_page_lists_actions_and_links_their_targets(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run_flow("hello")
    queued = client.post("/api/v1/flows/hello/runs", json={}).json()["id"]
    client.put("/api/v1/pools/db", json={"slots": 1, "description": "<script>x</script>"})

    html = client.get("/audit").text
    triggers = client.get("/audit", params={"action": "trigger"}).text

    assert 'id="audit"' in html
    assert f'<a href="/runs/{queued}">run {queued}</a>' in html
    assert 'data-action="set_pool"' in html
    assert "<script>x</script>" not in html
    assert 'data-action="set_pool"' not in triggers and 'data-action="trigger"' in triggers
    assert client.get("/audit", params={"before": 0}).status_code == 422


def test_pools_audit_and_flow_problems_are_in_the_openapi_schema_and_the_docs(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]

    assert set(paths["/api/v1/pools/{name}"]) == {"put", "delete"}
    assert set(paths["/api/v1/pools"]) == {"get"}
    assert set(paths["/api/v1/audit"]) == {"get"}
    assert set(paths["/api/v1/flows/errors"]) == {"get"}
    assert {p["name"] for p in paths["/api/v1/runs"]["get"]["parameters"]} >= {"tag", "flow", "state"}
    assert {p["name"] for p in paths["/api/v1/flows"]["get"]["parameters"]} == {"tag", "limit", "offset"}
    docs = client.get("/api/docs").text
    assert "/api/v1/pools/{name}" in docs and "/api/v1/audit" in docs
