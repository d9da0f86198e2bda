"""Backfill: a run for each past interval of a flow's schedule, driven here in the foreground.

A backfilled interval's run has the same key as the scheduler's (``scheduled:<flow>:<logical
date>``), so the scheduler and a backfill never make two runs of one interval, and a backfill
stopped half-way and started again makes none twice: it skips what succeeded, takes up what
is unfinished (nobody drives it any more) and, unless told otherwise, retries what failed.

:func:`plan` is pure; :func:`preview` only reads the store; :func:`backfill` writes and drives
the runs with one :class:`~weir.scheduler.loop.Loop`, at most ``max_active`` at a time.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from weir.errors import WeirError
from weir.schedules import DueRun
from weir.settings import Settings

if TYPE_CHECKING:
    from weir.executors.base import Executor
    from weir.scheduler.clock import Clock
    from weir.scheduler.driver import Listener, RunDriver
    from weir.sdk.flow import Flow
    from weir.store.records import RunRecord

#: A backfill plans at most this many intervals (a typo in a date should not make a million runs).
MAX_INTERVALS = 10_000

_TICK = timedelta(microseconds=1)

# What a backfill does with an interval, by the state of the run its key already names.
CREATE = "create"  # no run yet
TAKE_UP = "take up"  # queued or running, and nobody drives it
RETRY = "retry"  # failed (or cancelled): run its failed task runs again
SUCCEEDED = "succeeded"  # nothing to do
ELSEWHERE = "driven elsewhere"  # a live process (a scheduler, another backfill) drives it
LEFT = "left alone"  # --only-failed: not a failed run
TO_DRIVE = frozenset({CREATE, TAKE_UP, RETRY})


class BackfillError(WeirError):
    """A backfill that cannot be planned: no time schedule, start after end, too many intervals."""


@dataclass(slots=True, kw_only=True)
class Item:
    """One interval of a backfill: what was (or would be) done with it, and how it ended."""

    interval: DueRun
    action: str
    run_id: int | None = None
    state: str | None = None  # the run's state before (preview) or at the end (backfill)
    note: str | None = None

    @property
    def logical_date(self) -> datetime:
        return self.interval.logical_date


def plan(
    flow: Flow, start: datetime, end: datetime, *, reverse: bool = False, now: datetime | None = None
) -> list[DueRun]:
    """The intervals of ``flow``'s time schedule whose logical date lies in ``[start, end]``.

    Each interval runs from one fire time to the next, as the scheduler makes them. With
    ``now``, intervals that have not ended by then are left out. Oldest first, or newest
    first with ``reverse``.

    Raises:
        BackfillError: the flow has no time schedule, ``start`` is after ``end``, a naive
            datetime, or more than :data:`MAX_INTERVALS` intervals.
    """
    spec = flow.schedule_spec
    timetable = spec.timetable if spec is not None else None
    if timetable is None:
        how = f" (it runs {describe(spec)})" if spec and spec.schedules else ""
        raise BackfillError(
            f"flow {flow.name!r} has no time schedule (cron or interval){how}: "
            "it has no intervals to backfill"
        )
    for name, value in (("start", start), ("end", end)):
        if value.utcoffset() is None:
            raise BackfillError(f"{name} must be timezone-aware, got {value.isoformat()}")
    if start > end:
        raise BackfillError(f"start {start.isoformat()} is after end {end.isoformat()}")
    intervals: list[DueRun] = []
    fire = timetable.next_after(start - _TICK)
    while fire is not None and fire <= end:
        following = timetable.next_after(fire)
        if following is None or (now is not None and following > now):
            break
        intervals.append(DueRun(interval_start=fire, interval_end=following))
        if len(intervals) > MAX_INTERVALS:
            raise BackfillError(
                f"more than {MAX_INTERVALS} intervals from {start.isoformat()} to {end.isoformat()}: "
                "backfill a shorter range at a time"
            )
        fire = following
    if reverse:
        intervals.reverse()
    return intervals


def describe(spec: Any) -> str:
    """A schedule spec's triggers in words: ``on event 'orders'``, ``every 1 day``, ..."""
    return ", ".join(trigger.describe() for trigger in spec.schedules)


def parse_date(value: str, *, field: str, flow: Flow) -> datetime:
    """``--start``/``--end``: an ISO date or datetime; without an offset it is read in the
    timezone of the flow's cron schedule (UTC otherwise).

    Raises:
        ScheduleError: naming ``field``, for a value that is not ISO 8601.
    """
    from zoneinfo import ZoneInfo

    from weir.schedules import Cron, parse_moment

    spec = flow.schedule_spec
    zone = next(
        (s.zone for s in (spec.time_schedules if spec else ()) if isinstance(s, Cron)), ZoneInfo("UTC")
    )
    moment = parse_moment(value, field=field, zone=zone)
    assert moment is not None  # a str never parses to None
    return moment


