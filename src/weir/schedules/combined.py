"""Several time-based schedules read as one: a flow fires whenever any of them fires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from weir.schedules.base import Schedule, ScheduleError


@dataclass(frozen=True, slots=True)
class AnyOf(Schedule):
    """Fire at every fire time of any of ``schedules``; a time two of them share fires once.

    Data intervals follow from the merged fire times, so ``["0 6 * * *", "0 18 * * *"]`` gives two
    12-hour intervals a day and no two runs share a logical date.

    Raises:
        ScheduleError: ``field == "schedule"`` when given fewer than two schedules or a non-schedule.
    """

    schedules: tuple[Schedule, ...]

    def __post_init__(self) -> None:
        schedules = tuple(self.schedules)
        if len(schedules) < 2 or not all(isinstance(item, Schedule) for item in schedules):
            raise ScheduleError(
                "schedule", f"AnyOf needs two or more time-based schedules, got {schedules!r}"
            )
        object.__setattr__(self, "schedules", schedules)

    def describe(self) -> str:
        return " or ".join(item.describe() for item in self.schedules)

    def next_after(self, t: datetime) -> datetime | None:
        found = [f for f in (item.next_after(t) for item in self.schedules) if f is not None]
        return min(found, default=None)

    def previous_before(self, t: datetime) -> datetime | None:
        found = [f for f in (item.previous_before(t) for item in self.schedules) if f is not None]
        return max(found, default=None)

    def between(self, start: datetime, end: datetime) -> list[datetime]:
        return sorted({f for item in self.schedules for f in item.between(start, end)})
