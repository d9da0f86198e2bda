"""The scheduler daemon on a fake clock creates exactly the runs the schedules say: days of an
hourly cron, a year of it, the Paris DST changes, Feb 29 and the 31st (docs/scheduling.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from scheduler_project import Project, flow_source, tick_every, utc, wake_at_fire_times

from weir.testing import FakeClock

PARIS = ZoneInfo("Europe/Paris")


def paris(moments: list[datetime]) -> list[str]:
    return [m.astimezone(PARIS).isoformat() for m in moments]


def test_three_days_of_an_hourly_cron_create_one_run_per_hour_each_at_its_interval_end(
    project: Project,
) -> None:
    project.write("hourly.py", flow_source("hourly", schedule='"0 * * * *"', start="2024-01-01"))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    made = tick_every(scheduler, clock, until=utc(2024, 1, 4), step=timedelta(minutes=20))
    expected = [utc(2024, 1, 1) + timedelta(hours=h) for h in range(72)]
    assert [c.logical_date for _, c in made] == expected
    assert [at for at, _ in made] == [d + timedelta(hours=1) for d in expected]  # created when due
    runs = project.runs("hourly")
    assert [r.logical_date for r in runs] == expected
    assert all(r.trigger == "schedule" for r in runs)
    assert all(r.interval_end - r.interval_start == timedelta(hours=1) for r in runs)


@pytest.mark.slow  # about 9 s: 8,760 runs written to the store
def test_a_year_of_hourly_catchup_creates_8760_runs_with_the_exact_logical_dates(project: Project) -> None:
    project.write("yearly.py", flow_source("yearly", schedule='"@hourly"', start="2023-01-01", catchup=True))
    clock = FakeClock(utc(2023, 1, 1))
    scheduler = project.scheduler(clock)
    tick_every(scheduler, clock, until=utc(2024, 1, 1), step=timedelta(days=1))
    assert project.logical_dates("yearly") == [utc(2023, 1, 1) + timedelta(hours=h) for h in range(8760)]


def test_paris_02_30_runs_right_after_the_spring_gap_and_once_in_the_repeated_hour(project: Project) -> None:
    project.write(
        "nightly.py",
        flow_source("nightly", schedule='weir.cron("30 2 * * *", tz="Europe/Paris")', start="2024-03-29"),
    )
    clock = FakeClock(utc(2024, 3, 29))
    scheduler = project.scheduler(clock)
    spring = wake_at_fire_times(scheduler, clock, until=utc(2024, 4, 2))
    assert paris([at for at, _ in spring]) == [
        "2024-03-30T02:30:00+01:00",
        "2024-03-31T03:00:00+02:00",  # 02:30 does not exist that night: right after the gap
        "2024-04-01T02:30:00+02:00",
    ]
    clock.advance(utc(2024, 10, 25, 12) - clock.now())
    scheduler.tick()  # catchup=False: only the latest missed interval (ending 2024-10-25 02:30)
    fall = wake_at_fire_times(scheduler, clock, until=utc(2024, 10, 29))
    assert paris([at for at, _ in fall]) == [
        "2024-10-26T02:30:00+02:00",
        "2024-10-27T02:30:00+02:00",  # 02:30 happens twice that night: the first time only
        "2024-10-28T02:30:00+01:00",
    ]
    runs = project.runs("nightly")
    assert len({r.logical_date for r in runs}) == len(runs)
    assert paris([r.interval_end for r in runs[-3:]]) == paris([at for at, _ in fall])


def test_paris_hourly_cron_has_23_runs_on_the_spring_day_and_25_on_the_fall_day(project: Project) -> None:
    project.write(
        "spring.py",
        flow_source(
            "spring",
            schedule='weir.cron("0 * * * *", tz="Europe/Paris")',
            start="2024-03-31",
            end="2024-03-31T23:00",
        ),
    )
    project.write(
        "fall.py",
        flow_source(
            "fall",
            schedule='weir.cron("0 * * * *", tz="Europe/Paris")',
            start="2024-10-27",
            end="2024-10-27T23:00",
        ),
    )
    clock = FakeClock(utc(2024, 3, 30, 12))
    scheduler = project.scheduler(clock)
    tick_every(scheduler, clock, until=utc(2024, 4, 1), step=timedelta(minutes=20))
    spring = paris(project.logical_dates("spring"))
    assert len(spring) == 23
    assert not [d for d in spring if "T02:" in d]  # the skipped hour has no run
    clock.advance(utc(2024, 10, 26, 12) - clock.now())
    tick_every(scheduler, clock, until=utc(2024, 10, 28), step=timedelta(minutes=20))
    fall = paris(project.logical_dates("fall"))
    assert len(fall) == 25
    assert [d for d in fall if "T02:" in d] == ["2024-10-27T02:00:00+02:00", "2024-10-27T02:00:00+01:00"]


@pytest.mark.slow  # about 10 s on PostgreSQL: 2,920 daily ticks of the scheduler
def test_feb_29_over_eight_years_creates_two_runs_each_on_a_feb_29(project: Project) -> None:
    project.write("leap.py", flow_source("leap", schedule='"0 0 29 2 *"', start="2020-01-01", catchup=True))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    made = tick_every(scheduler, clock, until=utc(2032, 1, 1), step=timedelta(days=1))
    assert [(at, c.logical_date) for at, c in made] == [
        (utc(2024, 2, 29), utc(2020, 2, 29)),
        (utc(2028, 2, 29), utc(2024, 2, 29)),
    ]


@pytest.mark.slow  # 1,464 ticks of the scheduler
def test_the_31st_over_a_year_creates_seven_runs_one_per_month_that_has_one(project: Project) -> None:
    project.write(
        "monthend.py", flow_source("monthend", schedule='"0 0 31 * *"', start="2023-12-01", catchup=True)
    )
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    made = tick_every(scheduler, clock, until=utc(2025, 1, 1), step=timedelta(hours=6))
    assert [(at.month, at.day) for at, _ in made] == [(m, 31) for m in (1, 3, 5, 7, 8, 10, 12)]
    assert made[0][1].logical_date == utc(2023, 12, 31)
    assert [r.interval_end for r in project.runs("monthend")] == [at for at, _ in made]


def test_a_scheduled_run_is_created_at_the_time_of_the_schedulers_clock(project: Project) -> None:
    project.write("hourly.py", flow_source("hourly", schedule='"0 * * * *"', start="2024-01-01"))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    clock.advance(hours=1)
    scheduler.tick()
    (run,) = project.runs("hourly")
    assert run.created_at == utc(2024, 1, 1, 1)
