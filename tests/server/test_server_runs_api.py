"""The runs API: list with filters and pages, detail, cancel, retry, clear, resume, task runs, tries,
events; every list paged the same way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest


def test_runs_are_listed_newest_first_with_filters_and_pages(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    ok = [run_flow("numbers", n=1).id for _ in range(3)]
    bad = run_flow("numbers", fail=True).id
    hi = run_flow("hello").id
    page = client.get("/api/v1/runs").json()
    assert [r["id"] for r in page["items"]] == [hi, bad, *reversed(ok)]
    assert page["total"] == 5
    assert (page["limit"], page["offset"], page["next_offset"], page["next_before"]) == (100, 0, None, None)

    failed = client.get("/api/v1/runs", params={"state": "failed"}).json()
    assert [r["id"] for r in failed["items"]] == [bad]
    assert failed["total"] == 1
    numbers = client.get("/api/v1/runs", params={"flow": "numbers"}).json()
    assert numbers["total"] == 4

    first = client.get("/api/v1/runs", params={"limit": 2}).json()
    assert [r["id"] for r in first["items"]] == [hi, bad]
    assert (first["next_before"], first["next_offset"], first["total"]) == (bad, 2, 5)
    second = client.get("/api/v1/runs", params={"limit": 2, "before": first["next_before"]}).json()
    assert [r["id"] for r in second["items"]] == [ok[2], ok[1]]
    by_offset = client.get("/api/v1/runs", params={"limit": 2, "offset": first["next_offset"]}).json()
    assert by_offset["items"] == second["items"] and by_offset["next_offset"] == 4
    last = client.get("/api/v1/runs", params={"limit": 2, "offset": 4}).json()
    assert [r["id"] for r in last["items"]] == [ok[0]]
    assert (last["next_offset"], last["next_before"]) == (None, None)
    exact = client.get("/api/v1/runs", params={"limit": 5}).json()  # a full last page has no next one
    assert len(exact["items"]) == 5 and (exact["next_offset"], exact["next_before"]) == (None, None)
    assert client.get("/api/v1/runs", params={"trigger": "manual"}).json()["total"] == 5
    assert client.get("/api/v1/runs", params={"trigger": "schedule"}).json()["total"] == 0


def test_bad_list_filters_are_a_422_naming_the_field(client: Any) -> None:
    for params, field in (
        ({"state": "sleeping"}, "state"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
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
    assert client.get(f"/api/v1/runs/{run.id}/tasks").json()["items"] == body["task_runs"]


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
    tasks = {t["label"]: t["state"] for t in client.get(f"/api/v1/runs/{run.id}/tasks").json()["items"]}
    assert tasks["check"] == "pending" and tasks["total"] == "success"
    assert drive(run.id).state == "failed"  # it fails again: the param still says so
    tries = client.get(f"/api/v1/runs/{run.id}/tasks/check/tries").json()["items"]
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
    tries = client.get(f"/api/v1/runs/{run.id}/tasks/total/tries").json()["items"]
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
    assert [t["map_index"] for t in all_tries["items"]] == [0, 1, 2] and all_tries["total"] == 3
    one = client.get(f"/api/v1/runs/{run.id}/tasks/square/tries", params={"map_index": 2}).json()
    assert [t["map_index"] for t in one["items"]] == [2] and one["total"] == 1
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
    events = client.get(f"/api/v1/runs/{run.id}/events").json()["items"]
    run_states = [e["to_state"] for e in events if e["task_id"] is None]
    assert run_states == ["queued", "running", "success"]
    task_states = [e["to_state"] for e in events if e["task_id"] == "hello_task"]
    assert task_states[-1] == "success"


def test_every_list_of_a_run_is_paged_with_limit_offset_total_and_next_offset(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run = run_flow("numbers", n=3)
    for path, total in (
        (f"/api/v1/runs/{run.id}/tasks", 7),  # make, square, 3 elements, total, check
        (f"/api/v1/runs/{run.id}/tasks/square/tries", 3),
        (f"/api/v1/runs/{run.id}/events", None),
    ):
        whole = client.get(path).json()
        assert set(whole) == {"items", "total", "limit", "offset", "next_offset"}, path
        assert whole["total"] == len(whole["items"]) and whole["next_offset"] is None, path
        if total is not None:
            assert whole["total"] == total, path
        first = client.get(path, params={"limit": 2}).json()
        assert (first["limit"], first["offset"], first["next_offset"]) == (2, 0, 2), path
        rest = client.get(path, params={"limit": 500, "offset": first["next_offset"]}).json()
        assert first["items"] + rest["items"] == whole["items"], path
        assert rest["next_offset"] is None and rest["total"] == whole["total"], path
        beyond = client.get(path, params={"offset": 10_000}).json()
        assert beyond["items"] == [] and beyond["next_offset"] is None, path
        for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
            response = client.get(path, params=params)
            assert response.status_code == 422, (path, params)
            assert response.json()["error"] == "invalid"
            assert [f["field"] for f in response.json()["fields"]] == list(params), (path, params)


def test_a_map_of_250_elements_lists_its_task_runs_in_three_pages_each_element_once(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run = run_flow("numbers", n=250)
    labels: list[str] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = client.get(f"/api/v1/runs/{run.id}/tasks", params={"limit": 100, "offset": offset}).json()
        assert page["total"] == 254  # make, square, its 250 elements, total, check
        labels += [t["label"] for t in page["items"]]
        offset = page["next_offset"]
        pages += 1
    assert pages == 3
    assert labels == ["make", "square", *(f"square[{i}]" for i in range(250)), "total", "check"]
    tries = client.get(f"/api/v1/runs/{run.id}/tasks/square/tries", params={"limit": 500}).json()
    assert [t["map_index"] for t in tries["items"]] == list(range(250))


def _owned_by_a_driver(settings: Any, run_id: int, *, lease_ends_in: float) -> str:
    """Make an owner whose lease ends ``lease_ends_in`` seconds from now (past when negative) the
    driver of ``run_id``; its id."""
    from weir.clock import SystemClock
    from weir.scheduler.leases import new_owner
    from weir.store import owners
    from weir.store.store import open_store

    clock = SystemClock()
    owner = new_owner("run", clock)
    now = clock.now()
    with open_store(settings.database_url).transaction() as tx:
        owners.register(tx, owner)
        owners.renew(tx, owner.id, now + timedelta(seconds=lease_ends_in - 30), 30.0)
        assert owners.claim(tx, run_id, owner.id, now) is not None
    return owner.id


def test_resuming_a_run_whose_driver_died_releases_it_for_a_scheduler(
    client: Any, run_flow: Callable[..., Any], settings: Any, drive: Callable[[int], Any]
) -> None:
    run_flow("hello")
    queued = client.post("/api/v1/flows/hello/runs", json={}).json()["id"]
    dead = _owned_by_a_driver(settings, queued, lease_ends_in=-60)
    assert client.get(f"/api/v1/runs/{queued}").json()["owner"] == dead

    response = client.post(f"/api/v1/runs/{queued}/resume", headers={"X-Weir-Via": "ui"})

    assert response.status_code == 200
    body = response.json()
    assert body["released_from"] == dead
    assert body["run"]["id"] == queued and body["run"]["state"] == "queued"
    assert "no scheduler is running" in body["waiting"]
    assert client.get(f"/api/v1/runs/{queued}").json()["owner"] is None
    audit = client.get("/api/v1/audit", params={"action": "resume"}).json()["items"]
    assert [(e["target"], e["via"]) for e in audit] == [(f"run {queued}", "ui")]
    assert drive(queued).state == "success"  # a scheduler takes it up from there


def test_resuming_a_run_with_a_live_driver_or_an_ended_run_is_a_409_saying_why(
    client: Any, run_flow: Callable[..., Any], settings: Any
) -> None:
    done = run_flow("hello")
    queued = client.post("/api/v1/flows/hello/runs", json={}).json()["id"]
    live = _owned_by_a_driver(settings, queued, lease_ends_in=60)

    driven = client.post(f"/api/v1/runs/{queued}/resume")
    ended = client.post(f"/api/v1/runs/{done.id}/resume")

    assert driven.status_code == 409
    assert driven.json()["error"] == "conflict" and live in driven.json()["detail"]
    assert "live process" in driven.json()["detail"]
    assert client.get(f"/api/v1/runs/{queued}").json()["owner"] == live
    assert ended.status_code == 409 and "already ended (success)" in ended.json()["detail"]
    assert client.post("/api/v1/runs/999/resume").status_code == 404
    assert client.get("/api/v1/audit", params={"action": "resume"}).json()["items"] == []


@pytest.mark.parametrize("path", ["tasks", "events", "tasks/make/tries"])
def test_the_lists_of_an_unknown_run_are_404(client: Any, path: str) -> None:
    response = client.get(f"/api/v1/runs/4242/{path}")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
