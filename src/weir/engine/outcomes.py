"""Outcome rules as tables: what a try's end makes of its task run, what a mapped node's
elements make of the node, and what the nodes make of the run.

Each table is a tuple of (condition, verdict) rows read top to bottom; the first row whose
condition holds decides. The rows are the whole of the rules: nothing else in the engine
decides an outcome.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum

from weir.executors.base import Outcome
from weir.states import TASK_FAILURES, RunState, TaskState


class StopReason(StrEnum):
    """Why the engine asked the executor to stop a try."""

    CANCEL = "cancel"
    TIMEOUT = "timeout"


class Verdict(StrEnum):
    """What becomes of a task run whose try ended."""

    SUCCEEDED = "succeeded"
    CANCELLED = "cancelled"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class TryEnd:
    """The facts a try's end is judged on.

    Attributes:
        outcome: what the executor reported.
        stopped_for: why the engine stopped the try, if it did.
        retryable: the task's retry rules allow a retry of this error.
        tries_left: the task run has tries left.
        run_stopping: the run is being stopped (cancelled, timed out): nothing is retried.
    """

    outcome: Outcome
    stopped_for: StopReason | None = None
    retryable: bool = True
    tries_left: bool = False
    run_stopping: bool = False


TRY_RULES: tuple[tuple[Callable[[TryEnd], bool], Verdict], ...] = (
    (lambda e: e.outcome == Outcome.SUCCESS, Verdict.SUCCEEDED),
    (lambda e: e.stopped_for == StopReason.CANCEL, Verdict.CANCELLED),
    (lambda e: e.outcome == Outcome.CANCELLED and e.stopped_for is None, Verdict.CANCELLED),
    (lambda e: e.run_stopping, Verdict.FAILED),
    (lambda e: not e.retryable, Verdict.FAILED),
    (lambda e: not e.tries_left, Verdict.FAILED),
    (lambda e: True, Verdict.RETRY),
)


def judge(end: TryEnd) -> Verdict:
    """The verdict of the first row of :data:`TRY_RULES` that holds for ``end``."""
    return next(verdict for condition, verdict in TRY_RULES if condition(end))


MAPPED_RULES: tuple[tuple[Callable[[Collection[str]], bool], TaskState], ...] = (
    (lambda states: any(s in TASK_FAILURES for s in states), TaskState.FAILED),
    (lambda states: any(s == TaskState.CANCELLED for s in states), TaskState.CANCELLED),
    (lambda states: True, TaskState.SUCCESS),
)


def mapped_state(element_states: Collection[str]) -> TaskState:
    """A mapped node's final state from its elements' final states (:data:`MAPPED_RULES`)."""
    return next(state for condition, state in MAPPED_RULES if condition(element_states))


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnd:
    """The facts a run's end is judged on: its nodes' final states, and a stop it was given."""

    failed: tuple[str, ...]  # nodes that failed (or, when none did, those upstream-failed)
    cancelled: tuple[str, ...]
    stopped: RunState | None = None
    stop_reason: str | None = None
    tally: str = ""  # how many nodes ended in each state ("3 succeeded, 1 skipped")


RUN_RULES: tuple[tuple[Callable[[RunEnd], bool], Callable[[RunEnd], tuple[RunState, str | None]]], ...] = (
    (lambda e: e.stopped is not None, lambda e: (e.stopped or RunState.FAILED, e.stop_reason)),
    (lambda e: bool(e.failed), lambda e: (RunState.FAILED, f"task(s) failed: {', '.join(e.failed)}")),
    (
        lambda e: bool(e.cancelled),
        lambda e: (RunState.CANCELLED, f"task(s) cancelled: {', '.join(e.cancelled)}"),
    ),
    (lambda e: True, lambda e: (RunState.SUCCESS, e.tally or None)),
)


def run_outcome(end: RunEnd) -> tuple[RunState, str | None]:
    """The run's final state and reason (:data:`RUN_RULES`)."""
    return next(make(end) for condition, make in RUN_RULES if condition(end))


def run_end(nodes: Collection[tuple[str, str]], stopped: RunState | None, reason: str | None) -> RunEnd:
    """The :class:`RunEnd` of nodes given as ``(task_id, state)``."""
    failed = tuple(t for t, s in nodes if s == TaskState.FAILED) or tuple(
        t for t, s in nodes if s in TASK_FAILURES
    )
    cancelled = tuple(t for t, s in nodes if s == TaskState.CANCELLED)
    return RunEnd(failed=failed, cancelled=cancelled, stopped=stopped, stop_reason=reason, tally=tally(nodes))


#: How each final state reads in a tally, in the order tallies list them.
_TALLIED = {
    TaskState.SUCCESS: "succeeded",
    TaskState.CACHED: "cached",
    TaskState.SKIPPED: "skipped",
    TaskState.FAILED: "failed",
    TaskState.UPSTREAM_FAILED: "upstream failed",
    TaskState.CANCELLED: "cancelled",
}


def tally(nodes: Collection[tuple[str, str]]) -> str:
    """How the nodes ended, for a run's reason: ``"all 4 tasks succeeded"`` or ``"3 tasks: 2
    succeeded, 1 skipped"`` (a mapped node counts once)."""
    counts = Counter(s for _, s in nodes)
    if not nodes:
        return "no tasks to run"
    if counts.get(TaskState.SUCCESS) == len(nodes):
        return "its one task succeeded" if len(nodes) == 1 else f"all {len(nodes)} tasks succeeded"
    parts = [f"{counts[state]} {word}" for state, word in _TALLIED.items() if counts.get(state)]
    return f"{len(nodes)} task{'s' if len(nodes) != 1 else ''}: " + ", ".join(parts)
