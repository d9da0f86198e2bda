"""Fixed-interval schedules: fire every ``period`` of elapsed time, counted from an anchor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from weir.schedules.base import Schedule, ScheduleError, as_utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The anchor of an :class:`Every` that has none: the Unix epoch."""


@dataclass(frozen=True, slots=True)
class Every(Schedule):
    """Fire at ``anchor + k * period`` for every integer ``k``.

    The period is elapsed time, not wall-clock time: ``Every(timedelta(days=1))`` stays 24 hours
    apart across a daylight-saving change. Use a cron schedule for "every day at 03:00 local".

    Args:
        period: a positive ``timedelta``.
        anchor: an aware datetime the fire times are counted from; None means the Unix epoch
            (a flow's ``start`` becomes the anchor when the schedule is bundled into a spec).

    Raises:
        ScheduleError: ``field == "every"`` when the period is not a positive timedelta;
            ``field == "start"`` when the anchor is naive.
    """

    period: timedelta
    anchor: datetime | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if not isinstance(self.period, timedelta) or self.period <= timedelta(0):
            raise ScheduleError("every", f"the period must be a positive timedelta, got {self.period!r}")
        if self.anchor is not None:
            if not isinstance(self.anchor, datetime) or self.anchor.utcoffset() is None:
                raise ScheduleError("start", f"the anchor must be an aware datetime, got {self.anchor!r}")
            object.__setattr__(self, "anchor", self.anchor.astimezone(UTC))

    @property
    def origin(self) -> datetime:
        """The instant fire times are counted from (the anchor, or the Unix epoch)."""
        return self.anchor if self.anchor is not None else EPOCH

    def describe(self) -> str:
        return f"every {_words(self.period)}"

    def next_after(self, t: datetime) -> datetime | None:
        steps = (as_utc(t) - self.origin) // self.period + 1
        return self.origin + steps * self.period

    def previous_before(self, t: datetime) -> datetime | None:
        steps = -((self.origin - as_utc(t)) // self.period) - 1  # ceil(...) - 1
        return self.origin + steps * self.period

    def between(self, start: datetime, end: datetime) -> list[datetime]:
        start, end = as_utc(start, "start"), as_utc(end, "end")
        steps = -((self.origin - start) // self.period)  # the first k with origin + k * period >= start
        fire = self.origin + steps * self.period
        out: list[datetime] = []
        while fire < end:
            out.append(fire)
            fire += self.period
        return out

    def interval_for(self, fire_time: datetime) -> tuple[datetime, datetime]:
        end = as_utc(fire_time, "fire_time")
        return end - self.period, end


def _words(period: timedelta) -> str:
    seconds = period.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return str(period)
