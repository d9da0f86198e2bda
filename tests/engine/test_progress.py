"""Progress: which nodes have finished, what that decides for the nodes after them, and when a
run can end."""

from __future__ import annotations

import weir
from weir.engine.progress import Progress
from weir.graph.triggers import Decision
from weir.sdk.snapshot import snapshot_of
from weir.states import RunState, TaskState
from weir.store.records import TaskRunRecord

from .harness import Harness, records_of


@weir.task
def step(x: object = None) -> object:
    return x


@weir.task(branch=True)
def choose() -> str:
    return "left"


@weir.flow
def fan_in() -> None:
    a = step.options(task_id="a")()
    b = step.options(task_id="b")()
    step.options(task_id="c")([a, b])


@weir.flow
def branching() -> None:
    pick = choose()
    pick >> [step.options(task_id="left")(), step.options(task_id="right")()]


@weir.flow
def mapped() -> None:
    step.map([1, 2])


def progress_of(flow: weir.Flow, records: list[TaskRunRecord] | None = None) -> Progress:
    graph = snapshot_of(flow).graph
    progress = Progress(graph)
    progress.restore(records if records is not None else records_of(flow))
    return progress


def test_a_node_waits_for_its_last_upstream_then_runs() -> None:
    progress = progress_of(fan_in)
    c = progress.graph.nodes["c"]
    progress.node_done("a", TaskState.SUCCESS)
    assert progress.decide(c) == Decision.WAIT
    progress.node_done("b", TaskState.SUCCESS)
    assert progress.decide(c) == Decision.RUN


def test_a_finished_node_names_its_downstream_nodes() -> None:
    assert progress_of(fan_in).node_done("a", TaskState.SUCCESS) == ["c"]


def test_all_success_becomes_upstream_failed_when_an_upstream_fails() -> None:
    progress = progress_of(fan_in)
    progress.node_done("a", TaskState.SUCCESS)
    progress.node_done("b", TaskState.FAILED)
    assert progress.decide(progress.graph.nodes["c"]) == Decision.UPSTREAM_FAILED


def test_an_upstream_recorded_twice_is_counted_once() -> None:
    progress = progress_of(fan_in)
    progress.record_upstream("c", "a", TaskState.SUCCESS)
    progress.record_upstream("c", "a", TaskState.SUCCESS)
    assert progress.decide(progress.graph.nodes["c"]) == Decision.WAIT


def test_a_branch_skips_the_child_it_did_not_choose() -> None:
    progress = progress_of(branching)
    progress.followed["choose"] = frozenset({"left"})
    progress.node_done("choose", TaskState.SUCCESS)
    assert progress.decide(progress.graph.nodes["right"]) == Decision.SKIP
    assert progress.decide(progress.graph.nodes["left"]) == Decision.RUN
    assert progress.not_followed("choose", "right") and not progress.not_followed("choose", "left")


def test_a_failed_branch_chose_nothing_and_its_children_are_upstream_failed() -> None:
    progress = progress_of(branching)
    progress.node_done("choose", TaskState.FAILED)
    assert not progress.not_followed("choose", "left")
    assert progress.decide(progress.graph.nodes["left"]) == Decision.UPSTREAM_FAILED


def test_restore_counts_the_upstream_nodes_already_finished() -> None:
    records = records_of(fan_in)
    records[0].state = records[1].state = TaskState.SUCCESS
    progress = progress_of(fan_in, records)
    assert progress.decide(progress.graph.nodes["c"]) == Decision.RUN
    assert progress.open_nodes == 1


def test_open_nodes_count_only_nodes_that_are_not_final() -> None:
    progress = progress_of(fan_in)
    a = TaskRunRecord(run_id=1, task_id="a")
    element = TaskRunRecord(run_id=1, task_id="c", map_index=0)
    assert progress.open_nodes == 3
    progress.moved(a, TaskState.PENDING, TaskState.SCHEDULED)
    progress.moved(element, TaskState.RUNNING, TaskState.SUCCESS)
    assert progress.open_nodes == 3
    progress.moved(a, TaskState.RUNNING, TaskState.SUCCESS)
    assert progress.open_nodes == 2
    progress.moved(a, TaskState.SUCCESS, TaskState.PENDING)  # cleared to run again
    assert progress.open_nodes == 3


def test_the_last_element_of_a_mapped_node_says_so() -> None:
    records = [TaskRunRecord(run_id=1, task_id="step", state=TaskState.RUNNING, map_count=2)]
    records += [
        TaskRunRecord(run_id=1, task_id="step", map_index=i, state=TaskState.SCHEDULED) for i in (0, 1)
    ]
    progress = progress_of(mapped, records)
    assert progress.elements_left == {"step": 2}
    assert progress.element_done("step") is False
    assert progress.element_done("step") is True


def test_open_nodes_reach_zero_exactly_when_the_run_ends() -> None:
    run = Harness(fan_in)
    for task_id in ("a", "b"):
        run.succeed(run.take_one(task_id))
    assert (run.engine.progress.open_nodes, run.run_state) == (1, RunState.RUNNING)
    run.succeed(run.take_one("c"))
    assert (run.engine.progress.open_nodes, run.run_state) == (0, RunState.SUCCESS)


def test_a_node_is_ready_in_the_step_its_last_upstream_succeeds() -> None:
    run = Harness(fan_in)
    a, b = run.take()
    run.succeed(a)
    assert run.state("c") == TaskState.PENDING
    run.succeed(b)
    assert [i.task_id for i in run.take()] == ["c"]
