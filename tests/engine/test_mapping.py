"""Mapped nodes: how many elements a node fans out over, and what a run does with that count."""

from __future__ import annotations

from typing import Any

import weir
from weir.engine.mapping import map_length, sources_of_lengths
from weir.graph.snapshot import FlowSnapshot, snapshot_from_json, snapshot_to_json
from weir.sdk.snapshot import snapshot_of
from weir.states import RunState, TaskState

from .harness import Harness, records_of, ref


@weir.task
def numbers() -> list[int]:
    return [1, 2, 3]


@weir.task
def square(x: int) -> int:
    return x * x


@weir.task
def total(xs: list[int]) -> int:
    return sum(xs)


@weir.flow
def over_upstream() -> None:
    total(square.map(numbers()))


@weir.flow
def over_param(xs: list[int]) -> None:
    total(square.map(xs))


@weir.flow
def over_literal() -> None:
    square.map([1, 2, 3])


@weir.flow
def over_mapped() -> None:
    square.options(task_id="again").map(square.map(numbers()))


@weir.flow
def over_range() -> None:
    square.map(range(4))


@weir.flow
def over_generator() -> None:
    square.map(i for i in range(3))


def stored(flow: weir.Flow) -> FlowSnapshot:
    """The snapshot as read back from the store: constants without JSON form are ``Opaque``."""
    return snapshot_from_json(snapshot_to_json(snapshot_of(flow)))


def length(
    flow: weir.Flow | FlowSnapshot,
    task_id: str = "square",
    *,
    lengths: dict[str, int] | None = None,
    params: dict[str, Any] | None = None,
    map_counts: dict[str, int] | None = None,
) -> int | str:
    graph = (flow if isinstance(flow, FlowSnapshot) else snapshot_of(flow)).graph
    task_runs = {r.key: r for r in records_of(flow)}
    for task, count in (map_counts or {}).items():
        task_runs[(task, -1)].map_count = count
    return map_length(graph.nodes[task_id], graph, task_runs, lengths or {}, params or {})


def test_the_length_of_an_upstream_result_is_the_length_it_reported() -> None:
    assert length(over_upstream, lengths={"numbers": 3}) == 3


def test_an_upstream_that_reported_no_length_cannot_be_mapped_over() -> None:
    assert length(over_upstream) == "task 'numbers' did not produce a list to map over"


def test_an_upstream_mapped_node_gives_its_element_count() -> None:
    assert length(over_mapped, "again", map_counts={"square": 4}) == 4


def test_a_param_gives_its_length() -> None:
    assert length(over_param, params={"xs": [5, 6]}) == 2


def test_a_param_that_is_not_a_list_is_refused_with_its_type() -> None:
    assert length(over_param, params={"xs": 5}) == "cannot map over a int: give a list"


def test_a_literal_gives_its_length() -> None:
    assert length(over_literal) == 3


def test_a_stored_constant_with_a_length_gives_it() -> None:
    assert length(stored(over_range)) == 4


def test_a_stored_constant_without_a_length_is_refused_with_its_type() -> None:
    assert length(stored(over_generator)) == "cannot map over a builtins.generator: give a list"


def test_a_plain_node_mapped_over_must_report_its_length() -> None:
    assert sources_of_lengths(snapshot_of(over_upstream).graph) == {"numbers"}
    assert sources_of_lengths(snapshot_of(over_literal).graph) == frozenset()


def test_a_mapped_node_fans_out_over_the_length_its_source_reported() -> None:
    run = Harness(over_upstream)
    (item,) = run.take()
    assert item.report_length
    run.succeed(item, [1, 2, 3], length=3)
    assert sorted(i.map_index for i in run.take()) == [0, 1, 2]
    assert [r.key for r in run.drain().new_task_runs] == [("square", 0), ("square", 1), ("square", 2)]
    assert run.record("square").map_count == 3


def test_a_mapped_node_succeeds_with_its_last_element_and_passes_every_result_on() -> None:
    run = Harness(over_param, params={"xs": [1, 2]})
    first, second = run.take()
    run.succeed(second, 4)
    assert run.state("square") == TaskState.RUNNING
    run.succeed(first, 1)
    assert run.state("square") == TaskState.SUCCESS
    assert run.take_one("total").inputs == {"square": [ref(1), ref(4)]}


def test_a_zero_element_map_succeeds_at_once() -> None:
    run = Harness(over_param, params={"xs": []})
    assert (run.state("square"), run.record("square").map_count) == (TaskState.SUCCESS, 0)
    assert run.take_one("total").inputs == {"square": []}


def test_a_map_over_a_non_list_fails_the_node_with_the_reason() -> None:
    run = Harness(over_param, params={"xs": 5})
    assert run.state("square") == TaskState.FAILED
    assert run.state("total") == TaskState.UPSTREAM_FAILED
    assert run.run_state == RunState.FAILED
    (event,) = [e for e in run.drain().events if (e.task_id, e.to_state) == ("square", TaskState.FAILED)]
    assert event.reason == "cannot map over a int: give a list"


def test_a_failed_element_fails_the_mapped_node_once_every_element_ended() -> None:
    run = Harness(over_param, params={"xs": [1, 2]})
    first, second = run.take()
    run.fail(first)
    assert run.state("square") == TaskState.RUNNING
    run.succeed(second, 4)
    assert (run.state("square"), run.state("total")) == (TaskState.FAILED, TaskState.UPSTREAM_FAILED)
