"""Backfill: a run for each past interval of a flow's schedule.

A backfilled interval's run has the same key as the scheduler's (``scheduled:<flow>:<logical
date>``), so the scheduler and a backfill never make two runs of one interval, and a backfill
stopped half-way and started again makes none twice: it skips what succeeded, takes up what is
unfinished (nobody drives it any more) and, unless told otherwise, retries what failed.

:func:`plan` is pure; :func:`preview` only reads the store; :func:`prepare` is the action that
makes (or frees, or clears) one interval's run; ``weir.scheduler.backfill`` drives them.
:func:`queue` (the API's backfill) makes every interval's run ready in one action and leaves
them to the schedulers; :func:`coming` lists a flow's coming scheduled runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from weir.control import runs as run_actions
from weir.control.context import Context, record
from weir.control.liveness import reap_local
from weir.errors import BackfillError, DuplicateRunError, WeirError
from weir.graph.snapshot import FlowSnapshot
from weir.schedules import DueRun
from weir.store import owners, runs
from weir.store.records import OwnerRecord, RunRecord

if TYPE_CHECKING:
    from sqlalchemy import Connection

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


def scheduled_key(flow_name: str, logical_date: datetime) -> str:
    """The key that makes a scheduled (or backfilled) interval's run unique."""
    return f"scheduled:{flow_name}:{logical_date.isoformat()}"


@dataclass(slots=True, kw_only=True)
class Item:
    """One interval of a backfill: what was (or would be) done with it, and how it ended."""

    interval: DueRun
    action: str
    run_id: int | None = None
    state: str | None = None  # the run's state before (preview) or at the end (backfill)
    note: str | None = None
    done: bool = False  # its action was carried out (a backfill stopped early leaves some undone)

    @property
    def logical_date(self) -> datetime:
        return self.interval.logical_date


