"""What every time-based schedule answers, and the error a bad schedule raises."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime

from weir.errors import ScheduleError

__all__ = ["Schedule", "ScheduleError", "as_utc"]


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
