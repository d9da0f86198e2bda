"""What users need to test flows and tasks without waiting: a clock they control, and the
context a task reads with ``weir.context()``.

``FakeClock`` satisfies the :class:`weir.clock.Clock` protocol, so a scheduler built with
one sees exactly the time the test sets::

    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    clock.advance(hours=1)

``task_context`` lets a unit test call a task's function directly (outside a flow a task is
a plain function call) while ``weir.context()`` answers as in a run::

    with task_context(params={"region": "eu"}, logical_date=datetime(2024, 1, 1, tzinfo=UTC)):
        assert load_day() == ...
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weir.sdk.context import TaskContext, reset_context, set_context

if TYPE_CHECKING:
    from weir.store.records import RunRecord

__all__ = ["FakeClock", "run_schedules", "task_context"]


@contextlib.contextmanager
def task_context(
    *,
    flow_name: str = "test",
    task_id: str = "test",
    run_id: int = 0,
    map_index: int = -1,
    try_number: int = 1,
    params: Mapping[str, Any] | None = None,
    logical_date: datetime | None = None,
    data_interval: tuple[datetime, datetime] | None = None,
    log: logging.Logger | None = None,
) -> Iterator[TaskContext]:
    """Make ``weir.context()`` answer with these values inside the ``with`` block (in this thread
    and the tasks it starts with ``contextvars``), as it does inside a run; yields the context.

    Raises:
        ValueError: ``logical_date`` or an end of ``data_interval`` is naive, or the interval
            ends before it starts.
    """
    if logical_date is not None:
        logical_date = _aware(logical_date)
    if data_interval is not None:
        start, end = (_aware(t) for t in data_interval)
        if end < start:
            raise ValueError(f"data_interval ends ({end.isoformat()}) before it starts ({start.isoformat()})")
        data_interval = (start, end)
    ctx = TaskContext(
        flow_name=flow_name,
        run_id=run_id,
        task_id=task_id,
        map_index=map_index,
        try_number=try_number,
        params=dict(params or {}),
        log=log or logging.getLogger(f"weir.task.{task_id}"),
        logical_date=logical_date,
        data_interval=data_interval,
    )
    token = set_context(ctx)
    try:
        yield ctx
    finally:
        reset_context(token)


class FakeClock:
    """A clock that moves only when told to.

    ``now()`` is aware UTC; ``monotonic()`` starts at 0.0 and counts seconds. ``advance`` moves both,
    and ``sleep`` is ``advance`` (it returns at once, the time having passed); ``set`` moves the wall
    clock only, as an administrator setting the system clock would, so a monotonic reading never
    goes backwards. Safe to use from several threads.

    Args:
        start: the initial wall-clock time; must be timezone-aware (it is converted to UTC).

    Raises:
        ValueError: ``start`` is naive.
    """

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)
        self._monotonic = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current fake wall-clock time, aware UTC."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Seconds advanced since the clock was made."""
        with self._lock:
            return self._monotonic

    def advance(
        self,
        delta: timedelta | float = 0,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> datetime:
        """Move both clocks forward by ``delta`` (a timedelta or seconds) plus the keywords; return ``now()``.

        Raises:
            ValueError: the total is negative (time does not run backwards; use ``set``).
        """
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        step += timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if step < timedelta(0):
            raise ValueError(
                f"cannot advance by a negative amount ({step}); use set() to move the wall clock"
            )
        with self._lock:
            self._now += step
            self._monotonic += step.total_seconds()
            return self._now

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass at once: the same as ``advance(seconds)``.

        Raises:
            ValueError: ``seconds`` is negative.
        """
        self.advance(seconds)

    def set(self, when: datetime) -> datetime:
        """Set the wall clock to the aware datetime ``when`` (forwards or backwards); return ``now()``.

        Raises:
            ValueError: ``when`` is naive.
        """
        moment = _aware(when)
        with self._lock:
            self._now = moment
            return self._now


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is needed, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def run_schedules(
    clock: FakeClock,
    until: datetime,
    *,
    project: str | Path = ".",
    executor: str = "inline",
) -> list[RunRecord]:
    """Drive a scheduler on the project's flows through fake time, from ``clock.now()`` to
    ``until``: the clock jumps to each fire time (and to each retry or timer a run waits for),
    the runs due there are made and driven to their end, so a day of hourly schedules takes a
    fraction of a second. Returns the runs made, oldest first.

    The project is read as ``weir scheduler`` reads it (``weir.toml``, its flow folders, its
    store); use a temporary ``WEIR_HOME`` or ``database_url`` in tests.

    Raises:
        ValueError: ``until`` is naive or before ``clock.now()``.
    """
    from weir.executors.registry import executor_for, release
    from weir.scheduler.service import Scheduler
    from weir.schedules import next_fire_time
    from weir.settings import Settings
    from weir.store import runs

    until = _aware(until)
    if until < clock.now():
        raise ValueError(
            f"until ({until.isoformat()}) is before the clock's time ({clock.now().isoformat()})"
        )
    settings = Settings.from_env(cwd=Path(project), executor=executor)
    # Leases are renewed on the real machine's schedule; fake time jumps hours at once.
    span = (until - clock.now()).total_seconds()
    settings = dataclasses.replace(settings, lease_seconds=max(settings.lease_seconds, span + 3600))
    scheduler = Scheduler(settings, executor_for(settings), clock=clock)
    made: list[int] = []
    try:
        while True:
            made.extend(c.run_id for c in scheduler.tick())
            _drive(scheduler, clock)
            fires = [
                fire
                for spec in (s.schedule_spec for s in scheduler.flows.values())
                if spec is not None and (fire := next_fire_time(spec, clock.now())) is not None
            ]
            if not fires or min(fires) > until:
                break
            clock.advance(min(fires) - clock.now())
    finally:
        scheduler.loop.close()
        release(scheduler.executor)
    with scheduler.store.read() as conn:
        return [runs.get_run(conn, run_id, result=False) for run_id in sorted(made)]


def _drive(scheduler: Any, clock: FakeClock) -> None:
    """Step the scheduler's loop until its runs have ended, jumping the clock to the next timer
    whenever nothing is in flight."""
    loop = scheduler.loop
    while loop.engines:
        loop.step(None)
        if any(e.inflight for e in loop.engines.values()):
            continue
        timers = [t for t in (e.wake_at() for e in loop.engines.values()) if t is not None]
        ahead = min(timers, default=clock.monotonic()) - clock.monotonic()
        if ahead > 0:
            clock.advance(ahead)
