"""Outcome rules as tables: facts in, a verdict out, and every row of every table reached."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from weir.engine.outcomes import (
    MAPPED_RULES,
    RUN_RULES,
    TRY_RULES,
    RunEnd,
    StopReason,
    TryEnd,
    Verdict,
    judge,
    mapped_state,
    run_end,
    run_outcome,
)
from weir.executors.base import Outcome
from weir.states import RunState, TaskState


def first_row(rules: Sequence[tuple[Callable[[Any], bool], Any]], facts: Any) -> int:
    """The index of the row that decides ``facts``."""
    return next(i for i, (condition, _) in enumerate(rules) if condition(facts))


OK, FAILED, LOST, CANCELLED = Outcome.SUCCESS, Outcome.FAILED, Outcome.LOST, Outcome.CANCELLED
CANCEL, TIMEOUT = StopReason.CANCEL, StopReason.TIMEOUT

TRY_CASES = [
    pytest.param(TryEnd(outcome=OK), Verdict.SUCCEEDED, 0, id="success"),
    pytest.param(TryEnd(outcome=OK, stopped_for=CANCEL), Verdict.SUCCEEDED, 0, id="success-before-stop"),
    pytest.param(
        TryEnd(outcome=FAILED, stopped_for=CANCEL, tries_left=True), Verdict.CANCELLED, 1, id="cancel"
    ),
    pytest.param(TryEnd(outcome=CANCELLED, tries_left=True), Verdict.CANCELLED, 2, id="cancelled-elsewhere"),
    pytest.param(
        TryEnd(outcome=FAILED, tries_left=True, run_stopping=True), Verdict.FAILED, 3, id="run-stops"
    ),
    pytest.param(
        TryEnd(outcome=CANCELLED, stopped_for=TIMEOUT, tries_left=True, run_stopping=True),
        Verdict.FAILED,
        3,
        id="timeout-while-run-stops",
    ),
    pytest.param(
        TryEnd(outcome=FAILED, retryable=False, tries_left=True), Verdict.FAILED, 4, id="not-retryable"
    ),
    pytest.param(TryEnd(outcome=LOST), Verdict.FAILED, 5, id="no-tries-left"),
    pytest.param(TryEnd(outcome=FAILED, tries_left=True), Verdict.RETRY, 6, id="retry"),
    pytest.param(TryEnd(outcome=LOST, tries_left=True), Verdict.RETRY, 6, id="lost-retry"),
    pytest.param(
        TryEnd(outcome=CANCELLED, stopped_for=TIMEOUT, tries_left=True), Verdict.RETRY, 6, id="timeout-retry"
    ),
]

S, F, UF, C, SK, CA = (
    TaskState.SUCCESS,
    TaskState.FAILED,
    TaskState.UPSTREAM_FAILED,
    TaskState.CANCELLED,
    TaskState.SKIPPED,
    TaskState.CACHED,
)

MAPPED_CASES = [
    pytest.param([S, F, C], F, 0, id="a-failure-wins"),
    pytest.param([S, UF], F, 0, id="upstream-failed-element"),
    pytest.param([S, C, SK], C, 1, id="a-cancel"),
    pytest.param([S, CA, SK], S, 2, id="successes-and-skips"),
    pytest.param([], S, 2, id="no-elements"),
]

RUN_CASES = [
    pytest.param(
        RunEnd(failed=("a",), cancelled=(), stopped=RunState.FAILED, stop_reason="timed out"),
        (RunState.FAILED, "timed out"),
        0,
        id="timed-out",
    ),
    pytest.param(
        RunEnd(failed=(), cancelled=("a",), stopped=RunState.CANCELLED, stop_reason="by hand"),
        (RunState.CANCELLED, "by hand"),
        0,
        id="cancelled-by-hand",
    ),
    pytest.param(
        RunEnd(failed=("a", "b"), cancelled=("c",)),
        (RunState.FAILED, "task(s) failed: a, b"),
        1,
        id="failed-tasks",
    ),
    pytest.param(
        RunEnd(failed=(), cancelled=("c",)),
        (RunState.CANCELLED, "task(s) cancelled: c"),
        2,
        id="cancelled-tasks",
    ),
    pytest.param(RunEnd(failed=(), cancelled=()), (RunState.SUCCESS, None), 3, id="success"),
]


@pytest.mark.parametrize(("facts", "verdict", "row"), TRY_CASES)
def test_a_try_end_gets_the_verdict_of_the_first_row_that_holds(
    facts: TryEnd, verdict: Verdict, row: int
) -> None:
    assert judge(facts) == verdict
    assert first_row(TRY_RULES, facts) == row


@pytest.mark.parametrize(("elements", "state", "row"), MAPPED_CASES)
def test_a_mapped_node_ends_as_the_first_row_over_its_elements_says(
    elements: list[TaskState], state: TaskState, row: int
) -> None:
    assert mapped_state(elements) == state
    assert first_row(MAPPED_RULES, elements) == row


@pytest.mark.parametrize(("facts", "outcome", "row"), RUN_CASES)
def test_a_run_ends_as_the_first_row_over_its_nodes_says(
    facts: RunEnd, outcome: tuple[RunState, str | None], row: int
) -> None:
    assert run_outcome(facts) == outcome
    assert first_row(RUN_RULES, facts) == row


@pytest.mark.parametrize(
    ("rules", "cases"), [(TRY_RULES, TRY_CASES), (MAPPED_RULES, MAPPED_CASES), (RUN_RULES, RUN_CASES)]
)
def test_every_row_of_every_table_is_reached_by_a_case(rules: tuple[Any, ...], cases: list[Any]) -> None:
    assert {case.values[2] for case in cases} == set(range(len(rules)))


def test_a_run_end_names_the_failed_nodes_not_those_upstream_failed_after_them() -> None:
    end = run_end([("a", F), ("b", UF), ("c", S)], None, None)
    assert end.failed == ("a",)


def test_a_run_end_names_the_upstream_failed_nodes_when_none_failed_itself() -> None:
    end = run_end([("a", UF), ("b", SK), ("c", C)], None, None)
    assert (end.failed, end.cancelled) == (("a",), ("c",))


def test_a_run_end_carries_the_stop_it_was_given() -> None:
    end = run_end([("a", C)], RunState.CANCELLED, "by hand")
    assert run_outcome(end) == (RunState.CANCELLED, "by hand")


def test_a_successful_run_says_how_its_tasks_ended() -> None:
    both = run_end([("a", S), ("b", S)], None, None)
    assert run_outcome(both) == (RunState.SUCCESS, "all 2 tasks succeeded")
    mixed = run_end([("a", S), ("b", SK), ("c", TaskState.CACHED), ("d", SK)], None, None)
    assert run_outcome(mixed) == (RunState.SUCCESS, "4 tasks: 1 succeeded, 1 cached, 2 skipped")
    assert run_outcome(run_end([], None, None)) == (RunState.SUCCESS, "no tasks to run")
