"""due_runs and next_fire_time: which scheduled runs exist at a given moment, read from a FakeClock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import weir.schedules as ws
from weir.schedules import DueRun, due_runs, next_fire_time, parse_spec
from weir.testing import FakeClock


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def logical_dates(runs: list[DueRun]) -> list[datetime]:
    return [run.logical_date for run in runs]


def test_a_run_covers_the_interval_and_its_logical_date_is_the_interval_start() -> None:
    clock = FakeClock(utc(2024, 1, 2))
    (run,) = due_runs(parse_spec("@daily", start="2024-01-01"), None, clock.now())
    assert (run.interval_start, run.interval_end) == (utc(2024, 1, 1), utc(2024, 1, 2))
    assert run.logical_date == run.interval_start


def test_a_run_is_due_only_once_its_interval_has_ended() -> None:
    spec = parse_spec("@daily", start="2024-01-01")
    clock = FakeClock(utc(2024, 1, 1, 23, 59, 59))
    assert due_runs(spec, None, clock.now()) == []
    clock.advance(seconds=1)
    assert logical_dates(due_runs(spec, None, clock.now())) == [utc(2024, 1, 1)]


def test_without_catchup_only_the_latest_ended_interval_is_due() -> None:
    clock = FakeClock(utc(2024, 1, 5, 12))
    spec = parse_spec("@daily", start="2024-01-01", catchup=False)
    assert logical_dates(due_runs(spec, None, clock.now())) == [utc(2024, 1, 4)]
    assert logical_dates(due_runs(spec, utc(2024, 1, 2), clock.now())) == [utc(2024, 1, 4)]


def test_with_catchup_every_interval_since_start_is_due() -> None:
    clock = FakeClock(utc(2024, 1, 5, 12))
    spec = parse_spec("@daily", start="2024-01-01", catchup=True)
    assert logical_dates(due_runs(spec, None, clock.now())) == [utc(2024, 1, d) for d in (1, 2, 3, 4)]


def test_with_catchup_every_interval_since_the_last_fire_is_due() -> None:
    clock = FakeClock(utc(2024, 1, 5, 12))
    spec = parse_spec("@daily", start="2024-01-01", catchup=True)
    runs = due_runs(spec, utc(2024, 1, 3), clock.now())
    assert logical_dates(runs) == [utc(2024, 1, 3), utc(2024, 1, 4)]
    assert runs[0].interval_start == utc(2024, 1, 3)


def test_nothing_is_due_twice() -> None:
    clock = FakeClock(utc(2024, 1, 5, 12))
    spec = parse_spec("@daily", start="2024-01-01", catchup=True)
    runs = due_runs(spec, None, clock.now())
    assert due_runs(spec, runs[-1].interval_end, clock.now()) == []


def test_catchup_without_start_or_last_fire_creates_only_the_latest() -> None:
    clock = FakeClock(utc(2024, 1, 5, 12))
    assert logical_dates(due_runs(parse_spec("@daily", catchup=True), None, clock.now())) == [utc(2024, 1, 4)]


def test_the_first_interval_starts_at_or_after_start() -> None:
    clock = FakeClock(utc(2024, 1, 5, 12))
    spec = parse_spec("@daily", start="2024-01-01T12:00Z", catchup=True)
    assert logical_dates(due_runs(spec, None, clock.now())) == [
        utc(2024, 1, 2),
        utc(2024, 1, 3),
        utc(2024, 1, 4),
    ]


def test_no_logical_date_after_end_and_end_is_inclusive() -> None:
    clock = FakeClock(utc(2024, 2, 1))
    spec = parse_spec("@daily", start="2024-01-01", end="2024-01-03", catchup=True)
    assert logical_dates(due_runs(spec, None, clock.now())) == [
        utc(2024, 1, 1),
        utc(2024, 1, 2),
        utc(2024, 1, 3),
    ]
    assert logical_dates(due_runs(parse_spec("@daily", end="2024-01-03"), None, clock.now())) == [
        utc(2024, 1, 3)
    ]


def test_next_fire_time_stops_after_end() -> None:
    spec = parse_spec("@daily", start="2024-01-01", end="2024-01-03")
    assert next_fire_time(spec, utc(2023, 12, 1)) == utc(2024, 1, 2)  # closes the first interval
    assert next_fire_time(spec, utc(2024, 1, 3)) == utc(2024, 1, 4)  # closes the interval of Jan 3
    assert next_fire_time(spec, utc(2024, 1, 4)) is None


def test_next_fire_time_is_the_earliest_of_several_schedules() -> None:
    spec = parse_spec(["@daily", ws.every(hours=5), ws.on_event("go")])
    assert next_fire_time(spec, utc(2024, 1, 1, 21)) == utc(2024, 1, 1, 23)  # epoch + 5h * k
    assert next_fire_time(spec, utc(2024, 1, 1, 23)) == utc(2024, 1, 2)


def test_several_schedules_merge_their_fire_times_into_one_sequence_of_intervals() -> None:
    clock = FakeClock(utc(2024, 1, 2, 12))
    spec = parse_spec(["0 6 * * *", "0 18 * * *", "0 6 * * *"], start="2024-01-01", catchup=True)
    runs = due_runs(spec, None, clock.now())
    assert [(r.interval_start, r.interval_end) for r in runs] == [
        (utc(2024, 1, 1, 6), utc(2024, 1, 1, 18)),
        (utc(2024, 1, 1, 18), utc(2024, 1, 2, 6)),
    ]


def test_schedules_that_fire_together_make_one_run() -> None:
    spec = parse_spec(["@daily", "@hourly"], start="2024-01-01", catchup=True)
    runs = due_runs(spec, None, utc(2024, 1, 2))
    assert len(runs) == 24 and len({r.logical_date for r in runs}) == 24
    assert all(r.interval_end - r.interval_start == timedelta(hours=1) for r in runs)


def test_an_interval_schedule_anchored_at_start() -> None:
    clock = FakeClock(utc(2024, 1, 1, 4))
    spec = parse_spec(ws.every(minutes=90), start="2024-01-01T00:30Z", catchup=True)
    assert [(r.interval_start, r.interval_end) for r in due_runs(spec, None, clock.now())] == [
        (utc(2024, 1, 1, 0, 30), utc(2024, 1, 1, 2)),
        (utc(2024, 1, 1, 2), utc(2024, 1, 1, 3, 30)),
    ]


def test_event_and_file_triggers_create_no_timed_runs() -> None:
    spec = parse_spec([ws.on_event("go"), ws.on_file("*.csv")], start="2024-01-01", catchup=True)
    assert due_runs(spec, None, utc(2025, 1, 1)) == []
    assert next_fire_time(spec, utc(2024, 1, 1)) is None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        due_runs(parse_spec("@daily"), None, datetime(2024, 1, 1))


def test_due_run_times_are_utc() -> None:
    spec = parse_spec(ws.cron("0 3 * * *", tz="Asia/Tokyo"), start="2024-01-01", catchup=True)
    runs = due_runs(spec, None, utc(2024, 1, 5))
    assert all(r.interval_start.tzinfo is UTC and r.interval_end.tzinfo is UTC for r in runs)
    assert runs[0].interval_start == utc(
        2023, 12, 31, 18
    )  # 03:00 on Jan 1 in Tokyo, the first at or after start
    assert runs[0].interval_end - runs[0].interval_start == timedelta(days=1)
