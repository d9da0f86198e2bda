"""weir.context(): what a running task knows about itself."""

from __future__ import annotations

import pytest

import weir
from weir.errors import ContextError


@weir.task
def introspect(x: int = 0) -> dict[str, object]:
    ctx = weir.context()
    return {
        "flow": ctx.flow_name,
        "run_id": ctx.run_id,
        "task_id": ctx.task_id,
        "map_index": ctx.map_index,
        "try_number": ctx.try_number,
        "params": dict(ctx.params),
    }


@weir.flow
def aware(size: int = 2) -> object:
    return introspect()


@weir.flow
def aware_mapped(size: int = 2) -> object:
    return introspect.map([10, 20])


def test_a_task_sees_its_run_task_try_and_params(store_url: str) -> None:
    run = aware.run(executor="inline", size="3")
    assert run.result() == {
        "flow": "aware",
        "run_id": run.id,
        "task_id": "introspect",
        "map_index": -1,
        "try_number": 1,
        "params": {"size": 3},
    }


def test_each_mapped_element_sees_its_own_map_index(store_url: str) -> None:
    run = aware_mapped.run(executor="inline")
    assert [r["map_index"] for r in run.result()] == [0, 1]
    assert {r["task_id"] for r in run.result()} == {"introspect"}


def test_context_outside_a_task_raises_context_error() -> None:
    with pytest.raises(ContextError, match="outside a running task"):
        weir.context()


def test_context_in_a_plain_call_of_a_task_raises_context_error() -> None:
    with pytest.raises(ContextError):
        introspect()


def test_the_context_is_gone_after_the_task_ends(store_url: str) -> None:
    aware.run(executor="inline")
    with pytest.raises(ContextError):
        weir.context()
