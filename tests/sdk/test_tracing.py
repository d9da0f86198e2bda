"""Tracing a flow body: task calls become nodes, references become edges."""

from __future__ import annotations

import weir
from weir.graph.model import TaskOutput
from weir.graph.triggers import TriggerRule


@weir.task
def extract() -> list[int]:
    return [1, 2, 3]


@weir.task
def square(x: int) -> int:
    return x * x


@weir.task
def combine(values: object, scale: int = 1) -> object:
    return values


@weir.task
def step(name: str = "") -> str:
    return name


def test_each_call_gets_an_id_from_its_task_name_numbered_on_repeats() -> None:
    @weir.flow
    def numbers() -> None:
        xs = extract()
        square(xs)
        square(xs)

    assert list(numbers.graph.nodes) == ["extract", "square", "square__1"]


def test_passing_a_reference_makes_a_data_edge() -> None:
    @weir.flow
    def numbers() -> None:
        square(extract())

    assert numbers.graph.edges == [("extract", "square", "data")]
    assert numbers.graph.nodes["square"].args == (TaskOutput("extract"),)


def test_references_nested_in_lists_and_dicts_make_data_edges() -> None:
    @weir.flow
    def nested() -> None:
        a = step("a")
        b = step("b")
        c = step("c")
        combine([a, {"deep": b}], scale=1)
        combine({"key": [c]})

    graph = nested.graph
    assert graph.nodes["combine"].data_upstream == ("step", "step__1")
    assert graph.nodes["combine__1"].data_upstream == ("step__2",)
    assert graph.nodes["combine"].args == ([TaskOutput("step"), {"deep": TaskOutput("step__1")}],)


def test_a_rshift_b_orders_two_calls_without_data() -> None:
    @weir.flow
    def ordered() -> None:
        a = step.options(task_id="a")()
        b = step.options(task_id="b")()
        a >> b

    assert ordered.graph.edges == [("a", "b", "order")]
    assert ordered.graph.nodes["b"].data_upstream == ()


def test_a_list_rshift_a_call_waits_for_every_call_in_the_list() -> None:
    @weir.flow
    def fan_in() -> None:
        a = step.options(task_id="a")()
        b = step.options(task_id="b")()
        c = step.options(task_id="c")()
        [a, b] >> c

    assert sorted(fan_in.graph.edges) == [("a", "c", "order"), ("b", "c", "order")]


def test_a_call_rshift_a_list_comes_before_every_call_in_the_list() -> None:
    @weir.flow
    def fan_out() -> None:
        a = step.options(task_id="a")()
        b = step.options(task_id="b")()
        c = step.options(task_id="c")()
        a >> [b, c]

    assert sorted(fan_out.graph.edges) == [("a", "b", "order"), ("a", "c", "order")]
    assert next(iter(fan_out.graph.nodes)) == "a"


def test_rshift_chains_left_to_right() -> None:
    @weir.flow
    def chain() -> None:
        a = step.options(task_id="a")()
        b = step.options(task_id="b")()
        c = step.options(task_id="c")()
        a >> b >> c

    assert sorted(chain.graph.edges) == [("a", "b", "order"), ("b", "c", "order")]
    assert list(chain.graph.nodes) == ["a", "b", "c"]


def test_options_override_the_policy_of_one_call_only() -> None:
    @weir.flow
    def tuned() -> None:
        step.options(retries=3, trigger="all_done", task_id="special")()
        step()

    special = tuned.graph.nodes["special"].policy
    plain = tuned.graph.nodes["step"].policy
    assert (special.retry.retries, special.trigger) == (3, TriggerRule.ALL_DONE)
    assert (plain.retry.retries, plain.trigger) == (0, TriggerRule.ALL_SUCCESS)


def test_map_over_a_reference_makes_a_mapped_node_with_fixed_arguments() -> None:
    @weir.flow
    def mapped() -> None:
        combine.map(extract(), scale=2)

    node = mapped.graph.nodes["combine"]
    assert node.mapped
    assert node.map_over == TaskOutput("extract")
    assert dict(node.kwargs) == {"scale": 2}
    assert node.data_upstream == ("extract",)


def test_a_task_called_outside_a_flow_is_a_plain_call() -> None:
    assert square(4) == 16
    assert extract() == [1, 2, 3]


def test_map_outside_a_flow_is_a_list_comprehension() -> None:
    assert square.map([1, 2, 3]) == [1, 4, 9]
    assert combine.map([1, 2], scale=3) == [1, 2]


def test_the_graph_serialises_to_plain_data() -> None:
    @weir.flow
    def numbers() -> int:
        return square(extract())

    data = numbers.graph.to_dict()
    assert data["flow"] == "numbers"
    assert [n["task_id"] for n in data["nodes"]] == ["extract", "square"]
    assert data["edges"] == [["extract", "square", "data"]]
