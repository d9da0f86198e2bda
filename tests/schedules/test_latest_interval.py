"""The data interval that ended last (what a run made by hand gets, as in Airflow).

An interval that ends exactly now has ended: at a fire time, the latest interval is the one that
fire time closes, not the one before it.

Clock changes used here:
  Europe/Paris         spring 2024-03-31 02:00 CET (+01) -> 03:00 CEST (+02)
  Australia/Lord_Howe  spring 2024-10-06 02:00 (+10:30) -> 02:30 (+11)
                       fall 2024-04-07 02:00 (+11) -> 01:30 (+10:30)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import weir.schedules as ws
from weir.schedules import AnyOf

TICK = timedelta(microseconds=1)


def at(iso: str) -> datetime:
    value = datetime.fromisoformat(iso)
    assert value.utcoffset() is not None
    return value.astimezone(UTC)


def test_at_a_daily_fire_time_the_latest_interval_is_the_day_that_just_ended() -> None:
    daily = ws.cron("@daily")
    midnight = at("2024-06-03T00:00:00+00:00")
    assert daily.latest_interval(midnight) == (at("2024-06-02T00:00:00+00:00"), midnight)
    # a moment before, the day before that is the latest; a moment after, still the day that ended
    assert daily.latest_interval(midnight - TICK) == (
        at("2024-06-01T00:00:00+00:00"),
        at("2024-06-02T00:00:00+00:00"),
    )
    assert daily.latest_interval(midnight + TICK) == (at("2024-06-02T00:00:00+00:00"), midnight)


def test_at_a_fire_time_moved_by_a_dst_gap_the_latest_interval_ends_there() -> None:
    # 02:30 does not exist in Paris on 2024-03-31: the job runs at 03:00 CEST, the end of the gap
    schedule = ws.cron("30 2 * * *", tz="Europe/Paris")
    moved = at("2024-03-31T03:00:00+02:00")
    assert schedule.next_after(moved - timedelta(hours=1)) == moved
    assert schedule.latest_interval(moved) == (at("2024-03-30T02:30:00+01:00"), moved)
    assert schedule.latest_interval(moved - TICK) == (
        at("2024-03-29T02:30:00+01:00"),
        at("2024-03-30T02:30:00+01:00"),
    )


def test_at_a_fire_time_moved_by_a_half_hour_gap_the_latest_interval_ends_there() -> None:
    # 02:15 does not exist on Lord Howe Island on 2024-10-06: the job runs at 02:30 (+11)
    schedule = ws.cron("15 2 * * *", tz="Australia/Lord_Howe")
    moved = at("2024-10-06T02:30:00+11:00")
    assert schedule.latest_interval(moved) == (at("2024-10-05T02:15:00+10:30"), moved)
    assert moved - at("2024-10-05T02:15:00+10:30") == timedelta(hours=23, minutes=45)


def test_in_a_half_hour_that_repeats_the_latest_interval_ends_at_the_first_copy() -> None:
    # 01:45 happens twice on Lord Howe Island on 2024-04-07; a fixed-time job runs at the first
    schedule = ws.cron("45 1 * * *", tz="Australia/Lord_Howe")
    first, second = at("2024-04-07T01:45:00+11:00"), at("2024-04-07T01:45:00+10:30")
    expected = (at("2024-04-06T01:45:00+11:00"), first)
    assert schedule.latest_interval(first) == expected
    assert schedule.latest_interval(second) == expected


def test_a_wildcard_job_in_a_repeated_half_hour_closes_an_interval_at_each_copy() -> None:
    schedule = ws.cron("*/15 1 * * *", tz="Australia/Lord_Howe")
    second = at("2024-04-07T01:45:00+10:30")
    assert schedule.latest_interval(second) == (at("2024-04-07T01:30:00+10:30"), second)


@pytest.mark.parametrize(
    "schedule",
    [ws.every(hours=6), ws.every(minutes=90, anchor=at("2024-01-01T00:15:00+00:00"))],
    ids=["every-6h", "every-90m-anchored"],
)
def test_an_interval_schedule_at_a_fire_time_gets_the_period_that_just_ended(schedule: ws.Every) -> None:
    fire = schedule.next_after(at("2024-06-03T10:00:00+00:00"))
    assert fire is not None
    assert schedule.latest_interval(fire) == (fire - schedule.period, fire)
    assert schedule.latest_interval(fire - TICK) == (fire - 2 * schedule.period, fire - schedule.period)


def test_several_schedules_at_a_shared_fire_time_get_the_interval_from_the_previous_fire_of_any() -> None:
    both = AnyOf((ws.cron("0 6 * * *"), ws.cron("0 18 * * *")))
    six = at("2024-06-03T06:00:00+00:00")
    assert both.latest_interval(six) == (at("2024-06-02T18:00:00+00:00"), six)


def test_a_leap_day_schedule_on_a_leap_day_gets_the_four_years_that_just_ended() -> None:
    leap_day = at("2024-02-29T00:00:00+00:00")
    assert ws.cron("0 0 29 2 *").latest_interval(leap_day) == (at("2020-02-29T00:00:00+00:00"), leap_day)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        ws.cron("@daily").latest_interval(datetime(2024, 6, 3))
