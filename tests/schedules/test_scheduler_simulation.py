"""A scheduler loop driven by a FakeClock: the exact runs created, for DST and calendar cases.

``simulate`` does what the scheduler does on every wake-up: ask ``due_runs`` with the last fire
time it stored, create those runs, remember the newest interval end, then sleep (here: advance).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import weir.schedules as ws
from weir.schedules import DueRun, ScheduleSpec, due_runs, next_fire_time, parse_spec
from weir.testing import FakeClock


def simulate(spec: ScheduleSpec, clock: FakeClock, until: datetime, step: timedelta) -> list[DueRun]:
    created: list[DueRun] = []
    last: datetime | None = None
    while clock.now() < until:
        clock.advance(step)
        for run in due_runs(spec, last, clock.now()):
            created.append(run)
            last = run.interval_end
    return created


def simulate_waking_at_fire_times(spec: ScheduleSpec, clock: FakeClock, until: datetime) -> list[DueRun]:
    """Sleep exactly until next_fire_time, as the real scheduler will."""
    created: list[DueRun] = []
    last: datetime | None = None
    while (wake := next_fire_time(spec, clock.now())) is not None and wake <= until:
        clock.set(wake)
        for run in due_runs(spec, last, clock.now()):
            created.append(run)
            last = run.interval_end
    return created


def local(runs: list[DueRun], tz: str) -> list[str]:
    return [run.interval_end.astimezone(ZoneInfo(tz)).isoformat() for run in runs]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_year_of_hourly_runs_is_created_exactly_and_quickly() -> None:
    clock = FakeClock(utc(2023, 1, 1))
    spec = parse_spec("@hourly", start="2023-01-01", catchup=True)
    begun = time.perf_counter()
    runs = simulate(spec, clock, until=utc(2024, 1, 1), step=timedelta(days=1))
    elapsed = time.perf_counter() - begun
    assert len(runs) == 8760
    assert [r.logical_date for r in runs] == [utc(2023, 1, 1) + timedelta(hours=h) for h in range(8760)]
    assert elapsed < 1.0


def test_a_scheduler_that_was_down_for_a_week_catches_up_on_wake() -> None:
    clock = FakeClock(utc(2024, 1, 1))
    spec = parse_spec("@daily", start="2024-01-01", catchup=True)
    runs = simulate(spec, clock, until=utc(2024, 1, 8), step=timedelta(days=7))
    assert [r.logical_date.day for r in runs] == [1, 2, 3, 4, 5, 6, 7]


def test_without_catchup_a_scheduler_down_for_a_week_creates_only_the_latest() -> None:
    clock = FakeClock(utc(2024, 1, 1))
    spec = parse_spec("@daily", start="2024-01-01", catchup=False)
    runs = simulate(spec, clock, until=utc(2024, 1, 15), step=timedelta(days=7))
    assert [r.logical_date.day for r in runs] == [7, 14]


def test_waking_at_each_fire_time_creates_each_run_once() -> None:
    clock = FakeClock(utc(2024, 1, 1))
    spec = parse_spec("*/15 * * * *", start="2024-01-01")
    runs = simulate_waking_at_fire_times(spec, clock, until=utc(2024, 1, 2))
    assert len(runs) == 96  # [00:00, 00:15) ... [23:45, 24:00), each created at its end
    assert len({r.logical_date for r in runs}) == 96
    assert runs[-1].interval_end == utc(2024, 1, 2)


def test_paris_fixed_job_across_both_dst_changes() -> None:
    clock = FakeClock(utc(2024, 3, 29))
    spec = parse_spec("30 2 * * *", tz="Europe/Paris", start="2024-03-29")
    runs = simulate(spec, clock, until=utc(2024, 4, 2), step=timedelta(minutes=15))
    assert local(runs, "Europe/Paris") == [
        "2024-03-30T02:30:00+01:00",
        "2024-03-31T03:00:00+02:00",  # 02:30 does not exist: right after the gap
        "2024-04-01T02:30:00+02:00",
    ]
    clock = FakeClock(utc(2024, 10, 25))
    spec = parse_spec("30 2 * * *", tz="Europe/Paris", start="2024-10-25")
    runs = simulate(spec, clock, until=utc(2024, 10, 29), step=timedelta(minutes=15))
    assert local(runs, "Europe/Paris") == [
        "2024-10-26T02:30:00+02:00",
        "2024-10-27T02:30:00+02:00",  # 02:30 happens twice: once
        "2024-10-28T02:30:00+01:00",
    ]


def test_new_york_hourly_job_across_both_dst_changes() -> None:
    spec = parse_spec("0 * * * *", tz="America/New_York", start="2024-03-10")
    runs = simulate(
        spec, FakeClock(utc(2024, 3, 10, 5)), until=utc(2024, 3, 11, 4), step=timedelta(minutes=10)
    )
    assert len(runs) == 23  # midnight to midnight minus the skipped 02:00
    assert "2024-03-10T02:00:00-05:00" not in local(runs, "America/New_York")
    spec = parse_spec("0 * * * *", tz="America/New_York", start="2024-11-03")
    runs = simulate(
        spec, FakeClock(utc(2024, 11, 3, 4)), until=utc(2024, 11, 4, 5), step=timedelta(minutes=10)
    )
    assert len(runs) == 25
    assert [t for t in local(runs, "America/New_York") if "T01:00" in t] == [
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:00:00-05:00",
    ]


def test_new_york_1_15_runs_once_on_fall_back_day() -> None:
    spec = parse_spec("15 1 * * *", tz="America/New_York", start="2024-11-02")
    runs = simulate(
        spec, FakeClock(utc(2024, 11, 2, 4)), until=utc(2024, 11, 5, 5), step=timedelta(minutes=5)
    )
    assert local(runs, "America/New_York") == [
        "2024-11-03T01:15:00-04:00",
        "2024-11-04T01:15:00-05:00",
    ]


def test_quarter_hourly_job_through_the_paris_repeated_hour() -> None:
    spec = parse_spec(ws.cron("*/15 * * * *", tz="Europe/Paris"), start="2024-10-27T01:45")
    runs = simulate(
        spec, FakeClock(utc(2024, 10, 26, 23)), until=utc(2024, 10, 27, 2), step=timedelta(minutes=5)
    )
    assert [r.interval_end - r.interval_start for r in runs] == [timedelta(minutes=15)] * len(runs)
    assert [t[11:] for t in local(runs, "Europe/Paris")][:9] == [
        "02:00:00+02:00",
        "02:15:00+02:00",
        "02:30:00+02:00",
        "02:45:00+02:00",
        "02:00:00+01:00",
        "02:15:00+01:00",
        "02:30:00+01:00",
        "02:45:00+01:00",
        "03:00:00+01:00",
    ]


def test_feb_29_runs_are_created_only_in_leap_years() -> None:
    # 2024-02-29 opens the first interval; each run is created when the next Feb 29 closes it
    spec = parse_spec("0 0 29 2 *", start="2021-01-01", catchup=True)
    runs = simulate(spec, FakeClock(utc(2021, 1, 1)), until=utc(2033, 1, 1), step=timedelta(days=30))
    assert [(r.interval_start, r.interval_end) for r in runs] == [
        (utc(2024, 2, 29), utc(2028, 2, 29)),
        (utc(2028, 2, 29), utc(2032, 2, 29)),
    ]


def test_the_31st_closes_an_interval_only_in_months_that_have_one() -> None:
    spec = parse_spec("0 0 31 * *", tz="Europe/Paris", start="2023-01-01", catchup=True)
    runs = simulate(spec, FakeClock(utc(2023, 1, 1)), until=utc(2024, 1, 1), step=timedelta(days=1))
    ends = [r.interval_end.astimezone(ZoneInfo("Europe/Paris")) for r in runs]
    assert [(e.month, e.day, e.hour) for e in ends] == [(m, 31, 0) for m in (3, 5, 7, 8, 10, 12)]
    # January 31 opened the first interval; its run is the one created on March 31
    assert runs[0].interval_start.astimezone(ZoneInfo("Europe/Paris")).month == 1
