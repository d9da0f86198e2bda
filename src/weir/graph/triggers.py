"""Trigger rules: when a task runs, given the states of its upstream task runs.

:func:`decide` is pure: the engine calls it with the final states of a node's upstream nodes
seen so far and gets one decision, as soon as the outcome is certain (as Airflow decides):
``all_success`` is upstream-failed the moment one upstream fails, ``all_failed`` skipped the
moment one succeeds, without waiting for the others. Where weir's rules differ from Airflow's
on purpose, docs/concepts.md lists the differences ("Trigger rules").
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from weir.states import TASK_SUCCESSES, TaskState


class TriggerRule(StrEnum):
    """When a task may run, in terms of its upstream tasks' states."""

    ALL_SUCCESS = "all_success"
    ALL_DONE = "all_done"
    ALL_FAILED = "all_failed"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    NONE_FAILED = "none_failed"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"


class Decision(StrEnum):
    """What to do with a pending task run."""

    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


_FAIL = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED})


def decide(rule: TriggerRule, upstream: Collection[TaskState], total: int) -> Decision:
    """Decide a pending task run's fate.

    Args:
        rule: the task's trigger rule.
        upstream: the terminal states of the upstream nodes that have finished so far.
        total: how many upstream nodes there are.

    A node with no upstream always runs. Each rule decides the moment its outcome is certain:
    ``one_success``/``one_failed`` run when one upstream matches; ``all_success`` and
    ``none_failed`` are upstream-failed when one upstream failed; ``all_success`` and
    ``none_skipped`` are skipped when one was skipped; ``all_failed`` is skipped when one
    succeeded or was skipped; otherwise a rule waits until every upstream is done.
    """
    return decide_counts(rule, UpstreamCounts.of(upstream), total)


class UpstreamCounts:
    """How many of a node's upstream nodes have finished, and how: kept up to date as they
    finish, so deciding is O(1) however wide the fan-in."""

    __slots__ = ("done", "failed", "ok", "skipped")

    def __init__(self) -> None:
        self.done = self.ok = self.failed = self.skipped = 0

    def add(self, state: TaskState) -> None:
        self.done += 1
        if state in TASK_SUCCESSES:
            self.ok += 1
        elif state in _FAIL:
            self.failed += 1
        elif state == TaskState.SKIPPED:
            self.skipped += 1

    @classmethod
    def of(cls, states: Collection[TaskState]) -> UpstreamCounts:
        counts = cls()
        for state in states:
            counts.add(state)
        return counts


def decide_counts(rule: TriggerRule, counts: UpstreamCounts, total: int) -> Decision:
    """:func:`decide` from counts of the finished upstream nodes' states."""
    if total == 0:
        return Decision.RUN
    done, ok, failed, skipped = counts.done, counts.ok, counts.failed, counts.skipped
    all_done = done >= total
    if rule == TriggerRule.ONE_SUCCESS:
        if ok:
            return Decision.RUN
        if not all_done:
            return Decision.WAIT
        return Decision.UPSTREAM_FAILED if failed == total else Decision.SKIP
    if rule == TriggerRule.ONE_FAILED:
        if failed:
            return Decision.RUN
        return Decision.SKIP if all_done else Decision.WAIT
    if rule == TriggerRule.ALL_SUCCESS:
        if failed:
            return Decision.UPSTREAM_FAILED
        if skipped:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    if rule == TriggerRule.ALL_FAILED:
        if ok or skipped:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    if rule == TriggerRule.NONE_FAILED:
        if failed:
            return Decision.UPSTREAM_FAILED
        return Decision.RUN if all_done else Decision.WAIT
    if rule == TriggerRule.NONE_SKIPPED:
        if skipped:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    if rule in (TriggerRule.ALL_DONE, TriggerRule.ALWAYS):
        return Decision.RUN if all_done else Decision.WAIT
    raise AssertionError(f"unhandled trigger rule {rule}")
