"""Daylight saving, as Vixie cron documents it.

A job whose minute and hour fields are fixed numbers runs once in a repeated hour and, when its
wall time is skipped, once right after the gap; a job with a wildcard in its minute or hour field
follows the wall clock: both copies of a repeated hour, nothing in a skipped one.

2024 transitions used here:
  Europe/Paris      spring 2024-03-31 02:00 CET -> 03:00 CEST; fall 2024-10-27 03:00 CEST -> 02:00 CET
  America/New_York  spring 2024-03-10 02:00 EST -> 03:00 EDT;  fall 2024-11-03 02:00 EDT -> 01:00 EST
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import weir.schedules as ws
from weir.schedules import Cron, parse_moment

PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"


def at(iso: str) -> datetime:
    """An aware instant from an ISO string with its offset."""
    value = datetime.fromisoformat(iso)
    assert value.utcoffset() is not None
    return value.astimezone(UTC)


def fires_on(schedule: Cron, day: str) -> list[str]:
    """The fire times during one local calendar day, as local ISO strings with offsets."""
    start = parse_moment(day, field="start", zone=schedule.zone)
    end = parse_moment(
        (datetime.fromisoformat(day) + timedelta(days=1)).date().isoformat(), field="end", zone=schedule.zone
    )
    assert start is not None and end is not None
    return [f.astimezone(schedule.zone).isoformat() for f in schedule.between(start, end)]


# fixed minute and hour: skipped wall time -> once right after the gap


def test_fixed_job_in_the_paris_spring_gap_runs_once_right_after_it() -> None:
    assert fires_on(ws.cron("30 2 * * *", tz=PARIS), "2024-03-31") == ["2024-03-31T03:00:00+02:00"]


def test_fixed_job_in_the_new_york_spring_gap_runs_once_right_after_it() -> None:
    assert fires_on(ws.cron("30 2 * * *", tz=NEW_YORK), "2024-03-10") == ["2024-03-10T03:00:00-04:00"]


def test_several_fixed_times_in_one_gap_run_once() -> None:
    assert fires_on(ws.cron("0,30 2 * * *", tz=PARIS), "2024-03-31") == ["2024-03-31T03:00:00+02:00"]


def test_a_half_hour_gap_is_handled_too() -> None:
    # Lord Howe Island springs forward 30 minutes, 02:00 -> 02:30
    assert fires_on(ws.cron("15 2 * * *", tz="Australia/Lord_Howe"), "2024-10-06") == [
        "2024-10-06T02:30:00+11:00"
    ]


def test_fixed_job_runs_at_its_usual_wall_time_the_days_around_the_gap() -> None:
    schedule = ws.cron("30 2 * * *", tz=PARIS)
    assert fires_on(schedule, "2024-03-30") == ["2024-03-30T02:30:00+01:00"]
    assert fires_on(schedule, "2024-04-01") == ["2024-04-01T02:30:00+02:00"]


# fixed minute and hour: repeated wall time -> once, the first time the clock shows it


def test_fixed_job_in_the_paris_repeated_hour_runs_once() -> None:
    assert fires_on(ws.cron("30 2 * * *", tz=PARIS), "2024-10-27") == ["2024-10-27T02:30:00+02:00"]


def test_fixed_job_in_the_new_york_repeated_hour_runs_once() -> None:
    assert fires_on(ws.cron("15 1 * * *", tz=NEW_YORK), "2024-11-03") == ["2024-11-03T01:15:00-04:00"]


def test_fixed_job_outside_the_repeated_hour_is_untouched_on_fall_day() -> None:
    assert fires_on(ws.cron("30 2 * * *", tz=NEW_YORK), "2024-11-03") == ["2024-11-03T02:30:00-05:00"]


# wildcard minute or hour: follows the wall clock


def test_quarter_hourly_job_skips_the_paris_spring_gap() -> None:
    fires = ws.cron("*/15 * * * *", tz=PARIS).between(
        at("2024-03-31T01:30:00+01:00"), at("2024-03-31T03:30:00+02:00")
    )
    assert [f.astimezone(ZoneInfo(PARIS)).isoformat() for f in fires] == [
        "2024-03-31T01:30:00+01:00",
        "2024-03-31T01:45:00+01:00",
        "2024-03-31T03:00:00+02:00",
        "2024-03-31T03:15:00+02:00",
    ]


def test_quarter_hourly_job_runs_in_both_copies_of_the_new_york_repeated_hour() -> None:
    fires = ws.cron("*/15 * * * *", tz=NEW_YORK).between(
        at("2024-11-03T00:45:00-04:00"), at("2024-11-03T02:15:00-05:00")
    )
    assert [f.astimezone(ZoneInfo(NEW_YORK)).isoformat() for f in fires] == [
        "2024-11-03T00:45:00-04:00",
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:15:00-04:00",
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:45:00-04:00",
        "2024-11-03T01:00:00-05:00",
        "2024-11-03T01:15:00-05:00",
        "2024-11-03T01:30:00-05:00",
        "2024-11-03T01:45:00-05:00",
        "2024-11-03T02:00:00-05:00",
    ]
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(fires))


@pytest.mark.parametrize(("tz", "day", "skipped"), [(PARIS, "2024-03-31", 2), (NEW_YORK, "2024-03-10", 2)])
def test_hourly_job_has_no_run_in_the_skipped_hour(tz: str, day: str, skipped: int) -> None:
    fires = fires_on(ws.cron("0 * * * *", tz=tz), day)
    assert len(fires) == 23
    assert not any(f[11:13] == f"{skipped:02d}" for f in fires)


@pytest.mark.parametrize(("tz", "day", "repeated"), [(PARIS, "2024-10-27", 2), (NEW_YORK, "2024-11-03", 1)])
def test_hourly_job_runs_twice_in_the_repeated_hour(tz: str, day: str, repeated: int) -> None:
    fires = fires_on(ws.cron("0 * * * *", tz=tz), day)
    assert len(fires) == 25
    assert [f for f in fires if f[11:13] == f"{repeated:02d}"] == [
        f"{day}T{repeated:02d}:00:00{offset}"
        for offset in (("+02:00", "+01:00") if tz == PARIS else ("-04:00", "-05:00"))
    ]


def test_a_fixed_minute_with_a_wildcard_hour_still_follows_the_wall_clock() -> None:
    fires = fires_on(ws.cron("30 * * * *", tz=PARIS), "2024-10-27")
    assert fires.count("2024-10-27T02:30:00+02:00") == 1 and fires.count("2024-10-27T02:30:00+01:00") == 1


def test_a_daily_interval_is_23_or_25_hours_across_a_dst_change() -> None:
    schedule = ws.cron("0 3 * * *", tz=PARIS)
    start, end = schedule.interval_for(at("2024-03-31T03:00:00+02:00"))
    assert end - start == timedelta(hours=23)
    start, end = schedule.interval_for(at("2024-10-27T03:00:00+01:00"))
    assert end - start == timedelta(hours=25)


TRANSITIONS = {
    PARIS: ["2024-03-31", "2024-10-27"],
    NEW_YORK: ["2024-03-10", "2024-11-03"],
    "Australia/Sydney": ["2024-04-07", "2024-10-06"],
    "Australia/Lord_Howe": ["2024-04-07", "2024-10-06"],  # 30-minute shifts
}


@pytest.mark.parametrize("tz", sorted(TRANSITIONS))
@pytest.mark.parametrize("expr", ["30 2 * * *", "15 1 * * *", "*/15 * * * *", "0 * * * *", "30 1,2 * * 0"])
def test_next_after_previous_before_and_between_agree_across_dst(tz: str, expr: str) -> None:
    schedule = ws.cron(expr, tz=tz)
    for day in TRANSITIONS[tz]:
        middle = datetime.fromisoformat(day).replace(tzinfo=UTC)
        lo, hi = middle - timedelta(days=1), middle + timedelta(days=1)
        expected = schedule.between(lo, hi)
        assert expected == sorted(set(expected))
        forward: list[datetime] = []
        t: datetime | None = lo - timedelta(microseconds=1)
        while (t := schedule.next_after(t)) is not None and t < hi:  # type: ignore[arg-type]
            forward.append(t)
        backward: list[datetime] = []
        t = hi
        while (t := schedule.previous_before(t)) is not None and t >= lo:  # type: ignore[arg-type]
            backward.append(t)
        assert forward == expected
        assert backward[::-1] == expected