def plan(
    snapshot: FlowSnapshot,
    start: datetime,
    end: datetime,
    *,
    reverse: bool = False,
    now: datetime | None = None,
) -> list[DueRun]:
    """The intervals of the flow's time schedule whose logical date lies in ``[start, end]``.

    Each interval runs from one fire time to the next, as the scheduler makes them. With
    ``now``, intervals that have not ended by then are left out. Oldest first, or newest
    first with ``reverse``.

    Raises:
        BackfillError: the flow has no time schedule, ``start`` is after ``end``, a naive
            datetime, or more than :data:`MAX_INTERVALS` intervals.
    """
    spec = snapshot.schedule_spec
    timetable = spec.timetable if spec is not None else None
    if timetable is None:
        how = f" (it runs {describe(spec)})" if spec and spec.schedules else ""
        raise BackfillError(
            f"flow {snapshot.name!r} has no time schedule (cron or interval){how}: "
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


def parse_date(value: str, *, field: str, snapshot: FlowSnapshot) -> datetime:
    """``--start``/``--end``: an ISO date or datetime; without an offset it is read in the
    timezone of the flow's cron schedule (UTC otherwise).

    Raises:
        ScheduleError: naming ``field``, for a value that is not ISO 8601.
    """
    from zoneinfo import ZoneInfo

    from weir.schedules import Cron, parse_moment

    spec = snapshot.schedule_spec
    zone = next(
        (s.zone for s in (spec.time_schedules if spec else ()) if isinstance(s, Cron)), ZoneInfo("UTC")
    )
    moment = parse_moment(value, field=field, zone=zone)
    assert moment is not None  # a str never parses to None
    return moment


def run_key(snapshot: FlowSnapshot, interval: DueRun) -> str:
    """The interval's run key: the scheduler's, so neither makes the other's run again."""
    return scheduled_key(snapshot.name, interval.logical_date)


def preview(
    ctx: Context, snapshot: FlowSnapshot, intervals: list[DueRun], *, only_failed: bool = False
) -> list[Item]:
    """What a backfill would do with each interval, reading the store only."""
    now = ctx.clock.now()
    items = []
    with ctx.store.read() as conn:
        for interval in intervals:
            run = runs.find_by_key(conn, run_key(snapshot, interval))
            driver = owners.get(conn, run.owner) if run is not None and run.owner else None
            items.append(classify(interval, run, driver, only_failed, now))
    return items


def classify(
    interval: DueRun, run: RunRecord | None, driver: OwnerRecord | None, only_failed: bool, now: datetime
) -> Item:
    """What to do with one interval, given the run its key names (if any) and that run's driver."""
    if run is None:
        return Item(interval=interval, action=LEFT if only_failed else CREATE)
    item = Item(interval=interval, action=LEFT, run_id=run.id, state=run.state)
    if run.state == "success":
        item.action = SUCCEEDED
    elif run.state == "failed" or (run.state == "cancelled" and not only_failed):
        item.action = RETRY
    elif run.state in ("queued", "running"):
        if driver is not None and driver.holds_lease(now):
            item.action = ELSEWHERE
        elif not only_failed:
            item.action = TAKE_UP
    return item


def prepare(
    ctx: Context, snapshot: FlowSnapshot, item: Item, params: dict[str, Any], again: bool = True
) -> bool:
    """Make ``item``'s interval ready to drive: create its run, free it, or clear it to run again.

    Returns False (with ``item.note`` saying why) when there is nothing to drive: another process
    took it, or the action was refused. A run the scheduler made meanwhile is looked at again.
    """
    try:
        if item.action == CREATE:
            try:
                made = run_actions.trigger(
                    ctx,
                    snapshot.name,
                    params,
                    version=snapshot.version,
                    trigger="backfill",
                    run_key=run_key(snapshot, item.interval),
                    logical_date=item.interval.logical_date,
                    interval=(item.interval.interval_start, item.interval.interval_end),
                )
                item.run_id = made.run_id
            except DuplicateRunError:
                if not again:
                    raise
                return _look_again(ctx, snapshot, item, params)  # made meanwhile (by the scheduler)
        elif item.action == TAKE_UP:
            assert item.run_id is not None
            run_actions.release(ctx, item.run_id)
        elif item.action == RETRY:
            assert item.run_id is not None
            run_actions.retry(ctx, item.run_id)
    except WeirError as exc:
        item.note = str(exc)
        return False
    return True


def _look_again(ctx: Context, snapshot: FlowSnapshot, item: Item, params: dict[str, Any]) -> bool:
    with ctx.store.read() as conn:
        run = runs.find_by_key(conn, run_key(snapshot, item.interval))
        driver = owners.get(conn, run.owner) if run is not None and run.owner else None
    fresh = classify(item.interval, run, driver, False, ctx.clock.now())
    item.action, item.run_id, item.state = fresh.action, fresh.run_id, fresh.state
    if item.action not in TO_DRIVE or item.action == CREATE:
        return False
    return prepare(ctx, snapshot, item, params, again=False)


def utc_now() -> datetime:
    """Now, aware UTC (the default ``now`` of a plan)."""
    return datetime.now(UTC)


# -- a backfill queued for the schedulers (the API's): planned, made ready, driven by none here ------


def _rerun(item: Item, rerun_failed: bool) -> Item:
    """``item``, left alone when it would retry a failed run and ``rerun_failed`` is false."""
    if item.action == RETRY and not rerun_failed:
        item.action, item.note = (
            LEFT,
            f"run {item.run_id} {item.state}: not run again (rerun_failed is false)",
        )
    return item


def dry_run(
    ctx: Context, snapshot: FlowSnapshot, intervals: list[DueRun], *, rerun_failed: bool = True
) -> list[Item]:
    """What :func:`queue` would do with each interval, reading the store only."""
    return [_rerun(item, rerun_failed) for item in preview(ctx, snapshot, intervals)]


def queue(
    ctx: Context,
    snapshot: FlowSnapshot,
    intervals: list[DueRun],
    params: dict[str, Any] | None = None,
    *,
    rerun_failed: bool = True,
) -> list[Item]:
    """Make every interval's run ready for a scheduler to drive, and drive none of them here.

    In one transaction, with one ``backfill`` audit row on ``flow NAME``, the missing runs are
    made (queued, trigger ``backfill``, the scheduler's run keys) and the unfinished runs nobody
    drives are freed. Then each failed or cancelled run is retried (unless ``rerun_failed`` is
    false) as ``weir runs retry`` retries it, with its own ``retry`` audit row. A run that
    succeeded, or whose driver holds its lease, is left alone. A paused flow is backfilled all the
    same: its runs wait in ``queued`` until it is unpaused. Returns every interval's item.

    Raises:
        ParamsError: invalid params. PoolError: a task's pool does not exist. ConflictError: a
            flow whose code only the process that defined it has. Nothing is written then.
    """
    values = snapshot.validate_params(params or {})
    reap_local(ctx.store, ctx.clock)
    items: list[Item] = []
    with ctx.store.transaction() as tx:
        now = ctx.clock.now()
        for interval in intervals:
            key = run_key(snapshot, interval)
            run = runs.find_by_key(tx, key)
            driver = owners.get(tx, run.owner) if run is not None and run.owner else None
            item = _rerun(classify(interval, run, driver, False, now), rerun_failed)
            items.append(item)
            if item.action == CREATE:
                planned = run_actions.plan_run(
                    ctx,
                    snapshot,
                    values,
                    trigger="backfill",
                    logical_date=interval.logical_date,
                    interval=(interval.interval_start, interval.interval_end),
                )
                try:
                    with (
                        tx.begin_nested()
                    ):  # a scheduler making the same run meanwhile rolls back this one only
                        made = run_actions.make_run(tx, ctx, planned, run_key=key)
                except DuplicateRunError:
                    item.action, item.note = ELSEWHERE, "made meanwhile by another process (a scheduler)"
                    continue
                item.run_id, item.state = made.run_id, "queued"
            elif item.action == TAKE_UP:
                assert item.run_id is not None
                owners.take_over(tx, item.run_id, now)
        record(
            tx,
            ctx,
            "backfill",
            f"flow {snapshot.name}",
            start=intervals[0].logical_date.isoformat() if intervals else None,
            end=intervals[-1].logical_date.isoformat() if intervals else None,
            intervals=len(items),
            made=[i.run_id for i in items if i.action == CREATE] or None,
            taken_up=[i.run_id for i in items if i.action == TAKE_UP] or None,
            retry=[i.run_id for i in items if i.action == RETRY] or None,
        )
    for item in items:
        if item.action == RETRY:
            assert item.run_id is not None
            try:
                run_actions.retry(ctx, item.run_id)
            except WeirError as exc:  # retried or taken meanwhile: said, not fatal
                item.note = str(exc)
    return items


@dataclass(frozen=True, slots=True, kw_only=True)
class ComingRun:
    """A scheduled run to come: when it fires, its logical date and its data interval."""

    fire_at: datetime
    logical_date: datetime
    interval_start: datetime
    interval_end: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ComingRuns:
    """A flow's coming scheduled runs (``weir flows next``). For a flow with no time schedule,
    ``schedule`` is None, ``runs`` is empty and ``note`` says why."""

    flow_name: str
    schedule: str | None
    paused: bool
    runs: list[ComingRun]
    note: str | None = None


def coming(conn: Connection, snapshot: FlowSnapshot, now: datetime, count: int) -> ComingRuns:
    """The next ``count`` fire times of a flow's time schedule after ``now``, each with the
    logical date and data interval of the run it makes (fewer once the schedule ends)."""
    from weir.control.flows import is_paused
    from weir.schedules import next_fire_time

    paused = is_paused(conn, snapshot)
    spec = snapshot.schedule_spec
    timetable = spec.timetable if spec is not None else None
    if spec is None or timetable is None:
        how = f": it runs {describe(spec)}" if spec and spec.schedules else ""
        note = f"flow {snapshot.name!r} has no time schedule (cron or interval){how}"
        return ComingRuns(flow_name=snapshot.name, schedule=None, paused=paused, runs=[], note=note)
    found: list[ComingRun] = []
    after = now
    while len(found) < count:
        fire = next_fire_time(spec, after)
        if fire is None:
            break
        start, end = timetable.interval_for(fire)
        found.append(ComingRun(fire_at=fire, logical_date=start, interval_start=start, interval_end=end))
        after = fire
    return ComingRuns(
        flow_name=snapshot.name,
        schedule=timetable.describe(),
        paused=paused,
        runs=found,
        note=None if found else "no coming runs: the schedule has ended",
    )
