"""Cron schedules in an IANA timezone, with Vixie cron's daylight-saving rules.

The fields are read as Vixie cron reads them (:mod:`weir.schedules.cron_fields`): day of month and
day of week combine with OR only when neither begins with ``*``, otherwise with AND. croniter does
the calendar arithmetic on naive wall-clock times; this module maps each wall time to UTC itself,
because croniter's own handling of a repeated hour differs from Vixie cron (it runs a fixed-time
job in both copies of the hour). The daylight-saving rules, as Vixie cron documents them:

- a job whose minute and hour fields are both fixed (they do not begin with ``*``) runs once in a
  repeated hour (the first time the wall clock shows it) and, when its wall time is skipped, once
  right after the gap;
- a job with ``*`` (``*/15`` included) in its minute or hour field follows the wall clock: it runs
  in both copies of a repeated hour and not at all in a skipped one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from weir.schedules.base import Schedule, ScheduleError, as_utc
from weir.schedules.cron_fields import CronFields, parse_fields

PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
"""Preset names and the cron expressions they stand for (as in Vixie cron)."""

_FIELDS = "minute hour day-of-month month day-of-week"
_SECOND = timedelta(seconds=1)
_MINUTE = timedelta(minutes=1)
# Offsets are sampled this far either side of a boundary to find a nearby DST transition.
_PROBES = tuple(timedelta(days=d) for d in (-2, -1, 0, 1, 2))


def load_zone(tz: str | ZoneInfo, field_name: str = "tz") -> ZoneInfo:
    """Return the ``ZoneInfo`` for an IANA name, or raise ``ScheduleError`` naming ``field_name``."""
    if isinstance(tz, ZoneInfo):
        return tz
    if not isinstance(tz, str) or not tz.strip():
        raise ScheduleError(field_name, f"expected an IANA timezone name like 'Europe/Paris', got {tz!r}")
    try:
        return ZoneInfo(tz.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            field_name, f"unknown timezone {tz!r} (expected an IANA name like 'Europe/Paris' or 'UTC')"
        ) from None


@dataclass(frozen=True, slots=True)
class Cron(Schedule):
    """Fire at the times a five-field cron expression (or a preset like ``@daily``) names, in ``tz``.

    Args:
        expr: ``minute hour day-of-month month day-of-week``, or one of :data:`PRESETS`.
        tz: an IANA timezone name; the expression is read on that zone's wall clock. Default UTC.

    Raises:
        ScheduleError: ``field == "schedule"`` for a bad expression (or one that never fires),
            ``field == "tz"`` for an unknown timezone.
    """

    expr: str
    tz: str = field(default="UTC", kw_only=True)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _fields: CronFields = field(init=False, repr=False, compare=False)
    _template: croniter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.expr, str):
            raise ScheduleError("schedule", f"expected a cron expression string, got {self.expr!r}")
        zone = load_zone(self.tz)
        expr = " ".join(self.expr.split())
        if expr.lower() in PRESETS:
            expr = expr.lower()
        expanded = PRESETS.get(expr, expr)
        if expanded.startswith("@"):
            raise ScheduleError(
                "schedule", f"unknown preset {expr!r} (known: {', '.join(sorted(set(PRESETS)))})"
            )
        fields = expanded.split(" ")
        if len(fields) != 5:
            raise ScheduleError(
                "schedule", f"cron expression {expr!r} has {len(fields)} fields, expected 5 ({_FIELDS})"
            )
        try:
            parsed = parse_fields(expanded)
        except ValueError as exc:
            raise ScheduleError("schedule", f"invalid cron expression {expr!r}: {exc}") from None
        try:
            template = croniter(parsed.croniter_expr(), datetime(2000, 1, 1), day_or=parsed.day_or)
            copy.copy(template).get_next(datetime)
        except CroniterBadDateError:
            raise ScheduleError(
                "schedule", f"cron expression {expr!r} names a date that never exists"
            ) from None
        except (CroniterError, ValueError, KeyError) as exc:
            raise ScheduleError("schedule", f"invalid cron expression {expr!r}: {exc}") from None
        object.__setattr__(self, "expr", expr)
        object.__setattr__(self, "tz", zone.key)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_fields", parsed)
        object.__setattr__(self, "_template", template)

    @property
    def fields(self) -> CronFields:
        """The values each field allows, read as Vixie cron reads them."""
        return self._fields

    @property
    def zone(self) -> ZoneInfo:
        """The timezone the expression is read in."""
        return self._zone

    @property
    def follows_wall_clock(self) -> bool:
        """True when the minute or hour field is a wildcard: DST repeats and skips with the clock."""
        return self._fields.follows_wall_clock

    def describe(self) -> str:
        return f"cron {self.expr!r} ({self.tz})"

    def next_after(self, t: datetime) -> datetime | None:
        t = as_utc(t)
        slack = self._slack(t)
        walls = self._walls(self._wall(t) - slack - _MINUTE if slack else self._wall(t))
        best: datetime | None = None
        limit: datetime | None = None
        while True:
            try:
                wall = walls.get_next(datetime)
            except (CroniterBadDateError, OverflowError, ValueError):
                return best
            # Past this wall time nothing can map before `best`: mapping is monotonic outside DST changes.
            if limit is not None and wall > limit:
                return best
            for instant in self._instants(wall):
                if instant > t and (best is None or instant < best):
                    best = instant
                    slack = self._slack(best)
                    if not slack:
                        return best
                    limit = self._wall(best) + slack

    def previous_before(self, t: datetime) -> datetime | None:
        t = as_utc(t)
        slack = self._slack(t)
        walls = self._walls(self._wall(t) + slack + _MINUTE if slack else self._wall(t))
        best: datetime | None = None
        limit: datetime | None = None
        while True:
            try:
                wall = walls.get_prev(datetime)
            except (CroniterBadDateError, OverflowError, ValueError):
                return best
            if limit is not None and wall < limit:
                return best
            for instant in self._instants(wall):
                if instant < t and (best is None or instant > best):
                    best = instant
                    slack = self._slack(best)
                    if not slack:
                        return best
                    limit = self._wall(best) - slack

    def between(self, start: datetime, end: datetime) -> list[datetime]:
        start, end = as_utc(start, "start"), as_utc(end, "end")
        if end <= start:
            return []
        last_wall = self._wall(end) + self._slack(end)
        walls = self._walls(self._wall(start) - self._slack(start) - _MINUTE)
        found: set[datetime] = set()
        while True:
            try:
                wall = walls.get_next(datetime)
            except (CroniterBadDateError, OverflowError, ValueError):
                break
            if wall > last_wall:
                break
            for instant in self._instants(wall):
                if start <= instant < end:
                    found.add(instant)
        return sorted(found)

    def _walls(self, start: datetime) -> croniter:
        """A fresh croniter positioned at the naive wall time ``start`` (copying skips re-parsing)."""
        walls = copy.copy(self._template)
        walls.set_current(start, force=True)
        return walls

    def _wall(self, t: datetime) -> datetime:
        return t.astimezone(self._zone).replace(tzinfo=None)

    def _slack(self, t: datetime) -> timedelta:
        """How far wall-time order and UTC order can disagree near ``t``: the size of a nearby offset change.

        A repeated period or a gap is never longer than the offset change that makes it, so a wall
        time further than this from ``t``'s wall time maps to an instant on the same side of ``t``.
        """
        if self._zone.key == "UTC":
            return timedelta(0)
        offsets = []
        for probe in _PROBES:
            try:
                offsets.append((t + probe).astimezone(self._zone).utcoffset() or timedelta(0))
            except OverflowError:
                continue
        return max(offsets) - min(offsets)

    def _instants(self, wall: datetime) -> list[datetime]:
        """The UTC instants at which this schedule fires for the naive wall time ``wall``."""
        if self._zone.key == "UTC":
            return [wall.replace(tzinfo=UTC)]
        first = wall.replace(tzinfo=self._zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self._zone, fold=1).astimezone(UTC)
        if first == second:
            return [first]
        if first < second:  # the wall time repeats (fall back)
            return [first, second] if self._fields.follows_wall_clock else [first]
        # The wall time is skipped (spring forward); PEP 495 gives the gap's fold=1 time the later offset.
        return [] if self._fields.follows_wall_clock else [self._gap_end(second, first)]

    def _gap_end(self, before: datetime, after: datetime) -> datetime:
        """The transition instant in ``(before, after]``: the first instant with the post-gap offset."""
        target = after.astimezone(self._zone).utcoffset()
        lo, hi = before, after
        while hi - lo > _SECOND:
            mid = lo + (hi - lo) / 2
            if mid.astimezone(self._zone).utcoffset() == target:
                hi = mid
            else:
                lo = mid
        return hi.replace(microsecond=0)
