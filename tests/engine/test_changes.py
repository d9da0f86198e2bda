"""The change log: one compare-and-set per task run per step, new task runs inserted, an event per
move, and nothing recorded for an illegal move."""

from __future__ import annotations

import pytest

from weir.engine.changes import ChangeLog
from weir.errors import IllegalTransitionError
from weir.states import RunState, TaskState
from weir.store.records import TaskRunRecord, TryRecord
from weir.testing import FakeClock

from .harness import START


def log_of(seen: list[str] | None = None) -> ChangeLog:
    listener = None if seen is None else (lambda r: seen.append(f"{r.label}:{r.state}"))
    return ChangeLog(1, FakeClock(START), listener)


def record(task_id: str = "a", state: str = TaskState.PENDING, map_index: int = -1) -> TaskRunRecord:
    return TaskRunRecord(run_id=1, task_id=task_id, state=state, map_index=map_index)


def test_moves_in_one_step_are_one_compare_and_set_from_the_first_state_to_the_newest() -> None:
    log, a = log_of(), record()
    for state in (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING):
        log.move(a, state)
    (change,) = log.drain().task_runs
    assert (change.expected, change.record.state) == (TaskState.PENDING, TaskState.RUNNING)


def test_every_move_appends_an_event() -> None:
    log, a = log_of(), record()
    log.move(a, TaskState.SCHEDULED)
    log.move(a, TaskState.CANCELLED, reason="by hand")
    events = log.drain().events
    assert [(e.from_state, e.to_state, e.reason) for e in events] == [
        (TaskState.PENDING, TaskState.SCHEDULED, None),
        (TaskState.SCHEDULED, TaskState.CANCELLED, "by hand"),
    ]
    assert {(e.run_id, e.task_id, e.at) for e in events} == {(1, "a", START)}


def test_the_next_step_expects_the_state_written_by_the_last() -> None:
    log, a = log_of(), record()
    log.move(a, TaskState.SCHEDULED)
    log.drain()
    log.move(a, TaskState.QUEUED)
    (change,) = log.drain().task_runs
    assert change.expected == TaskState.SCHEDULED


def test_a_drained_log_is_empty() -> None:
    log = log_of()
    log.move(record(), TaskState.SCHEDULED)
    assert log.drain()
    assert not log.drain()


def test_task_runs_created_in_a_step_are_inserted_with_their_newest_values_not_updated() -> None:
    log, element = log_of(), record("m", map_index=0)
    log.create([element])
    log.move(element, TaskState.SCHEDULED)
    changes = log.drain()
    assert changes.task_runs == []
    assert [(r.key, r.state) for r in changes.new_task_runs] == [(("m", 0), TaskState.SCHEDULED)]
    assert len(changes.events) == 1


def test_an_illegal_move_raises_and_records_nothing() -> None:
    seen: list[str] = []
    log, a = log_of(seen), record()
    with pytest.raises(IllegalTransitionError, match="pending to success"):
        log.move(a, TaskState.SUCCESS)
    assert a.state == TaskState.PENDING
    assert not log.drain()
    assert seen == []


def test_a_touch_writes_a_task_run_whose_state_did_not_change() -> None:
    log, a = log_of(), record(state=TaskState.SCHEDULED)
    log.touch(a)
    a.note = "waiting for a slot"
    (change,) = log.drain().task_runs
    assert (change.expected, change.record.note) == (TaskState.SCHEDULED, "waiting for a slot")


def test_the_listener_sees_every_move() -> None:
    seen: list[str] = []
    log, a = log_of(seen), record()
    log.move(a, TaskState.SCHEDULED)
    log.move(a, TaskState.QUEUED)
    assert seen == ["a:scheduled", "a:queued"]


def test_a_run_move_is_a_compare_and_set_with_an_event() -> None:
    log = log_of()
    log.set_run(RunState.RUNNING, RunState.FAILED, START, reason="timed out", ended_at=START)
    changes = log.drain()
    (run,) = changes.runs
    assert (run.expected, run.state, run.reason, run.ended_at) == (
        RunState.RUNNING,
        RunState.FAILED,
        "timed out",
        START,
    )
    (event,) = changes.events
    assert (event.task_id, event.from_state, event.to_state, event.reason) == (
        None,
        RunState.RUNNING,
        RunState.FAILED,
        "timed out",
    )


def test_an_illegal_run_move_raises_and_records_nothing() -> None:
    log = log_of()
    with pytest.raises(IllegalTransitionError):
        log.set_run(RunState.SUCCESS, RunState.RUNNING, START)
    assert not log.drain()


def test_a_try_made_in_a_step_is_inserted_once_however_often_it_changes() -> None:
    log = log_of()
    made = TryRecord(run_id=1, task_id="a", map_index=-1, number=1, state=TaskState.RUNNING)
    log.new_try(made)
    log.track_try(made)
    changes = log.drain()
    assert (changes.new_tries, changes.tries) == ([made], [])


def test_a_try_made_before_is_updated_once_however_often_it_changes() -> None:
    log = log_of()
    older = TryRecord(run_id=1, task_id="a", map_index=-1, number=1, state=TaskState.RUNNING)
    log.track_try(older)
    log.track_try(older)
    changes = log.drain()
    assert (changes.new_tries, changes.tries) == ([], [older])