def run_key(flow: Flow, interval: DueRun) -> str:
    """The interval's run key: the scheduler's, so neither makes the other's run again."""
    from weir.scheduler.service import run_key as scheduled_key

    return scheduled_key(flow.name, interval.logical_date)


def preview(
    flow: Flow, intervals: list[DueRun], *, settings: Settings, only_failed: bool = False, read: bool = True
) -> list[Item]:
    """What :func:`backfill` would do with each interval, reading the store only (``read=False``:
    the store does not exist yet, so every interval would get a new run)."""
    if not read:
        return [Item(interval=i, action=LEFT if only_failed else CREATE) for i in intervals]
    from weir.scheduler.clock import SystemClock
    from weir.store import queries
    from weir.store.db import get_engine

    clock = SystemClock()
    items = []
    with get_engine(settings.database_url).connect() as conn:
        for interval in intervals:
            run = queries.find_run_by_key(conn, run_key(flow, interval))
            owner = queries.get_owner(conn, run.owner) if run is not None and run.owner else None
            items.append(_classify(interval, run, owner, only_failed, clock))
    return items


def _classify(interval: DueRun, run: RunRecord | None, owner: Any, only_failed: bool, clock: Clock) -> Item:
    from weir.scheduler.loop import owner_alive

    if run is None:
        return Item(interval=interval, action=LEFT if only_failed else CREATE)
    item = Item(interval=interval, action=LEFT, run_id=run.id, state=run.state)
    if run.state == "success":
        item.action = SUCCEEDED
    elif run.state == "failed" or (run.state == "cancelled" and not only_failed):
        item.action = RETRY
    elif run.state in ("queued", "running"):
        if owner_alive(owner, clock):
            item.action = ELSEWHERE
        elif not only_failed:
            item.action = TAKE_UP
    return item


@dataclass(slots=True, kw_only=True)
class Report:
    """What a backfill did: every interval's item, and whether it was stopped before the end."""

    items: list[Item]
    stopped: bool = False

    def count(self, *actions: str) -> int:
        return sum(item.action in actions for item in self.items)

    @property
    def driven(self) -> list[Item]:
        return [item for item in self.items if item.action in TO_DRIVE and item.run_id is not None]

    @property
    def failed(self) -> list[Item]:
        return [item for item in self.driven if item.state not in (None, "success", "queued", "running")]

    @property
    def unfinished(self) -> list[Item]:
        return [item for item in self.driven if item.state in (None, "queued", "running")]


def backfill(
    flow: Flow,
    intervals: list[DueRun],
    *,
    settings: Settings,
    executor: Executor,
    params: dict[str, Any] | None = None,
    max_active: int | None = None,
    only_failed: bool = False,
    stop: threading.Event | None = None,
    on_plan: Callable[[list[Item]], None] | None = None,
    on_start: Callable[[Item], None] | None = None,
    on_end: Callable[[Item], None] | None = None,
    listener: Listener | None = None,
    grace: float = 10.0,
    clock: Clock | None = None,
) -> Report:
    """Make and drive the runs of ``intervals`` in this process, ``max_active`` at a time.

    Each interval is looked up by its run key first: a succeeded run is skipped, an unfinished
    one nobody drives is taken up, a failed (or cancelled) one is retried (with ``only_failed``,
    only failed runs are retried and nothing else is done), a missing one is created with
    trigger ``backfill``. When ``stop`` is set the backfill starts nothing more, lets running
    tries end (up to ``grace`` seconds) and hands its unfinished runs back, so that the same
    backfill started again takes them up.

    Args:
        params: the runs' params (default: the flow's defaults); validated before any write.
        max_active: runs at a time (default: the flow's ``max_active_runs``).
        on_plan: called with every interval's item once it is known what to do with each.
        on_start, on_end: called with an interval's item when its run starts and when it ends.
        listener: the task-run listener of every run's driver.

    Raises:
        ParamsError: invalid params (nothing is written).
    """
    from weir.scheduler.clock import SystemClock
    from weir.scheduler.loop import Loop, new_owner
    from weir.store.db import get_engine

    values = flow.validate_params(params or {})
    spec = flow.schedule_spec
    limit = max_active or (spec.max_active_runs if spec is not None else 1)
    clock = clock or SystemClock()
    stop = stop or threading.Event()
    engine = get_engine(settings.database_url)
    items = preview(flow, intervals, settings=settings, only_failed=only_failed)
    report = Report(items=items)
    if on_plan is not None:
        on_plan(items)
    todo = deque(item for item in items if item.action in TO_DRIVE)
    if not todo:
        return report
    loop = Loop(engine, executor, new_owner("backfill", clock), clock)
    active: dict[int, tuple[Item, RunDriver]] = {}
    starter = _Starter(flow, values, settings, loop, clock, listener)

    def retire(final: bool = False) -> None:
        for run_id, (item, driver) in list(active.items()):
            if driver.finished:
                item.state = str(driver.run_state)
                del active[run_id]
                if on_end is not None:
                    on_end(item)
            elif final:
                item.state = str(driver.run_state)

    try:
        loop.step(0)  # registers this process as an owner before it claims any run
        while (todo or active) and not stop.is_set():
            while todo and len(active) < limit and not stop.is_set():
                item = todo.popleft()
                driver = starter.start(item)
                if driver is None:
                    if on_end is not None:
                        on_end(item)
                    continue
                active[driver.run_id] = (item, driver)
                if on_start is not None:
                    on_start(item)
            if active:
                loop.step(0.25)
                retire()
    finally:
        try:
            _hand_back(loop, grace)
        finally:
            retire(final=True)
            report.stopped = bool(todo or active)
    return report


