"""Mapped tasks: one task run per element of a list known at run time, one list downstream."""

from __future__ import annotations

from collections.abc import Callable

import weir
from weir.store import tasks as queries
from weir.store.db import get_engine


@weir.task
def numbers(n: int = 3) -> list[int]:
    return list(range(1, n + 1))


@weir.task
def square(x: int, offset: int = 0) -> int:
    return x * x + offset


@weir.task
def total(xs: list[int]) -> int:
    return sum(xs)


@weir.task
def echo(value: object) -> object:
    return value


@weir.task
def fragile(x: int) -> int:
    if x == 2:
        raise ValueError("two is not allowed")
    return x


@weir.task
def scalar() -> int:
    return 7


@weir.flow
def over_upstream(n: int = 3) -> object:
    return total(square.map(numbers(n), offset=1))


@weir.flow
def over_literal() -> object:
    return square.map([2, 3])


@weir.flow
def over_param(xs: list[int]) -> object:
    return square.map(xs)


@weir.flow
def over_empty(n: int = 0) -> object:
    return echo(square.map(numbers(n)))


@weir.flow
def with_failing_element() -> object:
    return total(fragile.map([1, 2, 3]))


@weir.flow
def over_a_scalar() -> object:
    return total(square.map(scalar()))


@weir.flow
def over_a_literal_scalar() -> object:
    return total(square.map(5))


@weir.flow
def chained(n: int = 3) -> object:
    return total(square.map(square.map(numbers(n))))


def test_a_map_over_an_upstream_list_runs_once_per_element(store_url: str, states: Callable) -> None:
    run = over_upstream.run(executor="inline", n=3)
    assert run.result() == (1 + 1) + (4 + 1) + (9 + 1)
    got = states(run)
    assert {k: v for k, v in got.items() if k.startswith("square")} == {
        "square": "success",
        "square[0]": "success",
        "square[1]": "success",
        "square[2]": "success",
    }
    assert run.task_run("square").map_count == 3
    assert run.task_result("square", 2) == 10


def test_a_map_over_a_literal_list(store_url: str) -> None:
    run = over_literal.run(executor="inline")
    assert run.result() == [4, 9]


def test_a_map_over_a_param_list(store_url: str) -> None:
    run = over_param.run(executor="inline", xs=["1", 2, 3])
    assert run.result() == [1, 4, 9]


def test_a_map_over_an_empty_list_succeeds_with_no_elements(store_url: str, states: Callable) -> None:
    run = over_empty.run(executor="inline")
    assert states(run) == {"numbers": "success", "square": "success", "echo": "success"}
    assert run.task_run("square").map_count == 0
    assert run.result() == []


def test_a_failing_element_fails_the_mapped_node_and_downstream_is_upstream_failed(
    store_url: str, states: Callable
) -> None:
    run = with_failing_element.run(executor="inline")
    assert states(run) == {
        "fragile": "failed",
        "fragile[0]": "success",
        "fragile[1]": "failed",
        "fragile[2]": "success",
        "total": "upstream_failed",
    }
    assert run.state == "failed"
    assert "two is not allowed" in (run.tries("fragile")[1].error or "")


def test_mapping_over_an_upstream_that_is_not_a_list_fails_clearly(store_url: str, states: Callable) -> None:
    run = over_a_scalar.run(executor="inline")
    assert states(run) == {"scalar": "failed", "square": "upstream_failed", "total": "upstream_failed"}
    assert "return a list" in (run.tries("scalar")[0].error or "")


def test_mapping_over_a_literal_that_is_not_a_list_fails_the_mapped_node(
    store_url: str, states: Callable
) -> None:
    run = over_a_literal_scalar.run(executor="inline")
    assert states(run) == {"square": "failed", "total": "upstream_failed"}
    with get_engine(store_url).connect() as conn:
        reasons = [e.reason for e in queries.get_events(conn, run.id) if e.task_id == "square"]
    assert "cannot map over a int: give a list" in reasons


def test_a_map_over_a_mapped_task_chains_element_by_element(store_url: str, states: Callable) -> None:
    run = chained.run(executor="inline", n=3)
    assert run.result() == 1 + 16 + 81
    assert run.task_run("square__1").map_count == 3
    assert states(run)["square__1[2]"] == "success"
