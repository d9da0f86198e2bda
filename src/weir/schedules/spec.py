"""A flow's schedule settings as one value, and the runs they make due.

``parse_spec`` turns what a user writes on ``@weir.flow`` into a :class:`ScheduleSpec`;
``due_runs`` says which runs a scheduler must create at a given moment; ``next_fire_time`` says
when to look again. All are pure: the caller passes in the time and the last fire time it stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from weir.schedules.base import Schedule, ScheduleError, as_utc
from weir.schedules.combined import AnyOf
from weir.schedules.cron import Cron, load_zone
from weir.schedules.events import SETTLE, OnEvent, OnFile
from weir.schedules.interval import Every

Trigger: TypeAlias = Schedule | OnEvent | OnFile
"""Anything ``schedule=`` accepts, once parsed."""

Moment: TypeAlias = datetime | date | str
"""What ``start=`` and ``end=`` accept: a datetime, a date (midnight) or an ISO 8601 string."""

_TICK = timedelta(microseconds=1)  # the resolution of datetime: "strictly after t" is ">= t + _TICK"


@dataclass(frozen=True, slots=True, kw_only=True)
class DueRun:
    """A scheduled run to create: its data interval ``[interval_start, interval_end)``.

    The run is created at ``interval_end`` (the fire time) and its logical date is ``interval_start``.
    """

    interval_start: datetime
    interval_end: datetime

    @property
    def logical_date(self) -> datetime:
        """The start of the data interval, as in Airflow."""
        return self.interval_start


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSpec:
    """When a flow runs: its triggers, the window they apply in and the scheduling policy.

    Build one with :func:`parse_spec`, which accepts what users write. Every datetime here is aware UTC.

    Attributes:
        schedules: the triggers (time-based schedules, events, file globs); runs come from any of them.
        start: no scheduled run has a logical date before it (None: no lower bound).
        end: no scheduled run has a logical date after it (None: no upper bound).
        catchup: create a run for every interval missed since the last one (True) or only the latest (False).
        max_active_runs: how many scheduled runs of the flow may be queued or running at once.
        paused: the initial state of the schedule; the scheduler creates no runs for a paused flow.

    Raises:
        ScheduleError: naming the field, for a naive or misordered start/end, a max_active_runs below 1, ...
    """

    schedules: tuple[Trigger, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    catchup: bool = False
    max_active_runs: int = 16
    paused: bool = False

    def __post_init__(self) -> None:
        schedules = tuple(self.schedules)
        for item in schedules:
            if not isinstance(item, Schedule | OnEvent | OnFile):
                raise ScheduleError("schedule", f"expected a schedule, got {item!r}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, datetime) or value.utcoffset() is None:
                    raise ScheduleError(name, f"expected an aware datetime, got {value!r}")
                object.__setattr__(self, name, value.astimezone(UTC))
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ScheduleError(
                "start", f"start {self.start.isoformat()} is after end {self.end.isoformat()}"
            )
        for name in ("catchup", "paused"):
            if not isinstance(getattr(self, name), bool):
                raise ScheduleError(name, f"expected True or False, got {getattr(self, name)!r}")
        runs = self.max_active_runs
        if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
            raise ScheduleError("max_active_runs", f"expected a whole number of at least 1, got {runs!r}")
        if self.start is not None:
            # An interval schedule without an anchor of its own counts its periods from `start`.
            schedules = tuple(
                replace(item, anchor=self.start) if isinstance(item, Every) and item.anchor is None else item
                for item in schedules
            )
        object.__setattr__(self, "schedules", schedules)

    @property
    def time_schedules(self) -> tuple[Schedule, ...]:
        """The time-based schedules (cron and interval), in the order given."""
        return tuple(item for item in self.schedules if isinstance(item, Schedule))

    @property
    def timetable(self) -> Schedule | None:
        """The time-based schedules read as one (:class:`AnyOf` when several); None when there are none."""
        timed = self.time_schedules
        if not timed:
            return None
        return timed[0] if len(timed) == 1 else AnyOf(timed)

    @property
    def events(self) -> tuple[OnEvent, ...]:
        """The named events that trigger the flow."""
        return tuple(item for item in self.schedules if isinstance(item, OnEvent))

    @property
    def files(self) -> tuple[OnFile, ...]:
        """The file globs that trigger the flow."""
        return tuple(item for item in self.schedules if isinstance(item, OnFile))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for the serialised flow the scheduler reads; :meth:`from_dict` inverts it."""
        return {
            "schedules": [_trigger_to_dict(item) for item in self.schedules],
            "start": _iso(self.start),
            "end": _iso(self.end),
            "catchup": self.catchup,
            "max_active_runs": self.max_active_runs,
            "paused": self.paused,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScheduleSpec:
        """Rebuild a spec from :meth:`to_dict`'s output.

        Raises:
            ScheduleError: the data does not describe a valid spec.
        """
        return cls(
            schedules=tuple(_trigger_from_dict(item) for item in data.get("schedules", ())),
            start=_from_iso(data.get("start")),
            end=_from_iso(data.get("end")),
            catchup=data.get("catchup", False),
            max_active_runs=data.get("max_active_runs", 16),
            paused=data.get("paused", False),
        )


def parse_schedule(value: object, *, tz: str | ZoneInfo | None = None) -> tuple[Trigger, ...]:
    """Turn a ``schedule=`` value into triggers.

    Args:
        value: None, a cron string or preset (``"0 3 * * *"``, ``"@daily"``), a ``timedelta``
            (an interval), a schedule object (``weir.cron``, ``weir.every``, ``weir.on_event``,
            ``weir.on_file``) or a list of these.
        tz: the timezone of cron strings given here; None means UTC. Schedule objects keep their own.

    Raises:
        ScheduleError: ``field == "schedule"`` for anything else or a bad cron string, ``"tz"`` for a bad tz.
    """
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        out: list[Trigger] = []
        for item in value:
            if isinstance(item, list | tuple):
                raise ScheduleError("schedule", "a list of schedules cannot contain another list")
            out.extend(parse_schedule(item, tz=tz))
        return tuple(out)
    if isinstance(value, str):
        return (Cron(value, tz=load_zone(tz).key if tz is not None else "UTC"),)
    if isinstance(value, timedelta):
        return (Every(value),)
    if isinstance(value, Schedule | OnEvent | OnFile):
        return (value,)
    raise ScheduleError(
        "schedule",
        f"expected a cron string, a preset like '@daily', weir.cron(), weir.every(), weir.on_event(), "
        f"weir.on_file() or a list of them, got {value!r}",
    )


def parse_spec(
    schedule: object = None,
    *,
    tz: str | ZoneInfo | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
    catchup: bool = False,
    max_active_runs: int = 16,
    paused: bool = False,
) -> ScheduleSpec:
    """Build a :class:`ScheduleSpec` from the arguments of ``@weir.flow``.

    A naive ``start``/``end`` (or an ISO string without an offset) is read in ``tz``, or else in the
    timezone of the first cron schedule, or else in UTC; a date means midnight there.

    Raises:
        ScheduleError: naming the field that is wrong (``schedule``, ``tz``, ``start``, ``end``, ...).
    """
    zone = load_zone(tz) if tz is not None else None
    triggers = parse_schedule(schedule, tz=zone)
    if zone is None:
        zone = next((item.zone for item in triggers if isinstance(item, Cron)), ZoneInfo("UTC"))
    return ScheduleSpec(
        schedules=triggers,
        start=parse_moment(start, field="start", zone=zone),
        end=parse_moment(end, field="end", zone=zone),
        catchup=catchup,
        max_active_runs=max_active_runs,
        paused=paused,
    )


def parse_moment(value: Moment | None, *, field: str, zone: ZoneInfo) -> datetime | None:
    """Turn a datetime, a date or an ISO 8601 string into an aware UTC datetime (None stays None).

    Naive values are wall-clock times in ``zone``; a date (or a date-only string) means its midnight.

    Raises:
        ScheduleError: ``field`` names the argument, for a string that is not ISO 8601 or another type.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ScheduleError(
                field,
                f"{value!r} is not an ISO 8601 date or datetime (like '2024-01-31' or '2024-01-31T06:00')",
            ) from None
    if isinstance(value, datetime):
        moment = value if value.utcoffset() is not None else value.replace(tzinfo=zone)
    elif isinstance(value, date):
        moment = datetime.combine(value, time(), tzinfo=zone)
    else:
        raise ScheduleError(field, f"expected a date, a datetime or an ISO 8601 string, got {value!r}")
    return moment.astimezone(UTC)


def due_runs(spec: ScheduleSpec, last_fire: datetime | None, now: datetime) -> list[DueRun]:
    """The scheduled runs to create at ``now``, oldest first.

    An interval is due once it has ended (``interval_end <= now``), when it ends after ``last_fire``
    and its logical date lies within ``[spec.start, spec.end]``. With ``catchup`` every such interval
    is due; without it (or with no ``last_fire`` and no ``start`` to count from) only the latest.
    Several time-based schedules are read as one (:class:`AnyOf`): their fire times merge, and each
    interval runs from the previous fire time of any of them. ``spec.paused`` is not consulted: the
    scheduler does not call this for a paused flow.

    Args:
        spec: the flow's schedule settings.
        last_fire: the ``interval_end`` of the last scheduled run created (None before the first).
        now: the current time, aware.

    Raises:
        ValueError: ``now`` or ``last_fire`` is naive.
    """
    now = as_utc(now, "now")
    last = as_utc(last_fire, "last_fire") if last_fire is not None else None
    schedule = spec.timetable
    bounds = _fire_bounds(spec, schedule) if schedule is not None else None
    if schedule is None or bounds is None:
        return []
    floor, ceiling = bounds
    lower = max((x for x in (floor, last) if x is not None), default=None)
    upper = now if ceiling is None else min(now, ceiling)
    if lower is not None and upper <= lower:
        return []
    if spec.catchup and lower is not None:
        fires = schedule.between(lower + _TICK, upper + _TICK)
    else:
        latest = schedule.previous_before(upper + _TICK)
        fires = [latest] if latest is not None and (lower is None or latest > lower) else []
    if not fires:
        return []
    # Each interval starts at the previous fire time, so consecutive fires chain.
    starts = [schedule.interval_for(fires[0])[0], *fires[:-1]]
    return [DueRun(interval_start=start, interval_end=end) for start, end in zip(starts, fires, strict=True)]


def next_fire_time(spec: ScheduleSpec, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after`` whose run lies within the spec's start and end.

    The scheduler sleeps until then (None: no time-based schedule will fire again).

    Raises:
        ValueError: ``after`` is naive.
    """
    after = as_utc(after, "after")
    schedule = spec.timetable
    bounds = _fire_bounds(spec, schedule) if schedule is not None else None
    if schedule is None or bounds is None:
        return None
    floor, ceiling = bounds
    fire = schedule.next_after(after if floor is None else max(after, floor))
    if fire is None or (ceiling is not None and fire > ceiling):
        return None
    return fire


def _fire_bounds(spec: ScheduleSpec, schedule: Schedule) -> tuple[datetime | None, datetime | None] | None:
    """Fire times ``f`` with ``floor < f <= ceiling`` are those whose logical date is in [start, end].

    None when the schedule never fires at or after ``start``. Holds because a fire time's interval
    starts at the previous fire time: the logical date of ``f`` is >= start exactly when some fire
    time at or after start precedes ``f``, and <= end exactly when ``f`` is at most the first fire after end.
    """
    floor = ceiling = None
    if spec.start is not None:
        floor = schedule.next_after(spec.start - _TICK)
        if floor is None:
            return None
    if spec.end is not None:
        ceiling = schedule.next_after(spec.end)
    return floor, ceiling


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _from_iso(value: str | None) -> datetime | None:
    return parse_moment(value, field="start", zone=ZoneInfo("UTC")) if value is not None else None


def _trigger_to_dict(item: Trigger) -> dict[str, Any]:
    if isinstance(item, Cron):
        return {"kind": "cron", "expr": item.expr, "tz": item.tz}
    if isinstance(item, Every):
        return {"kind": "every", "seconds": item.period.total_seconds(), "anchor": _iso(item.anchor)}
    if isinstance(item, OnEvent):
        return {"kind": "event", "name": item.name}
    if isinstance(item, OnFile):
        return {"kind": "file", "glob": item.glob, "settle": item.settle}
    raise ScheduleError("schedule", f"{item!r} cannot be serialised")


def _trigger_from_dict(data: dict[str, Any]) -> Trigger:
    kind = data.get("kind")
    if kind == "cron":
        return Cron(data["expr"], tz=data.get("tz", "UTC"))
    if kind == "every":
        return Every(timedelta(seconds=data["seconds"]), anchor=_from_iso(data.get("anchor")))
    if kind == "event":
        return OnEvent(data["name"])
    if kind == "file":
        return OnFile(data["glob"], data.get("settle", SETTLE))
    raise ScheduleError("schedule", f"unknown schedule kind {kind!r}")
