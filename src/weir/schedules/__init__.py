"""When flows run: cron and interval schedules, events, file arrival, and the runs they make due.

Pure time arithmetic, no store and no I/O. The user-facing helpers (:func:`cron`, :func:`every`,
:func:`on_event`, :func:`on_file`) build the values ``@weir.flow(schedule=...)`` accepts;
:func:`parse_spec` bundles a flow's schedule settings; :func:`due_runs` and :func:`next_fire_time`
are what the scheduler asks. The semantics are written down in ``docs/scheduling.md``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from weir.schedules.base import Schedule, ScheduleError
from weir.schedules.combined import AnyOf
from weir.schedules.cron import PRESETS, Cron
from weir.schedules.events import SETTLE, OnEvent, OnFile
from weir.schedules.interval import Every
from weir.schedules.spec import (
    DueRun,
    ScheduleSpec,
    Trigger,
    due_runs,
    next_fire_time,
    parse_moment,
    parse_schedule,
    parse_spec,
)

__all__ = [
    "PRESETS",
    "AnyOf",
    "Cron",
    "DueRun",
    "Every",
    "OnEvent",
    "OnFile",
    "Schedule",
    "ScheduleError",
    "ScheduleSpec",
    "Trigger",
    "cron",
    "due_runs",
    "every",
    "next_fire_time",
    "on_event",
    "on_file",
    "parse_moment",
    "parse_schedule",
    "parse_spec",
]


def cron(expr: str, tz: str | ZoneInfo = "UTC") -> Cron:
    """A cron schedule: ``weir.cron("0 3 * * *", tz="Europe/Paris")``, or a preset like ``"@daily"``.

    Args:
        expr: five fields (minute hour day-of-month month day-of-week) or a preset
            (``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``).
        tz: the IANA timezone whose wall clock the expression is read on.

    Raises:
        ScheduleError: ``field == "schedule"`` for a bad expression, ``"tz"`` for an unknown timezone.
    """
    # Cron's tz field is the str it stores; its __post_init__ also takes a ZoneInfo and keeps its name.
    return Cron(expr, tz=tz)  # type: ignore[arg-type]


def every(
    period: timedelta | None = None,
    *,
    weeks: float = 0,
    days: float = 0,
    hours: float = 0,
    minutes: float = 0,
    seconds: float = 0,
    anchor: datetime | None = None,
) -> Every:
    """A fixed-interval schedule: ``weir.every(minutes=15)`` or ``weir.every(timedelta(hours=6))``.

    Fire times are ``anchor + k * period``; without an anchor they count from the flow's ``start``,
    or from the Unix epoch when there is none. The period is elapsed time, unaffected by DST.

    Raises:
        ScheduleError: ``field == "every"`` when both or neither of a timedelta and keywords are
            given, or the period is not positive.
    """
    keywords = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if period is not None and not isinstance(period, timedelta):
        raise ScheduleError(
            "every", f"give a timedelta or keywords like minutes=15, got {period!r} (a number has no unit)"
        )
    if period is not None and keywords:
        raise ScheduleError("every", "give either a timedelta or keywords like minutes=15, not both")
    return Every(period if period is not None else keywords, anchor=anchor)


def on_event(name: str) -> OnEvent:
    """Run the flow when the named event arrives (API or webhook).

    Raises:
        ScheduleError: ``field == "on_event"`` for an empty or malformed name.
    """
    return OnEvent(name)


def on_file(glob: str, *, settle: float = SETTLE) -> OnFile:
    """Run the flow once for each new file matching ``glob`` (relative to the project root), when
    the file has stopped changing for ``settle`` seconds (default 5); a rewritten file runs it
    again only when its content changed.

    Raises:
        ScheduleError: ``field == "on_file"`` for an empty pattern or a negative ``settle``.
    """
    return OnFile(glob, settle)
