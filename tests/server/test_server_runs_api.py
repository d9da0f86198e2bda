"""The runs API: list with filters and pages, detail, cancel, retry, clear, task runs, tries, events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_runs_are_listed_newest_first_with_filters_and_pages(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    ok = [run_flow("numbers", n=1).id for _ in range(3)]
    bad = run_flow("numbers", fail=True).id
    hi = run_flow("hello").id
    page = client.get("/api/v1/runs").json()
    assert [r["id"] for r in page["items"]] == [hi, bad, *reversed(ok)]
    assert page["total"] == 5
    assert page["next_before"] is None

    failed = client.get("/api/v1/runs", params={"state": "failed"}).json()
    assert [r["id"] for r in failed["items"]] == [bad]
    assert failed["total"] == 1
    numbers = client.get("/api/v1/runs", params={"flow": "numbers"}).json()
    assert numbers["total"] == 4

    first = client.get("/api/v1/runs", params={"limit": 2}).json()
    assert [r["id"] for r in first["items"]] == [hi, bad]
    assert first["next_before"] == bad
    second = client.get("/api/v1/runs", params={"limit": 2, "before": first["next_before"]}).json()
    assert [r["id"] for r in second["items"]] == [ok[2], ok[1]]
    by_offset = client.get("/api/v1/runs", params={"limit": 2, "offset": 2}).json()
    assert by_offset["items"] == second["items"]
    assert client.get("/api/v1/runs", params={"trigger": "manual"}).json()["total"] == 5
    assert client.get("/api/v1/runs", params={"trigger": "schedule"}).json()["total"] == 0


def test_bad_list_filters_are_a_422_naming_the_field(client: Any) -> None:
    for params, field in (
        ({"state": "sleeping"}, "state"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_000}, "limit"),
        ({"offset": -1}, "offset"),
        ({"flow": "a b"}, "flow"),
        ({"before": 2**40}, "before"),
    ):
        response = client.get("/api/v1/runs", params=params)
        assert response.status_code == 422, params
        assert [f["field"] for f in response.json()["fields"]] == [field], params


def test_a_run_shows_its_params_reason_and_task_runs_in_graph_order(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run = run_flow("numbers", n=2, fail=True)
    body = client.get(f"/api/v1/runs/{run.id}").json()
    assert body["state"] == "failed"
    assert body["params"] == {"n": 2, "label": "sum", "fail": True}
    assert body["reason"]
    assert [t["label"] for t in body["task_runs"]] == [
        "make",
        "square",
        "square[0]",
        "square[1]",
        "total",
        "check",
    ]
    states = {t["label"]: t["state"] for t in body["task_runs"]}
    assert states["check"] == "failed" and states["total"] == "success"
    assert body["task_runs"][1]["map_count"] == 2
    assert client.get(f"/api/v1/runs/{run.id}/tasks").json() == body["task_runs"]


def test_unknown_or_impossible_run_ids_are_404_or_422(client: Any) -> None:
    assert client.get("/api/v1/runs/12345").status_code == 404
    assert client.get("/api/v1/runs/12345").json()["error"] == "not_found"
    for path in ("/api/v1/runs/0", "/api/v1/runs/-1", f"/api/v1/runs/{2**63}", "/api/v1/runs/abc"):
        assert client.get(path).status_code == 422, path
    for verb in ("cancel", "retry"):
        assert client.post(f"/api/v1/runs/999/{verb}").status_code == 404
    assert client.post("/api/v1/runs/999/clear", json={"task_ids": ["x"]}).status_code == 404


def test_cancelling_a_queued_run_cancels_it_and_a_finished_one_is_a_409(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    done = run_flow("hello")
    queued = client.post("/api/v1/flows/hello/runs", json={}).json()
    response = client.post(f"/api/v1/runs/{queued['id']}/cancel")
    assert response.status_code == 202
    assert response.json()["run"]["state"] == "cancelled"
    assert response.json()["requested"] is False
    response = client.post(f"/api/v1/runs/{done.id}/cancel")
    assert response.status_code == 409
    assert "already ended" in response.json()["detail"]


def test_retrying_a_failed_run_queues_its_failed_tasks_again(
    client: Any, run_flow: Callable[..., Any], drive: Callable[[int], Any], flow_file: Any
) -> None:
    run = run_flow("numbers", n=2, fail=True)
    response = client.post(f"/api/v1/runs/{run.id}/retry")
    assert response.status_code == 200
    body = response.json()
    assert body["cleared"] == ["check"]
    assert body["run"]["state"] == "queued"
    tasks = {t["label"]: t["state"] for t in client.get(f"/api/v1/runs/{run.id}/tasks").json()}
    assert tasks["check"] == "pending" and tasks["total"] == "success"
    assert drive(run.id).state == "failed"  # it fails again: the param still says so
    tries = client.get(f"/api/v1/runs/{run.id}/tasks/check/tries").json()
    assert [t["number"] for t in tries] == [1, 2]


def test_retrying_a_run_that_did_not_fail_or_has_not_ended_is_a_409(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    done = run_flow("hello")
    assert client.post(f"/api/v1/runs/{done.id}/retry").status_code == 409
    queued = client.post("/api/v1/flows/hello/runs", json={}).json()
    response = client.post(f"/api/v1/runs/{queued['id']}/retry")
    assert response.status_code == 409
    assert "queued" in response.json()["detail"]


def test_clearing_tasks_runs_them_again_with_those_downstream(
    client: Any, run_flow: Callable[..., Any], drive: Callable[[int], Any]
) -> None:
    run = run_flow("numbers", n=2)
    response = client.post(f"/api/v1/runs/{run.id}/clear", json={"task_ids": ["total"], "downstream": True})
    assert response.status_code == 200
    assert response.json()["cleared"] == ["check", "total"]
    assert response.json()["run"]["state"] == "queued"
    assert drive(run.id).state == "success"
    tries = client.get(f"/api/v1/runs/{run.id}/tasks/total/tries").json()
    assert [t["number"] for t in tries] == [1, 2]


def test_clearing_unknown_tasks_or_a_running_run_is_refused(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run = run_flow("numbers", n=1)
    response = client.post(f"/api/v1/runs/{run.id}/clear", json={"task_ids": ["nope"]})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "task_ids"
    assert client.post(f"/api/v1/runs/{run.id}/clear", json={"task_ids": []}).status_code == 422
    assert client.post(f"/api/v1/runs/{run.id}/clear", json={}).status_code == 422
    queued = client.post("/api/v1/flows/numbers/runs", json={}).json()
    response = client.post(f"/api/v1/runs/{queued['id']}/clear", json={"task_ids": ["make"]})
    assert response.status_code == 409


def test_a_task_run_shows_its_tries_and_a_mapped_one_its_elements(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run = run_flow("numbers", n=3, fail=True)
    check = client.get(f"/api/v1/runs/{run.id}/tasks/check").json()
    assert check["state"] == "failed"
    assert len(check["tries"]) == 1
    assert "check failed" in check["tries"][0]["error"]
    assert "ValueError" in check["tries"][0]["traceback"]
    assert check["tries"][0]["has_log"] is True
    square = client.get(f"/api/v1/runs/{run.id}/tasks/square").json()
    assert square["map_count"] == 3
    assert [e["label"] for e in square["elements"]] == ["square[0]", "square[1]", "square[2]"]
    element = client.get(f"/api/v1/runs/{run.id}/tasks/square", params={"map_index": 1}).json()
    assert element["label"] == "square[1]" and element["elements"] == []
    assert len(element["tries"]) == 1
    all_tries = client.get(f"/api/v1/runs/{run.id}/tasks/square/tries").json()
    assert sorted(t["map_index"] for t in all_tries) == [0, 1, 2]
    one = client.get(f"/api/v1/runs/{run.id}/tasks/square/tries", params={"map_index": 2}).json()
    assert [t["map_index"] for t in one] == [2]
    try_1 = client.get(f"/api/v1/runs/{run.id}/tasks/check/tries/1").json()
    assert try_1["number"] == 1 and try_1["state"] == "failed"


def test_unknown_tasks_elements_and_tries_are_404(client: Any, run_flow: Callable[..., Any]) -> None:
    run = run_flow("numbers", n=1)
    for path in (
        f"/api/v1/runs/{run.id}/tasks/nope",
        f"/api/v1/runs/{run.id}/tasks/nope/tries",
        f"/api/v1/runs/{run.id}/tasks/square?map_index=7",
        f"/api/v1/runs/{run.id}/tasks/make/tries/9",
        f"/api/v1/runs/{run.id}/tasks/make/tries/9/log",
        f"/api/v1/runs/{run.id}/tasks/%00/tries",
        "/api/v1/runs/999/tasks",
        "/api/v1/runs/999/tasks/make/tries/1",
        "/api/v1/runs/999/events",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found", path


def test_a_runs_events_record_every_state_change(client: Any, run_flow: Callable[..., Any]) -> None:
    run = run_flow("hello")
    events = client.get(f"/api/v1/runs/{run.id}/events").json()
    run_states = [e["to_state"] for e in events if e["task_id"] is None]
    assert run_states == ["queued", "running", "success"]
    task_states = [e["to_state"] for e in events if e["task_id"] == "hello_task"]
    assert task_states[-1] == "success"
