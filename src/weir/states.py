"""Run and task-run states, and the one table of allowed transitions.

Every module that changes a state asks :func:`check_run_transition` or
:func:`check_task_transition`; none keeps its own rules. The stored strings are
the enum values.
"""

from __future__ import annotations

from enum import StrEnum

from weir.errors import IllegalTransitionError


class RunState(StrEnum):
    """The state of a flow run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskState(StrEnum):
    """The state of one task run (one node of the graph, or one element of a mapped node)."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    UP_FOR_RETRY = "up_for_retry"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    CANCELLED = "cancelled"


RUN_TERMINAL = frozenset({RunState.SUCCESS, RunState.FAILED, RunState.CANCELLED})
RUN_ACTIVE = frozenset({RunState.QUEUED, RunState.RUNNING})

TASK_TERMINAL = frozenset(
    {TaskState.SUCCESS, TaskState.FAILED, TaskState.SKIPPED, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED}
)
#: Terminal states that count as a failure of the run.
TASK_FAILURES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})
#: States in which a task run holds (or waits for) an executor slot.
TASK_IN_FLIGHT = frozenset({TaskState.QUEUED, TaskState.RUNNING})

RUN_TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.QUEUED: frozenset({RunState.RUNNING, RunState.FAILED, RunState.CANCELLED}),
    RunState.RUNNING: frozenset({RunState.SUCCESS, RunState.FAILED, RunState.CANCELLED}),
    RunState.SUCCESS: frozenset(),
    RunState.FAILED: frozenset(),
    RunState.CANCELLED: frozenset(),
}

TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.PENDING: frozenset(
        {TaskState.SCHEDULED, TaskState.SKIPPED, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED}
    ),
    TaskState.SCHEDULED: frozenset({TaskState.QUEUED, TaskState.CANCELLED}),
    TaskState.QUEUED: frozenset({TaskState.RUNNING, TaskState.FAILED, TaskState.CANCELLED}),
    TaskState.RUNNING: frozenset(
        {TaskState.SUCCESS, TaskState.FAILED, TaskState.UP_FOR_RETRY, TaskState.CANCELLED}
    ),
    TaskState.UP_FOR_RETRY: frozenset({TaskState.QUEUED, TaskState.CANCELLED}),
    TaskState.SUCCESS: frozenset(),
    TaskState.FAILED: frozenset(),
    TaskState.SKIPPED: frozenset(),
    TaskState.UPSTREAM_FAILED: frozenset(),
    TaskState.CANCELLED: frozenset(),
}


def check_run_transition(old: RunState, new: RunState) -> None:
    """Raise :class:`IllegalTransitionError` unless a run may go from ``old`` to ``new``."""
    if new not in RUN_TRANSITIONS[old]:
        raise IllegalTransitionError(f"a run cannot go from {old} to {new}")


def check_task_transition(old: TaskState, new: TaskState) -> None:
    """Raise :class:`IllegalTransitionError` unless a task run may go from ``old`` to ``new``."""
    if new not in TASK_TRANSITIONS[old]:
        raise IllegalTransitionError(f"a task run cannot go from {old} to {new}")
