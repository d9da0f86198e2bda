"""The ready queue: higher priority first, then graph order; a held run dispatches nothing."""

from __future__ import annotations

import weir
from weir.engine.queue import ReadyQueue
from weir.sdk.snapshot import snapshot_of
from weir.states import TaskState

from .harness import Harness


@weir.task
def step(x: object = None) -> object:
    return x


@weir.flow
def three() -> None:
    step.options(task_id="low")()
    step.options(task_id="high", priority=5)()
    step.options(task_id="mid")()
    step.options(task_id="many").map([1, 2, 3])


def queue() -> ReadyQueue:
    return ReadyQueue(snapshot_of(three).graph)


def drain(ready: ReadyQueue) -> list[tuple[str, int]]:
    out = []
    while (key := ready.pop()) is not None:
        out.append(key)
    return out


def test_higher_priority_goes_first_then_graph_order() -> None:
    ready = queue()
    for key in [("mid", -1), ("many", 2), ("high", -1), ("many", 0), ("low", -1)]:
        ready.push(key)
    assert drain(ready) == [("high", -1), ("low", -1), ("mid", -1), ("many", 0), ("many", 2)]


def test_an_empty_queue_gives_nothing() -> None:
    ready = queue()
    assert ready.pop() is None and ready.pop_due() is None
    assert not ready


def test_due_retries_count_as_ready_and_pool_waiters_do_not() -> None:
    ready = queue()
    ready.pool_waiting.append(("low", -1))
    assert not ready
    ready.due.append(("mid", -1))
    assert ready
    assert ready.pop_due() == ("mid", -1)


def test_waiting_names_everything_held_and_clear_empties_it() -> None:
    ready = queue()
    ready.push(("low", -1))
    ready.due.append(("mid", -1))
    ready.pool_waiting.append(("high", -1))
    assert sorted(ready.waiting()) == [("high", -1), ("low", -1), ("mid", -1)]
    ready.clear()
    assert list(ready.waiting()) == []


def test_a_run_dispatches_by_priority_when_slots_are_scarce() -> None:
    run = Harness(three)
    assert [(i.task_id, i.map_index) for i in run.take(2)] == [("high", -1), ("low", -1)]


def test_a_held_run_dispatches_nothing_and_its_tasks_stay_scheduled() -> None:
    run = Harness(three)
    run.engine.hold()
    assert run.take() == []
    assert run.state("high") == TaskState.SCHEDULED
