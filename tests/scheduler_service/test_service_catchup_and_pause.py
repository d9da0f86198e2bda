"""Catchup after downtime, paused flows, and max_active_runs as the scheduler daemon applies them."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from scheduler_project import Project, flow_source, utc

from weir.store import flows as queries
from weir.testing import FakeClock


def hourly(name: str, **options: Any) -> str:
    return flow_source(name, schedule='"0 * * * *"', start="2024-01-01", **options)


def test_with_catchup_a_scheduler_down_for_five_hours_creates_the_five_missed_runs(project: Project) -> None:
    project.write("eager.py", hourly("eager", catchup=True))
    clock = FakeClock(utc(2024, 1, 1, 0, 10))
    scheduler = project.scheduler(clock)
    assert scheduler.tick() == []
    clock.advance(hours=5)  # down: no tick
    made = scheduler.tick()
    assert [c.logical_date for c in made] == [utc(2024, 1, 1, h) for h in range(5)]
    assert [r.interval_end for r in project.runs("eager")] == [utc(2024, 1, 1, h) for h in range(1, 6)]


def test_without_catchup_a_scheduler_down_for_five_hours_creates_only_the_latest(project: Project) -> None:
    project.write("lazy.py", hourly("lazy"))
    clock = FakeClock(utc(2024, 1, 1, 0, 10))
    scheduler = project.scheduler(clock)
    scheduler.tick()
    clock.advance(hours=5)
    assert [c.logical_date for c in scheduler.tick()] == [utc(2024, 1, 1, 4)]
    clock.advance(hours=1)  # and from then on, every interval again
    assert [c.logical_date for c in scheduler.tick()] == [utc(2024, 1, 1, 5)]
    assert project.logical_dates("lazy") == [utc(2024, 1, 1, 4), utc(2024, 1, 1, 5)]


def test_a_new_scheduler_catches_up_since_start_with_catchup(project: Project) -> None:
    project.write("eager.py", hourly("eager", catchup=True))
    project.write("lazy.py", hourly("lazy"))
    clock = FakeClock(utc(2024, 1, 2))
    project.scheduler(clock).tick()
    assert project.logical_dates("eager") == [utc(2024, 1, 1) + timedelta(hours=h) for h in range(24)]
    assert project.logical_dates("lazy") == [utc(2024, 1, 1, 23)]


def test_a_flow_paused_in_its_definition_creates_no_runs(project: Project) -> None:
    project.write("quiet.py", hourly("quiet", catchup=True, paused=True))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    for _ in range(48):
        clock.advance(hours=1)
        assert scheduler.tick() == []
    assert project.runs() == []
    with project.engine.connect() as conn:
        state = queries.get_state(conn, "quiet")
    assert state is not None and state.paused


@pytest.mark.parametrize("catchup", [False, True])
def test_unpausing_creates_the_missed_runs_only_with_catchup(project: Project, catchup: bool) -> None:
    project.write("flow.py", hourly("flow", catchup=catchup, paused=True))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    scheduler.tick()
    clock.advance(hours=10, minutes=30)
    assert scheduler.tick() == []
    with project.engine.begin() as conn:
        queries.set_paused(conn, "flow", False, clock.now())
    clock.advance(seconds=5)  # the scheduler looks at paused flows again on its next refresh
    made = [c.logical_date for c in scheduler.tick()]
    if catchup:
        assert made == [utc(2024, 1, 1, h) for h in range(10)]
    else:
        assert made == [utc(2024, 1, 1, 9)]  # the latest interval only: no flood
    clock.advance(hours=1)
    assert [c.logical_date for c in scheduler.tick()] == [utc(2024, 1, 1, 10)]


def test_pausing_a_running_schedule_stops_its_runs_and_unpausing_without_catchup_does_not_flood(
    project: Project,
) -> None:
    project.write("flow.py", hourly("flow"))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    scheduler.tick()
    clock.advance(hours=2)
    assert [c.logical_date for c in scheduler.tick()] == [utc(2024, 1, 1, 1)]
    with project.engine.begin() as conn:
        queries.set_paused(conn, "flow", True, clock.now())
    for _ in range(24):
        clock.advance(hours=1)
        assert scheduler.tick() == []
    with project.engine.begin() as conn:  # as `weir unpause` does for a flow without catchup
        queries.set_paused(conn, "flow", False, clock.now(), reset_fire=True)
    clock.advance(seconds=5)
    assert scheduler.tick() == []  # the hours paused are not made up
    clock.advance(hours=1)
    assert [c.logical_date for c in scheduler.tick()] == [utc(2024, 1, 2, 2)]


def test_a_paused_flow_makes_no_file_runs(project: Project) -> None:
    inbox = project.root / "inbox"
    inbox.mkdir()
    project.write(
        "ingest.py",
        flow_source("ingest", params="path: str", schedule='weir.on_file("inbox/*.csv")', paused=True),
    )
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    scheduler.tick()
    (inbox / "a.csv").write_text("1\n")
    for _ in range(3):  # long past the 5 s a file takes to settle
        clock.advance(seconds=5)
        assert scheduler.tick() == []


def test_by_default_a_flow_has_up_to_16_runs_going_at_once_as_in_airflow(project: Project) -> None:
    project.write("wide.py", hourly("wide", catchup=True))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    clock.advance(hours=20)
    assert len(scheduler.tick()) == 20
    owned = [r.id for r in project.runs("wide") if r.owner is not None]
    assert len(owned) == 16 and sorted(owned) == sorted(scheduler.loop.engines)


def test_max_active_runs_1_takes_the_next_queued_run_only_after_the_active_one_ends(project: Project) -> None:
    project.write("serial.py", hourly("serial", catchup=True, max_active_runs=1))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    clock.advance(hours=3)
    assert len(scheduler.tick()) == 3
    owned = [r.id for r in project.runs("serial") if r.owner is not None]
    assert owned == list(scheduler.loop.engines) and len(owned) == 1
    order: list[int] = []
    for _ in range(200):
        scheduler.step()
        active = [
            r for r in project.runs("serial") if r.owner is not None and r.state in ("queued", "running")
        ]
        assert len(active) <= 1
        order.extend(r.id for r in active if r.id not in order)
        if all(r.state == "success" for r in project.runs("serial")):
            break
    runs = project.runs("serial")
    assert [r.state for r in runs] == ["success"] * len(runs)
    assert order == [r.id for r in runs][: len(order)] and len(order) >= 3
    # one at a time: each run started after the one before it ended
    for before, after in itertools.pairwise(runs):
        assert after.started_at is not None and before.ended_at is not None
        assert after.started_at >= before.ended_at


def test_a_long_catchup_backlog_does_not_starve_another_flows_runs(project: Project) -> None:
    project.write(
        "a_backlog.py", flow_source("backlog", schedule='"* * * * *"', start="2024-01-01", catchup=True)
    )
    project.write("b_other.py", flow_source("other", schedule='"0 * * * *"', start="2024-01-01"))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    clock.advance(hours=3)  # 180 minutely runs of the backlog, then one hourly run of the other
    scheduler.tick()
    (other,) = project.runs("other")
    assert other.owner == scheduler.owner.id
