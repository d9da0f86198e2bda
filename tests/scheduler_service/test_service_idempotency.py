"""A (flow, logical date) gets one run, whatever happens: two schedulers, a restart, a clock step."""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduler_project import Project, flow_source, utc

from weir.control.context import Context
from weir.control.runs import trigger
from weir.store import runs as queries
from weir.testing import FakeClock

HOURLY = flow_source("hourly", schedule='"0 * * * *"', start="2024-01-01", catchup=True)


def hours(count: int) -> list[datetime]:
    return [utc(2024, 1, 1) + timedelta(hours=h) for h in range(count)]


def test_two_schedulers_ticking_at_the_same_time_create_each_run_once(project: Project) -> None:
    project.write("hourly.py", HOURLY)
    clock = FakeClock(utc(2024, 1, 1))
    first, second = project.scheduler(clock), project.scheduler(clock)
    for _ in range(6):
        clock.advance(hours=1)
        first.tick()
        second.tick()
    clock.advance(hours=3)  # both wake late, together: three intervals are due at once
    second.tick()
    first.tick()
    made = [c.logical_date for c in first.created + second.created]
    assert sorted(made) == hours(9)
    assert project.logical_dates("hourly") == hours(9)
    keys = [f"scheduled:hourly:{d.isoformat()}" for d in hours(9)]
    with project.engine.connect() as conn:
        assert all(queries.find_by_key(conn, key) is not None for key in keys)


def test_two_schedulers_never_both_take_one_run(project: Project) -> None:
    project.write(
        "wide.py",
        flow_source("wide", schedule='"0 * * * *"', start="2024-01-01", catchup=True, max_active_runs=5),
    )
    clock = FakeClock(utc(2024, 1, 1))
    first, second = project.scheduler(clock), project.scheduler(clock)
    first.tick()
    second.tick()
    clock.advance(hours=3)
    first.tick()  # creates and takes three runs
    second.tick()
    assert len(first.loop.engines) == 3
    assert set(first.loop.engines).isdisjoint(second.loop.engines)


def test_a_restarted_scheduler_does_not_create_the_runs_again(project: Project) -> None:
    project.write("hourly.py", HOURLY)
    clock = FakeClock(utc(2024, 1, 1))
    before = project.scheduler(clock)
    clock.advance(hours=4)
    assert [c.logical_date for c in before.tick()] == hours(4)
    before.loop.close()
    after = project.scheduler(clock)  # same store, same moment: nothing is new
    assert after.tick() == []
    clock.advance(hours=2)
    assert [c.logical_date for c in after.tick()] == hours(6)[4:]
    assert project.logical_dates("hourly") == hours(6)


def test_a_restart_in_the_middle_of_a_catchup_creates_the_rest_once(project: Project) -> None:
    project.write("hourly.py", HOURLY)
    clock = FakeClock(utc(2024, 1, 1))
    crashed = project.scheduler(clock)
    crashed.tick()
    clock.advance(hours=5)
    # It made two of the five due runs, then died before it stored its last fire time.
    flow = crashed.flows["hourly"]
    for start in hours(2):
        trigger(
            Context.of(project.settings, via="scheduler"),
            flow.name,
            {},
            version=flow.version,
            trigger="schedule",
            run_key=f"scheduled:hourly:{start.isoformat()}",
            logical_date=start,
            interval=(start, start + timedelta(hours=1)),
        )
    restarted = project.scheduler(clock)
    assert [c.logical_date for c in restarted.tick()] == hours(5)[2:]
    assert project.logical_dates("hourly") == hours(5)


def test_a_clock_stepped_backwards_then_forwards_creates_no_duplicate(project: Project) -> None:
    project.write("hourly.py", HOURLY)
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    clock.advance(hours=3)
    scheduler.tick()
    clock.set(utc(2024, 1, 1, 0, 30))  # someone sets the system clock back two and a half hours
    for _ in range(12):
        clock.advance(minutes=15)
        assert scheduler.tick() == []  # 00:45 ... 03:30: every interval that ended has its run
    clock.advance(minutes=30)  # 04:00: a new interval has ended
    assert [c.logical_date for c in scheduler.tick()] == [utc(2024, 1, 1, 3)]
    assert project.logical_dates("hourly") == hours(4)


def test_a_restart_after_the_clock_went_back_creates_no_duplicate(project: Project) -> None:
    project.write("hourly.py", HOURLY)
    clock = FakeClock(utc(2024, 1, 1))
    project.scheduler(clock)
    clock.advance(hours=3)
    project.scheduler(clock).tick()
    clock.set(utc(2024, 1, 1, 1, 30))
    assert project.scheduler(clock).tick() == []
    clock.set(utc(2024, 1, 1, 3, 30))
    assert project.scheduler(clock).tick() == []
    assert project.logical_dates("hourly") == hours(3)
