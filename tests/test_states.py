"""The one table of allowed state transitions."""

from __future__ import annotations

import pytest

from weir.errors import IllegalTransitionError
from weir.states import (
    RUN_TERMINAL,
    TASK_TERMINAL,
    RunState,
    TaskState,
    check_run_transition,
    check_task_transition,
)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("pending", "scheduled"),
        ("scheduled", "queued"),
        ("queued", "running"),
        ("running", "success"),
        ("running", "up_for_retry"),
        ("up_for_retry", "queued"),
        ("pending", "skipped"),
        ("pending", "upstream_failed"),
    ],
)
def test_the_task_lifecycle_moves_are_allowed(old: str, new: str) -> None:
    check_task_transition(TaskState(old), TaskState(new))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("success", "running"),
        ("failed", "queued"),
        ("pending", "running"),
        ("pending", "success"),
        ("up_for_retry", "running"),
        ("skipped", "success"),
        ("running", "pending"),
    ],
)
def test_a_task_run_cannot_skip_steps_or_go_backwards(old: str, new: str) -> None:
    with pytest.raises(IllegalTransitionError, match=f"from {old} to {new}"):
        check_task_transition(TaskState(old), TaskState(new))


def test_a_terminal_task_run_leaves_only_by_being_cleared_to_pending() -> None:
    for old in TASK_TERMINAL:
        check_task_transition(old, TaskState.PENDING)
        for new in set(TaskState) - {TaskState.PENDING}:
            with pytest.raises(IllegalTransitionError):
                check_task_transition(old, new)


def test_a_run_goes_queued_running_then_ends() -> None:
    check_run_transition(RunState.QUEUED, RunState.RUNNING)
    check_run_transition(RunState.RUNNING, RunState.SUCCESS)
    with pytest.raises(IllegalTransitionError):
        check_run_transition(RunState.RUNNING, RunState.QUEUED)


def test_a_finished_run_leaves_only_by_being_queued_again() -> None:
    for old in RUN_TERMINAL:
        check_run_transition(old, RunState.QUEUED)
        for new in set(RunState) - {RunState.QUEUED}:
            with pytest.raises(IllegalTransitionError):
                check_run_transition(old, new)


def test_states_are_stored_as_their_lowercase_names() -> None:
    assert TaskState.UP_FOR_RETRY == "up_for_retry"
    assert RunState("success") is RunState.SUCCESS
