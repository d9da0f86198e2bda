"""Branching: a branch task names the downstream tasks to follow; the others are skipped."""

from __future__ import annotations

from collections.abc import Callable

import weir


@weir.task
def work(tag: str = "") -> str:
    return tag


@weir.task(branch=True)
def pick_one() -> str:
    return "left"


@weir.task(branch=True)
def pick_two() -> list[str]:
    return ["left", "middle"]


@weir.task(branch=True)
def pick_unknown() -> str:
    return "nowhere"


@weir.task(branch=True)
def pick_a_number() -> int:
    return 3


def three_ways(branch: weir.Task) -> None:
    choice = branch()
    left = work.options(task_id="left")("L")
    middle = work.options(task_id="middle")("M")
    right = work.options(task_id="right")("R")
    choice >> [left, middle, right]
    work.options(task_id="after_right")(right)
    join = work.options(task_id="join", trigger="none_failed")()
    [left, middle, right] >> join


@weir.flow
def one_way() -> None:
    three_ways(pick_one)


@weir.flow
def two_ways() -> None:
    three_ways(pick_two)


@weir.flow
def bad_way() -> None:
    three_ways(pick_unknown)


@weir.flow
def number_way() -> None:
    three_ways(pick_a_number)


def test_a_branch_returning_one_id_runs_it_and_skips_the_others(store_url: str, states: Callable) -> None:
    run = one_way.run(executor="inline")
    assert states(run) == {
        "pick_one": "success",
        "left": "success",
        "middle": "skipped",
        "right": "skipped",
        "after_right": "skipped",
        "join": "success",
    }
    assert run.state == "success"


def test_a_branch_returning_a_list_runs_each_named_task(store_url: str, states: Callable) -> None:
    run = two_ways.run(executor="inline")
    got = states(run)
    assert (got["left"], got["middle"], got["right"], got["after_right"]) == (
        "success",
        "success",
        "skipped",
        "skipped",
    )
    assert got["join"] == "success"


def test_a_branch_returning_an_unknown_id_fails_with_a_clear_error(store_url: str, states: Callable) -> None:
    run = bad_way.run(executor="inline")
    assert states(run) == {
        "pick_unknown": "failed",
        "left": "upstream_failed",
        "middle": "upstream_failed",
        "right": "upstream_failed",
        "after_right": "upstream_failed",
        "join": "upstream_failed",
    }
    error = run.tries("pick_unknown")[0].error or ""
    assert "'nowhere'" in error
    assert "not its direct downstream tasks" in error
    assert "left, middle, right" in error
    assert run.state == "failed"


def test_a_branch_returning_a_non_id_fails_with_a_clear_error(store_url: str) -> None:
    run = number_way.run(executor="inline")
    error = run.tries("pick_a_number")[0].error or ""
    assert "must return a task id or a list of task ids, not 3" in error
    assert run.state == "failed"


def test_a_branch_task_called_outside_a_flow_is_a_plain_call() -> None:
    assert pick_two() == ["left", "middle"]
