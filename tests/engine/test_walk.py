"""Walking a run's graph forward: failures and skips flow downstream, branches choose, mapped
nodes fan out (again, when cleared), and the run ends with its callbacks."""

from __future__ import annotations

import weir
from weir.executors.base import Outcome, WorkKind
from weir.states import RunState, TaskState
from weir.store.records import TaskRunRecord

from .harness import Harness, cache_entry, done_try, records_of, ref


@weir.task
def step(x: object = None) -> object:
    return x


@weir.task(branch=True)
def choose() -> str:
    return "left"


@weir.task(branch=True, cache=True)
def choose_once() -> str:
    return "left"


@weir.task
def square(x: int) -> int:
    return x * x


def shout(ctx: object) -> None:
    return None


@weir.flow(on_failure=shout)
def cascade() -> None:
    a = step.options(task_id="a")()
    b = step.options(task_id="b")(a)
    step.options(task_id="c")(b)
    step.options(task_id="cleanup", trigger="all_done")(a)


@weir.flow
def branching() -> None:
    pick = choose()
    left = step.options(task_id="left")()
    right = step.options(task_id="right")()
    pick >> [left, right]
    step.options(task_id="after_right")(right)


@weir.flow
def cached_branching() -> None:
    choose_once() >> [step.options(task_id="left")(), step.options(task_id="right")()]


@weir.flow
def mapped() -> None:
    step.options(task_id="total")(square.map([1, 2, 3]))


def elements(states: list[str]) -> list[TaskRunRecord]:
    """The task runs of ``mapped`` with ``square`` fanned out over elements in ``states``."""
    records = records_of(mapped)
    records[0].map_count = len(states)
    for i, state in enumerate(states):
        records.append(TaskRunRecord(run_id=1, task_id="square", map_index=i, state=state, try_number=1))
    return records


def test_a_failure_makes_every_task_after_it_upstream_failed_and_fails_the_run() -> None:
    run = Harness(cascade)
    run.fail(run.take_one("a"))
    assert (run.state("b"), run.state("c")) == (TaskState.UPSTREAM_FAILED, TaskState.UPSTREAM_FAILED)
    run.succeed(run.take_one("cleanup"))
    assert (run.run_state, run.engine.reason) == (RunState.FAILED, "task(s) failed: a")


def test_a_failed_run_calls_the_flows_failure_callbacks() -> None:
    run = Harness(cascade)
    run.fail(run.take_one("a"))
    run.succeed(run.take_one("cleanup"))
    (callback,) = run.take()
    assert (callback.kind, callback.callback and callback.callback.event) == (WorkKind.CALLBACK, "failure")


def test_a_cancelled_run_calls_no_flow_callbacks() -> None:
    run = Harness(cascade)
    item = run.take_one("a")
    run.engine.cancel("by hand")
    run.finish(item, Outcome.CANCELLED)
    assert run.run_state == RunState.CANCELLED
    assert run.take() == [] and run.engine.finished


def test_the_child_a_branch_did_not_choose_is_skipped_and_so_is_what_follows_it() -> None:
    run = Harness(branching)
    run.succeed(run.take_one("choose"), "left", branch=("left",))
    assert [i.task_id for i in run.take()] == ["left"]
    assert (run.state("right"), run.state("after_right")) == (TaskState.SKIPPED, TaskState.SKIPPED)


def test_a_branch_taken_up_again_follows_the_one_id_it_returned() -> None:
    records = records_of(branching)
    records[0].state, records[0].try_number = TaskState.SUCCESS, 1
    tried = [done_try("choose", "left")]  # a branch task may return one id as a plain string
    run = Harness(branching, records=records, tried=tried, run_state="running")
    assert [i.task_id for i in run.take()] == ["left"]
    assert run.state("right") == TaskState.SKIPPED


def test_a_branch_answered_from_the_cache_follows_the_choice_it_kept() -> None:
    run = Harness(cached_branching)
    run.take()
    (probe,) = run.engine.cache.take_probes()
    run.engine.on_cache(probe, cache_entry(probe.key, "left", task_id="choose_once"))
    assert [i.task_id for i in run.take()] == ["left"]
    assert run.state("right") == TaskState.SKIPPED


def test_a_mapped_node_makes_one_task_run_per_element() -> None:
    run = Harness(mapped)
    assert sorted(i.map_index for i in run.take()) == [0, 1, 2]
    assert run.record("square", 2).max_tries == 1


def test_a_cleared_mapped_node_runs_only_its_cleared_elements() -> None:
    records = elements([TaskState.SUCCESS, TaskState.PENDING, TaskState.SUCCESS])
    run = Harness(mapped, records=records, tried=[done_try("square", i, map_index=i) for i in (0, 2)])
    (item,) = run.take()
    assert (item.map_index, item.try_number) == (1, 2)
    run.succeed(item, 1)
    assert run.state("square") == TaskState.SUCCESS
    assert run.take_one("total").inputs == {"square": [ref(0), ref(1), ref(2)]}


def test_a_mapped_node_taken_up_again_dispatches_its_lost_element_and_keeps_the_rest() -> None:
    records = elements([TaskState.SUCCESS, TaskState.QUEUED, TaskState.SUCCESS])
    records[0].state = TaskState.RUNNING
    tried = [done_try("square", i, map_index=i) for i in (0, 2)]
    run = Harness(mapped, records=records, tried=tried, run_state="running")
    (item,) = run.take()
    assert (item.map_index, item.try_number) == (1, 2)
    run.succeed(item, 1)
    assert run.take_one("total").inputs == {"square": [ref(0), ref(1), ref(2)]}


def test_a_cancelled_mapped_node_ends_cancelled_once_its_elements_in_flight_stop() -> None:
    run = Harness(mapped)
    first, second = run.take(2)
    assert sorted(run.engine.cancel("by hand")) == sorted([first.key, second.key])
    assert run.state("square", 2) == TaskState.CANCELLED
    run.finish(first, Outcome.CANCELLED)
    assert run.state("square") == TaskState.RUNNING
    run.finish(second, Outcome.CANCELLED)
    assert (run.state("square"), run.state("total"), run.run_state) == (
        TaskState.CANCELLED,
        TaskState.CANCELLED,
        RunState.CANCELLED,
    )