class _Starter:
    """Turns an interval's item into a driven run: create, take up or retry, then claim it."""

    def __init__(
        self, flow: Flow, values: dict[str, Any], settings: Settings, loop: Any, clock: Clock, listener: Any
    ) -> None:
        self.flow = flow
        self.values = values
        self.settings = settings
        self.loop = loop
        self.clock = clock
        self.listener = listener

    def start(self, item: Item, again: bool = True) -> RunDriver | None:
        from weir import control
        from weir.runs import DuplicateRunError, create_run
        from weir.store import queries
        from weir.store.db import get_engine, write

        engine = get_engine(self.settings.database_url)
        try:
            if item.action == CREATE:
                try:
                    _, item.run_id, _ = create_run(
                        self.flow,
                        self.values,
                        settings=self.settings,
                        trigger="backfill",
                        run_key=run_key(self.flow, item.interval),
                        logical_date=item.interval.logical_date,
                        interval=(item.interval.interval_start, item.interval.interval_end),
                    )
                except DuplicateRunError:
                    if not again:
                        raise
                    return self._look_again(item)  # made meanwhile (by the scheduler)
            elif item.action == TAKE_UP:
                assert item.run_id is not None
                control.claim_for_resume(item.run_id, self.settings, self.clock)
            elif item.action == RETRY:
                assert item.run_id is not None
                control.retry_run(item.run_id, self.settings, self.clock)
        except WeirError as exc:
            item.note = str(exc)
            return None
        assert item.run_id is not None
        with write(engine) as conn:
            if not queries.set_run_owner(conn, item.run_id, self.loop.owner.id, None):
                item.action, item.note = ELSEWHERE, "taken by another process (a scheduler) first"
                return None
            run = queries.get_run(conn, item.run_id)
        try:
            values = self.flow.validate_params(run.params)
        except WeirError as exc:
            with write(engine) as conn:
                queries.set_run_owner(conn, item.run_id, None, self.loop.owner.id)
            item.note = str(exc)
            return None
        driver = control.drive_in(
            self.flow,
            run,
            values,
            settings=self.settings,
            clock=self.clock,
            listener=self.listener,
            restore=True,
        )
        self.loop.add(driver)
        item.state = run.state
        return driver

    def _look_again(self, item: Item) -> RunDriver | None:
        from weir.store import queries
        from weir.store.db import get_engine

        with get_engine(self.settings.database_url).connect() as conn:
            run = queries.find_run_by_key(conn, run_key(self.flow, item.interval))
            owner = queries.get_owner(conn, run.owner) if run is not None and run.owner else None
        fresh = _classify(item.interval, run, owner, False, self.clock)
        item.action, item.run_id, item.state = fresh.action, fresh.run_id, fresh.state
        if item.action not in TO_DRIVE or item.action == CREATE:
            return None
        return self.start(item, again=False)


def _hand_back(loop: Any, grace: float) -> None:
    """Start nothing more, let running tries end (up to ``grace`` s; a second Ctrl-C stops
    waiting), write what is left and release the unfinished runs for the next backfill."""
    from weir.store import queries
    from weir.store.db import write

    try:
        deadline = loop.clock.monotonic() + grace
        while loop.clock.monotonic() < deadline:
            for driver in loop.drivers.values():
                # Cleared before every step: a try that ends makes its downstream ready.
                driver.ready.clear()
                driver.resubmit.clear()
            if not any(d.inflight for d in loop.drivers.values()):
                break
            loop.step(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        unfinished = list(loop.drivers)
        loop.close()
        with write(loop.engine) as conn:
            for run_id in unfinished:
                queries.set_run_owner(conn, run_id, None, loop.owner.id)


def utc_now() -> datetime:
    """Now, aware UTC (the default ``now`` of a plan)."""
    return datetime.now(UTC)
