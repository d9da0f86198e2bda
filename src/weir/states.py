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
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    CANCELLED = "cancelled"
    #: A try (never a task run) lost with the process driving its run: not the task's failure.
    INTERRUPTED = "interrupted"


RUN_TERMINAL = frozenset({RunState.SUCCESS, RunState.FAILED, RunState.CANCELLED})
RUN_ACTIVE = frozenset({RunState.QUEUED, RunState.RUNNING})

TASK_TERMINAL = frozenset(
    {
        TaskState.SUCCESS,
        TaskState.CACHED,
        TaskState.FAILED,
        TaskState.SKIPPED,
        TaskState.UPSTREAM_FAILED,
        TaskState.CANCELLED,
    }
)
#: Terminal states whose result downstream tasks can use: ``cached`` reuses a stored result
#: (or found the task's output already there), and counts as a success everywhere.
TASK_SUCCESSES = frozenset({TaskState.SUCCESS, TaskState.CACHED})
#: Terminal states that count as a failure of the run.
TASK_FAILURES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})
#: States in which a task run holds (or waits for) an executor slot.
TASK_IN_FLIGHT = frozenset({TaskState.QUEUED, TaskState.RUNNING})

# A finished run goes back to queued only when some of its task runs are cleared to run
# again (``weir runs retry`` / ``clear``); it keeps its id, params and the results of the
# task runs that are not cleared.
RUN_TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.QUEUED: frozenset({RunState.RUNNING, RunState.FAILED, RunState.CANCELLED}),
    RunState.RUNNING: frozenset({RunState.SUCCESS, RunState.FAILED, RunState.CANCELLED}),
    RunState.SUCCESS: frozenset({RunState.QUEUED}),
    RunState.FAILED: frozenset({RunState.QUEUED}),
    RunState.CANCELLED: frozenset({RunState.QUEUED}),
}

_CLEAR = frozenset({TaskState.PENDING})

TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.PENDING: frozenset(
        {TaskState.SCHEDULED, TaskState.SKIPPED, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED}
    ),
    TaskState.SCHEDULED: frozenset({TaskState.QUEUED, TaskState.CACHED, TaskState.CANCELLED}),
    # queued -> scheduled: the try left with an executor that went away with its driver (it was
    # never seen starting); it is dispatched again with a new try number.
    TaskState.QUEUED: frozenset(
        {TaskState.RUNNING, TaskState.SCHEDULED, TaskState.FAILED, TaskState.CANCELLED}
    ),
    # running -> scheduled: the try was interrupted (its driver died); it runs again, uncounted.
    TaskState.RUNNING: frozenset(
        {
            TaskState.SUCCESS,
            TaskState.CACHED,
            TaskState.FAILED,
            TaskState.UP_FOR_RETRY,
            TaskState.CANCELLED,
            TaskState.SCHEDULED,
        }
    ),
    TaskState.UP_FOR_RETRY: frozenset({TaskState.QUEUED, TaskState.FAILED, TaskState.CANCELLED}),
    # Terminal states leave only by being cleared to run again (retry / clear of a run).
    TaskState.SUCCESS: _CLEAR,
    TaskState.CACHED: _CLEAR,
    TaskState.FAILED: _CLEAR,
    TaskState.SKIPPED: _CLEAR,
    TaskState.UPSTREAM_FAILED: _CLEAR,
    TaskState.CANCELLED: _CLEAR,
    TaskState.INTERRUPTED: frozenset(),  # a try state only
}


def check_run_transition(old: RunState, new: RunState) -> None:
    """Raise :class:`IllegalTransitionError` unless a run may go from ``old`` to ``new``."""
    if new not in RUN_TRANSITIONS[old]:
        raise IllegalTransitionError(f"a run cannot go from {old} to {new}")


def check_task_transition(old: TaskState, new: TaskState) -> None:
    """Raise :class:`IllegalTransitionError` unless a task run may go from ``old`` to ``new``."""
    if new not in TASK_TRANSITIONS[old]:
        raise IllegalTransitionError(f"a task run cannot go from {old} to {new}")
