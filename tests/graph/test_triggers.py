"""decide(): the trigger rules on the states of the upstream tasks (Airflow's, with the deviations
docs/concepts.md lists)."""

from __future__ import annotations

import pytest

from weir.graph.triggers import Decision, TriggerRule, decide
from weir.states import TaskState

OK = TaskState.SUCCESS
FAILED = TaskState.FAILED
UPSTREAM_FAILED = TaskState.UPSTREAM_FAILED
SKIPPED = TaskState.SKIPPED

RUN, SKIP, WAIT, UP_FAILED = Decision.RUN, Decision.SKIP, Decision.WAIT, Decision.UPSTREAM_FAILED


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_a_task_without_upstream_always_runs(rule: TriggerRule) -> None:
    assert decide(rule, [], 0) == RUN


@pytest.mark.parametrize(
    ("rule", "upstream", "expected"),
    [
        # all_success: everything succeeded; a failure fails it, a skip skips it
        ("all_success", [OK, OK], RUN),
        ("all_success", [OK, FAILED], UP_FAILED),
        ("all_success", [OK, UPSTREAM_FAILED], UP_FAILED),
        ("all_success", [OK, SKIPPED], SKIP),
        # all_done: runs whatever happened
        ("all_done", [FAILED, SKIPPED], RUN),
        ("all_done", [OK, OK], RUN),
        # all_failed: every upstream failed, else skipped
        ("all_failed", [FAILED, UPSTREAM_FAILED], RUN),
        ("all_failed", [FAILED, OK], SKIP),
        ("all_failed", [SKIPPED, SKIPPED], SKIP),
        # one_success: one success is enough; none at all is a skip, all failed an upstream failure
        ("one_success", [OK, FAILED], RUN),
        ("one_success", [SKIPPED, FAILED], SKIP),
        ("one_success", [FAILED, FAILED], UP_FAILED),
        # one_failed: one failure is enough; none is a skip
        ("one_failed", [OK, FAILED], RUN),
        ("one_failed", [OK, SKIPPED], SKIP),
        # none_failed: success or skipped upstream
        ("none_failed", [OK, SKIPPED], RUN),
        ("none_failed", [OK, FAILED], UP_FAILED),
        ("none_failed", [SKIPPED, SKIPPED], RUN),
        # none_skipped: anything but a skip
        ("none_skipped", [OK, FAILED], RUN),
        ("none_skipped", [OK, SKIPPED], SKIP),
        # always
        ("always", [FAILED, FAILED], RUN),
        ("always", [SKIPPED, UPSTREAM_FAILED], RUN),
    ],
)
def test_a_rule_decides_once_every_upstream_is_done(
    rule: str, upstream: list[TaskState], expected: Decision
) -> None:
    assert decide(TriggerRule(rule), upstream, len(upstream)) == expected


@pytest.mark.parametrize(
    ("rule", "done"),
    [
        ("all_success", OK),
        ("all_done", OK),
        ("all_done", FAILED),
        ("all_failed", FAILED),
        ("none_failed", OK),
        ("none_failed", SKIPPED),
        ("none_skipped", OK),
        ("none_skipped", FAILED),
        ("always", FAILED),
    ],
)
def test_a_rule_waits_while_an_upstream_runs_as_long_as_its_outcome_is_uncertain(
    rule: str, done: TaskState
) -> None:
    assert decide(TriggerRule(rule), [done], 2) == WAIT


@pytest.mark.parametrize(
    ("rule", "done", "expected"),
    [
        ("all_success", FAILED, UP_FAILED),
        ("all_success", UPSTREAM_FAILED, UP_FAILED),
        ("all_success", SKIPPED, SKIP),
        ("all_failed", OK, SKIP),
        ("all_failed", SKIPPED, SKIP),
        ("none_failed", FAILED, UP_FAILED),
        ("none_skipped", SKIPPED, SKIP),
    ],
)
def test_a_rule_decides_the_moment_its_outcome_is_certain_as_airflow_does(
    rule: str, done: TaskState, expected: Decision
) -> None:
    assert decide(TriggerRule(rule), [done], 3) == expected


def test_one_success_fires_on_the_first_success_without_waiting() -> None:
    assert decide(TriggerRule.ONE_SUCCESS, [OK], 3) == RUN
    assert decide(TriggerRule.ONE_SUCCESS, [FAILED], 3) == WAIT


def test_one_failed_fires_on_the_first_failure_without_waiting() -> None:
    assert decide(TriggerRule.ONE_FAILED, [UPSTREAM_FAILED], 3) == RUN
    assert decide(TriggerRule.ONE_FAILED, [OK], 3) == WAIT


def test_a_cancelled_upstream_counts_as_a_failure() -> None:
    assert decide(TriggerRule.ALL_SUCCESS, [TaskState.CANCELLED], 1) == UP_FAILED
    assert decide(TriggerRule.ALL_FAILED, [TaskState.CANCELLED], 1) == RUN


def test_the_rules_are_the_eight_airflow_rules() -> None:
    assert {r.value for r in TriggerRule} == {
        "all_success",
        "all_done",
        "all_failed",
        "one_success",
        "one_failed",
        "none_failed",
        "none_skipped",
        "always",
    }
