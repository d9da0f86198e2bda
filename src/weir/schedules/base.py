"""What every time-based schedule answers, and the error a bad schedule raises."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta

from weir.errors import ScheduleError

__all__ = ["Schedule", "ScheduleError", "as_utc"]

_TICK = timedelta(microseconds=1)  # the resolution of datetime: "at or before t" is "before t + _TICK"


def as_utc(t: datetime, name: str = "t") -> datetime:
    """Return the aware datetime ``t`` converted to UTC.

    Raises:
        ValueError: ``t`` is naive; the time layer never guesses a timezone for an instant.
    """
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {t.isoformat()}")
    return t.astimezone(UTC)


class Schedule(ABC):
    """A time-based schedule: the instants at which it fires, as aware UTC datetimes.

    The scheduler uses exactly these methods. A fire time ``f`` closes the data interval
    ``[previous fire time, f)``; the run for that interval is created at ``f`` and its logical date
    is the interval start.
    """

    __slots__ = ()

    @abstractmethod
    def next_after(self, t: datetime) -> datetime | None:
        """The first fire time strictly after the aware datetime ``t`` (UTC), or None if none is left."""

    @abstractmethod
    def previous_before(self, t: datetime) -> datetime | None:
        """The last fire time strictly before the aware datetime ``t`` (UTC), or None if none exists."""

    @abstractmethod
    def between(self, start: datetime, end: datetime) -> list[datetime]:
        """Every fire time in ``[start, end)``, ascending, as aware UTC datetimes."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description, for the CLI and the UI."""

    def interval_for(self, fire_time: datetime) -> tuple[datetime, datetime]:
        """The data interval ``[start, end)`` that ends at ``fire_time``: it starts at the previous fire time.

        Raises:
            ValueError: ``fire_time`` is naive, or no fire time precedes it.
        """
        end = as_utc(fire_time, "fire_time")
        start = self.previous_before(end)
        if start is None:
            raise ValueError(f"{self.describe()} has no fire time before {end.isoformat()}")
        return start, end

    def latest_interval(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The data interval that ended last at ``now``, as in Airflow (None when none has ended).

        It ends at the last fire time at or before ``now``: an interval that ends exactly at
        ``now`` has ended, so a run made at a fire time gets the interval that fire time closes.

        Raises:
            ValueError: ``now`` is naive.
        """
        end = self.previous_before(as_utc(now, "now") + _TICK)
        if end is None:
            return None
        try:
            return self.interval_for(end)
        except ValueError:  # the first fire time there is: no interval ends at it
            return None
