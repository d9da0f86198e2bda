"""Timers: retries that are due, tries past their deadline, and the run's own deadline."""

from __future__ import annotations

from weir.engine.timers import Timers

A, B, C = ("a", -1), ("b", -1), ("c", 0)
TRY_1, TRY_2 = (1, "a", -1, 1), (1, "b", -1, 1)


def test_due_retries_come_in_time_order_and_only_once() -> None:
    timers = Timers()
    timers.retry_at(30.0, A)
    timers.retry_at(10.0, B)
    timers.retry_at(20.0, C)
    assert timers.due_retries(25.0) == [B, C]
    assert timers.due_retries(25.0) == []
    assert timers.due_retries(30.0) == [A]


def test_a_retry_is_not_due_before_its_time() -> None:
    timers = Timers()
    timers.retry_at(10.0, A)
    assert timers.due_retries(9.99) == []


def test_tries_past_their_deadline_are_due_once() -> None:
    timers = Timers()
    timers.deadline_at(5.0, TRY_2)
    timers.deadline_at(3.0, TRY_1)
    assert timers.due_deadlines(4.0) == [TRY_1]
    assert timers.due_deadlines(5.0) == [TRY_2]
    assert timers.due_deadlines(100.0) == []


def test_the_run_deadline_fires_once() -> None:
    timers = Timers()
    timers.run_deadline = 60.0
    assert timers.run_overdue(59.0) is False
    assert timers.run_overdue(60.0) is True
    assert timers.run_overdue(61.0) is False


def test_the_next_time_is_the_earliest_timer() -> None:
    timers = Timers()
    assert timers.next_time(include_run=True) is None
    timers.retry_at(30.0, A)
    timers.deadline_at(20.0, TRY_1)
    timers.run_deadline = 10.0
    assert timers.next_time(include_run=True) == 10.0
    assert timers.next_time(include_run=False) == 20.0


def test_cleared_retries_never_come_due() -> None:
    timers = Timers()
    timers.retry_at(1.0, A)
    timers.clear_retries()
    assert timers.due_retries(10.0) == []
    assert timers.next_time(include_run=False) is None
