"""Every state change is an event; each is allowed by the transition table; writes compare-and-set."""

from __future__ import annotations

from typing import Any

import pytest

import weir
from weir.errors import StaleStateError
from weir.states import RunState, TaskState, check_run_transition, check_task_transition
from weir.store import tasks as queries
from weir.store.records import Changes, RunChange, TaskRunChange, TaskRunRecord

calls = {"n": 0}


@weir.task(retries=1)
def once_flaky() -> int:
    calls["n"] += 1
    if calls["n"] % 2:
        raise RuntimeError("first try fails")
    return 2


@weir.task
def double(x: int) -> int:
    return 2 * x


@weir.task
def boom() -> None:
    raise RuntimeError("boom")


@weir.task(branch=True)
def pick() -> str:
    return "double"


@weir.flow
def busy() -> object:
    x = once_flaky()
    p = pick()
    d = double(x)
    p >> [d, boom()]
    return double.map([1, 2, 3])


def test_every_recorded_event_is_an_allowed_transition(engine: Any) -> None:
    calls["n"] = 0
    run = busy.run(executor="inline")
    with engine.connect() as conn:
        events = queries.get_events(conn, run.id)
    assert events[0].task_id is None and events[0].from_state is None and events[0].to_state == "queued"
    for event in events[1:]:
        if event.task_id is None:
            check_run_transition(RunState(event.from_state), RunState(event.to_state))
        else:
            check_task_transition(TaskState(event.from_state), TaskState(event.to_state))
    # the last event of each task run is its stored state
    last: dict[tuple[str, int], str] = {}
    for event in events:
        if event.task_id is not None:
            last[(event.task_id, event.map_index)] = event.to_state
    assert last == {(r.task_id, r.map_index): r.state for r in run.task_runs}
    assert events[-1].to_state == run.state == "success"
    retried = [e.to_state for e in events if e.task_id == "once_flaky"]
    assert retried == ["scheduled", "queued", "running", "up_for_retry", "queued", "running", "success"]


def test_every_event_time_is_aware_utc(engine: Any) -> None:
    calls["n"] = 0
    run = busy.run(executor="inline")
    with engine.connect() as conn:
        events = queries.get_events(conn, run.id)
    assert all(e.at.utcoffset() is not None and e.at.utcoffset().total_seconds() == 0 for e in events)


def test_a_compare_and_set_on_a_stale_task_state_raises_and_changes_nothing(engine: Any) -> None:
    calls["n"] = 1
    run = busy.run(executor="inline")
    before = run.task_run("double")
    assert before.state == "success"
    stale = TaskRunRecord(
        run_id=run.id, task_id="double", state="failed", try_number=9, max_tries=9, ended_at=before.ended_at
    )
    with pytest.raises(StaleStateError), engine.begin() as conn:
        queries.apply_changes(conn, Changes(task_runs=[TaskRunChange(expected="running", record=stale)]))
    assert run.task_run("double") == before


def test_a_compare_and_set_on_a_stale_run_state_raises_and_changes_nothing(engine: Any) -> None:
    calls["n"] = 1
    run = busy.run(executor="inline")
    reason = run.reason
    with pytest.raises(StaleStateError), engine.begin() as conn:
        queries.apply_changes(
            conn, Changes(runs=[RunChange(run_id=run.id, expected="running", state="failed", reason="late")])
        )
    again = weir.get_run(run.id)
    assert (again.state, again.reason) == ("success", reason) and reason != "late"
