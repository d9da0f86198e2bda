"""The flows API: list, detail, trigger with validated params, pause and unpause, backfill, the
coming runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
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
    assert client.get("/api/v1/flows").json() == {
        "items": [],
        "total": 0,
        "limit": 100,
        "offset": 0,
        "next_offset": None,
    }


def test_flows_and_their_problems_are_listed_in_pages(project_client: Any) -> None:
    whole = project_client.get("/api/v1/flows").json()
    first = project_client.get("/api/v1/flows", params={"limit": 2}).json()
    rest = project_client.get("/api/v1/flows", params={"limit": 2, "offset": first["next_offset"]}).json()

    assert [f["name"] for f in whole["items"]] == ["etl", "greet", "report"]
    assert (first["total"], first["next_offset"], rest["next_offset"]) == (3, 2, None)
    assert first["items"] + rest["items"] == whole["items"]
    tagged = project_client.get("/api/v1/flows", params={"tag": "etl", "limit": 1}).json()
    assert ([f["name"] for f in tagged["items"]], tagged["total"], tagged["next_offset"]) == (
        ["etl"],
        1,
        None,
    )

    problems = project_client.get("/api/v1/flows/errors").json()
    one = project_client.get("/api/v1/flows/errors", params={"limit": 1}).json()
    two = project_client.get("/api/v1/flows/errors", params={"limit": 1, "offset": 1}).json()
    assert problems["total"] == 2 and problems["next_offset"] is None
    assert (one["total"], one["next_offset"], two["next_offset"]) == (2, 1, None)
    assert one["items"] + two["items"] == problems["items"]
    for path in ("/api/v1/flows", "/api/v1/flows/errors"):
        response = project_client.get(path, params={"limit": 501})
        assert response.status_code == 422
        assert [f["field"] for f in response.json()["fields"]] == ["limit"]


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


def test_a_run_triggered_while_no_scheduler_runs_says_it_waits_and_why(
    client: Any, run_flow: Callable[..., Any], settings: Any
) -> None:
    run_flow("hello")
    made = client.post("/api/v1/flows/hello/runs").json()
    assert made["waiting"].startswith("waiting: no scheduler is running to drive flow 'hello'")
    assert client.get(f"/api/v1/runs/{made['id']}").json()["waiting"] == made["waiting"]
    assert "no scheduler is running" in client.get(f"/runs/{made['id']}").text

    from weir.clock import SystemClock
    from weir.scheduler.leases import new_owner
    from weir.store import owners
    from weir.store.store import open_store

    scheduler = new_owner("scheduler", SystemClock())
    with open_store(settings.database_url).transaction() as tx:  # a live scheduler: the run is about to start
        owners.register(tx, scheduler)
        owners.renew(tx, scheduler.id, SystemClock().now(), 30.0)
    assert client.get(f"/api/v1/runs/{made['id']}").json()["waiting"] is None


def test_a_paused_flow_is_refused_by_the_api_as_by_the_cli_and_nothing_is_queued(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run_flow("hello")
    before = len(client.get("/api/v1/runs").json()["items"])
    assert client.post("/api/v1/flows/hello/pause").status_code == 200

    refused = client.post("/api/v1/flows/hello/runs")

    assert refused.status_code == 409
    assert "'hello' is paused" in refused.json()["detail"]
    assert len(client.get("/api/v1/runs").json()["items"]) == before
    assert client.post("/api/v1/flows/hello/unpause").status_code == 200
    assert client.post("/api/v1/flows/hello/runs").status_code == 201


def _day(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _backfill(client: Any, flow: str = "etl", **body: Any) -> Any:
    return client.post(f"/api/v1/flows/{flow}/backfill", json=body)


def test_a_backfill_dry_run_shows_the_plan_and_the_real_one_queues_the_runs_in_one_action(
    project_client: Any, drive: Callable[[int], Any]
) -> None:
    days = [datetime.fromisoformat(f"2026-01-0{d}T00:00:00+00:00") for d in (1, 2, 3)]
    dry = _backfill(project_client, start="2026-01-01", end="2026-01-03", dry_run=True)

    assert dry.status_code == 200
    plan = dry.json()
    assert plan["dry_run"] is True and plan["run_ids"] == [] and plan["max_active"] == 16
    assert plan["counts"] == {"make": 3, "take_up": 0, "retry": 0, "skip": 0}
    assert [_day(i["logical_date"]) for i in plan["intervals"]] == days
    assert [_day(i["interval_end"]) - _day(i["interval_start"]) for i in plan["intervals"]] == [
        timedelta(days=1)
    ] * 3
    assert project_client.get("/api/v1/runs").json()["total"] == 0  # a dry run writes nothing
    assert project_client.get("/api/v1/audit", params={"action": "backfill"}).json()["total"] == 0

    done = _backfill(project_client, start="2026-01-01", end="2026-01-03")
    assert done.status_code == 200
    made = done.json()
    assert made["dry_run"] is False and made["counts"]["make"] == 3 and len(made["run_ids"]) == 3
    assert [i["action"] for i in made["intervals"]] == ["make"] * 3
    assert "no scheduler is running" in made["waiting"]
    runs = project_client.get("/api/v1/runs", params={"trigger": "backfill"}).json()["items"]
    assert sorted(r["id"] for r in runs) == sorted(made["run_ids"])
    assert sorted(_day(r["logical_date"]) for r in runs) == days
    assert {r["state"] for r in runs} == {"queued"}
    audit = [e for e in project_client.get("/api/v1/audit").json()["items"] if e["action"] != "register"]
    assert [(e["action"], e["target"]) for e in audit] == [("backfill", "flow etl")]  # one action, one row
    assert audit[0]["detail"]["made"] == made["run_ids"] and audit[0]["detail"]["intervals"] == 3

    for run_id in made["run_ids"]:  # what a scheduler does with them
        assert drive(run_id).state == "success"
    again = _backfill(project_client, start="2026-01-01", end="2026-01-03", dry_run=True).json()
    assert again["counts"] == {"make": 0, "take_up": 0, "retry": 0, "skip": 3}
    assert [i["reason"] for i in again["intervals"]] == [f"run {r} succeeded" for r in made["run_ids"]]


def test_a_backfill_retries_a_cancelled_interval_unless_told_not_to(project_client: Any) -> None:
    (run_id,) = _backfill(project_client, start="2026-02-01", end="2026-02-01").json()["run_ids"]
    assert project_client.post(f"/api/v1/runs/{run_id}/cancel").json()["run"]["state"] == "cancelled"

    kept = _backfill(project_client, start="2026-02-01", end="2026-02-01", rerun_failed=False).json()
    assert [(i["action"], i["run_id"]) for i in kept["intervals"]] == [("skip", run_id)]
    assert "not run again" in kept["intervals"][0]["reason"] and kept["run_ids"] == []
    assert project_client.get(f"/api/v1/runs/{run_id}").json()["state"] == "cancelled"

    retried = _backfill(project_client, start="2026-02-01", end="2026-02-01").json()
    assert [(i["action"], i["state"]) for i in retried["intervals"]] == [("retry", "cancelled")]
    assert retried["run_ids"] == [run_id]
    assert project_client.get(f"/api/v1/runs/{run_id}").json()["state"] == "queued"
    actions = [e["action"] for e in project_client.get("/api/v1/audit").json()["items"]]
    assert actions[:2] == ["retry", "backfill"]


def test_a_backfill_that_cannot_be_planned_is_refused_and_writes_nothing(project_client: Any) -> None:
    for flow, body, status, field in (
        ("etl", {"start": "2026-01-05", "end": "2026-01-01"}, 422, None),
        ("etl", {"start": "yesterday", "end": "2026-01-01"}, 422, "start"),
        ("etl", {"start": "2026-01-01", "end": "2026-13-01"}, 422, "end"),
        ("etl", {"start": "2099-01-01", "end": "2099-01-05"}, 422, "start"),
        ("etl", {"start": "2026-01-01", "end": "2026-01-02", "max_active": 2}, 422, "max_active"),
        ("etl", {"start": "2026-01-01", "end": "2026-01-02", "params": {"x": 1}}, 422, "params.x"),
        ("etl", {"start": "2026-01-01", "end": "2026-01-02", "colour": "red"}, 422, "colour"),
        ("etl", {"start": "2026-01-01"}, 422, "end"),
        ("greet", {"start": "2026-01-01", "end": "2026-01-02"}, 422, None),
        ("nope", {"start": "2026-01-01", "end": "2026-01-02"}, 404, None),
    ):
        response = _backfill(project_client, flow, **body)
        assert response.status_code == status, (flow, body, response.json())
        if field is not None:
            assert [f["field"] for f in response.json()["fields"]] == [field], (flow, body)
    assert (
        "no time schedule"
        in _backfill(project_client, "greet", start="2026-01-01", end="2026-01-02").json()["detail"]
    )
    assert project_client.get("/api/v1/runs").json()["total"] == 0
    assert project_client.get("/api/v1/audit", params={"action": "backfill"}).json()["items"] == []
    ok = _backfill(project_client, start="2026-01-01", end="2026-01-02", max_active=16, dry_run=True)
    assert ok.status_code == 200


def test_a_paused_flow_is_backfilled_and_its_runs_wait_for_the_unpause(project_client: Any) -> None:
    assert project_client.post("/api/v1/flows/etl/pause").status_code == 200

    response = _backfill(project_client, start="2026-03-01", end="2026-03-02")

    assert response.status_code == 200
    assert len(response.json()["run_ids"]) == 2
    assert "'etl' is paused" in response.json()["waiting"]


def test_the_coming_runs_of_a_flow_are_its_next_fire_times_with_their_intervals(project_client: Any) -> None:
    body = project_client.get("/api/v1/flows/etl/next", params={"count": 3}).json()

    assert body["flow_name"] == "etl" and body["paused"] is False and body["schedule"]
    fires = [_day(r["fire_at"]) for r in body["items"]]
    assert len(fires) == 3 and fires[1] - fires[0] == fires[2] - fires[1] == timedelta(days=1)
    assert fires[0] > datetime.now().astimezone()
    for run in body["items"]:
        assert _day(run["interval_end"]) == _day(run["fire_at"])
        assert (
            _day(run["logical_date"])
            == _day(run["interval_start"])
            == _day(run["fire_at"]) - timedelta(days=1)
        )
    assert len(project_client.get("/api/v1/flows/etl/next").json()["items"]) == 5
    unscheduled = project_client.get("/api/v1/flows/greet/next").json()
    assert unscheduled["items"] == [] and "no time schedule" in unscheduled["note"]
    assert project_client.get("/api/v1/flows/nope/next").status_code == 404
    bad = project_client.get("/api/v1/flows/etl/next", params={"count": 0})
    assert bad.status_code == 422 and [f["field"] for f in bad.json()["fields"]] == ["count"]
