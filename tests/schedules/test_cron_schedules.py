"""Cron schedules: fire times, timezones, presets, calendar edges and bad expressions."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import weir.schedules as ws
from weir.errors import FlowDefinitionError
from weir.schedules import Cron, ScheduleError


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def wall(times: list[datetime], tz: str) -> list[str]:
    return [t.astimezone(ZoneInfo(tz)).isoformat() for t in times]


def test_next_after_is_strictly_after() -> None:
    daily = ws.cron("0 3 * * *")
    assert daily.next_after(utc(2024, 1, 1, 2, 59)) == utc(2024, 1, 1, 3)
    assert daily.next_after(utc(2024, 1, 1, 3)) == utc(2024, 1, 2, 3)


def test_previous_before_is_strictly_before() -> None:
    daily = ws.cron("0 3 * * *")
    assert daily.previous_before(utc(2024, 1, 2, 3)) == utc(2024, 1, 1, 3)
    assert daily.previous_before(utc(2024, 1, 2, 3, 0, 1)) == utc(2024, 1, 2, 3)


def test_between_includes_start_and_excludes_end() -> None:
    hourly = ws.cron("0 * * * *")
    assert hourly.between(utc(2024, 1, 1, 1), utc(2024, 1, 1, 4)) == [
        utc(2024, 1, 1, 1),
        utc(2024, 1, 1, 2),
        utc(2024, 1, 1, 3),
    ]
    assert hourly.between(utc(2024, 1, 1, 4), utc(2024, 1, 1, 4)) == []


def test_fire_times_are_aware_utc_whatever_the_schedule_timezone() -> None:
    paris = ws.cron("0 3 * * *", tz="Europe/Paris")
    fires = [paris.next_after(utc(2024, 1, 1)), *paris.between(utc(2024, 7, 1), utc(2024, 7, 3))]
    assert all(f is not None and f.tzinfo is UTC for f in fires)
    assert fires == [utc(2024, 1, 1, 2), utc(2024, 7, 1, 1), utc(2024, 7, 2, 1)]


def test_a_cron_string_is_read_in_utc_unless_a_tz_is_given() -> None:
    assert ws.cron("0 3 * * *").next_after(utc(2024, 1, 1)) == utc(2024, 1, 1, 3)
    new_york = ws.cron("0 3 * * *", tz="America/New_York")
    assert new_york.next_after(utc(2024, 1, 1)) == utc(2024, 1, 1, 8)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ws.cron("@daily").next_after(datetime(2024, 1, 1))


def test_aware_datetimes_in_any_zone_are_accepted() -> None:
    paris_noon = datetime(2024, 1, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))
    assert ws.cron("0 * * * *").next_after(paris_noon) == utc(2024, 1, 1, 12)


@pytest.mark.parametrize(
    ("preset", "first", "second"),
    [
        ("@hourly", utc(2024, 1, 1, 1), utc(2024, 1, 1, 2)),
        ("@daily", utc(2024, 1, 2), utc(2024, 1, 3)),
        ("@midnight", utc(2024, 1, 2), utc(2024, 1, 3)),
        ("@weekly", utc(2024, 1, 7), utc(2024, 1, 14)),  # Sundays
        ("@monthly", utc(2024, 2, 1), utc(2024, 3, 1)),
        ("@yearly", utc(2025, 1, 1), utc(2026, 1, 1)),
        ("@annually", utc(2025, 1, 1), utc(2026, 1, 1)),
    ],
)
def test_presets_fire_as_their_cron_expressions(preset: str, first: datetime, second: datetime) -> None:
    schedule = ws.cron(preset)
    assert schedule.next_after(utc(2024, 1, 1)) == first
    assert schedule.next_after(first) == second
    assert Cron(ws.PRESETS[preset]).next_after(utc(2024, 1, 1)) == first


def test_presets_are_case_insensitive_and_normalised() -> None:
    assert ws.cron("@DAILY") == ws.cron("@daily")
    assert ws.cron(" 0  3 * * * ").expr == "0 3 * * *"


def test_feb_29_fires_only_in_leap_years_over_eight_years() -> None:
    leap_day = ws.cron("0 0 29 2 *")
    assert leap_day.between(utc(2021, 1, 1), utc(2029, 1, 1)) == [utc(2024, 2, 29), utc(2028, 2, 29)]


def test_feb_29_skips_1900_style_century_years() -> None:
    assert ws.cron("0 0 29 2 *").next_after(utc(2097, 1, 1)) == utc(2104, 2, 29)


def test_the_31st_fires_only_in_months_that_have_one() -> None:
    fires = ws.cron("0 12 31 * *").between(utc(2023, 1, 1), utc(2024, 1, 1))
    assert [f.month for f in fires] == [1, 3, 5, 7, 8, 10, 12]
    assert all(f.day == 31 and f.hour == 12 for f in fires)


def test_day_of_month_and_day_of_week_combine_with_or_as_in_vixie_cron() -> None:
    # the 13th, or any Friday
    fires = ws.cron("0 0 13 * 5").between(utc(2024, 9, 1), utc(2024, 9, 16))
    assert fires == [utc(2024, 9, 6), utc(2024, 9, 13)]


def test_a_day_field_beginning_with_a_star_makes_the_day_fields_combine_with_and() -> None:
    # */2 counts as unrestricted: odd days that are Saturdays, not odd days or Saturdays
    fires = ws.cron("0 16 */2 * sat").between(utc(2024, 9, 1), utc(2024, 12, 1))
    assert [f.date().isoformat() for f in fires] == [
        "2024-09-07", "2024-09-21", "2024-10-05", "2024-10-19", "2024-11-09", "2024-11-23",
    ]  # fmt: skip
    assert all(f.hour == 16 and f.day % 2 == 1 and f.isoweekday() == 6 for f in fires)


def test_a_star_step_in_day_of_week_with_a_day_range_is_the_first_sunday_of_each_month() -> None:
    fires = ws.cron("1 1 1-7 * */7").between(utc(2024, 1, 1), utc(2025, 1, 1))
    assert len(fires) == 12
    assert all(f.day <= 7 and f.isoweekday() == 7 and (f.hour, f.minute) == (1, 1) for f in fires)
    assert [f.day for f in fires[:4]] == [7, 4, 3, 7]  # Jan 7, Feb 4, Mar 3, Apr 7 2024


def test_a_star_in_day_of_month_also_makes_and() -> None:
    # Vixie's rule looks at the first character only: "*" and "*/1" are both unrestricted
    assert ws.cron("0 0 */1 * mon").between(utc(2024, 9, 1), utc(2024, 9, 15)) == [
        utc(2024, 9, 2),
        utc(2024, 9, 9),
    ]
    assert not ws.cron("0 0 */1 * mon").fields.day_or


def test_a_list_that_begins_with_a_value_is_restricted_even_with_a_star_later() -> None:
    schedule = ws.cron("0 0 1,*/10 * mon")  # restricted: the 1st, 11th, 21st, 31st, or any Monday
    assert schedule.fields.day_or
    fires = schedule.between(utc(2024, 9, 1), utc(2024, 9, 15))
    assert [f.day for f in fires] == [1, 2, 9, 11]


def test_restricted_day_fields_that_allow_every_day_still_combine_with_or() -> None:
    # sun-sat is restricted (it does not begin with "*"), so "the 13th or any day" is every day
    fires = ws.cron("0 0 13 * sun-sat").between(utc(2024, 9, 1), utc(2024, 9, 8))
    assert len(fires) == 7


def test_an_equal_range_is_that_one_value_and_is_restricted() -> None:
    assert [f.day for f in ws.cron("0 0 5-5 * *").between(utc(2024, 1, 1), utc(2024, 4, 1))] == [5, 5, 5]
    sundays = ws.cron("0 0 * * Sun-Sun").between(utc(2024, 9, 1), utc(2024, 9, 30))
    assert [f.day for f in sundays] == [1, 8, 15, 22, 29]
    # both restricted, so OR: the 5th, or any Sunday
    either = ws.cron("0 0 5-5 * Sun-Sun").between(utc(2024, 9, 1), utc(2024, 9, 16))
    assert [f.day for f in either] == [1, 5, 8, 15]


def test_day_of_week_7_is_sunday_and_names_are_read_in_any_case() -> None:
    sundays = [utc(2024, 9, 1), utc(2024, 9, 8)]
    assert ws.cron("0 0 * * 7").between(utc(2024, 9, 1), utc(2024, 9, 14)) == sundays
    assert ws.cron("0 0 * * SUN").between(utc(2024, 9, 1), utc(2024, 9, 14)) == sundays
    weekend = ws.cron("0 0 * * 6-7").between(utc(2024, 9, 1), utc(2024, 9, 9))
    assert [f.isoweekday() for f in weekend] == [7, 6, 7]
    assert [f.month for f in ws.cron("0 0 1 Jan-mar/2 *").between(utc(2024, 1, 1), utc(2025, 1, 1))] == [1, 3]


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("0 0 5-3 * *", "runs backwards"),
        ("0 0 * * fri-mon", "runs backwards"),
        ("5/15 * * * *", r"needs a range or '\*'"),
        ("*/0 * * * *", "at least 1"),
        ("0 0 * * sunday", "not a number"),
        ("0 0 L * *", "not a number"),
        ("0 0 * * 5#2", "not a number"),
        ("0 0 1,,2 * *", "not a number"),
        ("0 0 * * 8", "out of range 0-7"),
    ],
)
def test_what_vixie_cron_refuses_is_refused_naming_the_field(expr: str, reason: str) -> None:
    with pytest.raises(ScheduleError, match=reason) as caught:
        ws.cron(expr)
    assert caught.value.field == "schedule"


def test_a_year_of_hourly_fire_times_is_8760_and_quick() -> None:
    begun = time.perf_counter()
    fires = ws.cron("@hourly").between(utc(2023, 1, 1), utc(2024, 1, 1))
    elapsed = time.perf_counter() - begun
    assert len(fires) == 8760
    assert fires[0] == utc(2023, 1, 1) and fires[-1] == utc(2023, 12, 31, 23)
    assert elapsed < 1.0


def test_a_year_of_hourly_fire_times_in_a_dst_zone_is_also_8760() -> None:
    # one hour skipped in March, one hour repeated in October: still one run per elapsed hour
    fires = ws.cron("0 * * * *", tz="Europe/Paris").between(utc(2023, 1, 1), utc(2024, 1, 1))
    assert len(fires) == 8760
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(fires))


def test_the_data_interval_runs_from_the_previous_fire_time() -> None:
    schedule = ws.cron("0 6 * * 1-5")  # weekdays at 06:00
    assert schedule.interval_for(utc(2024, 1, 8, 6)) == (utc(2024, 1, 5, 6), utc(2024, 1, 8, 6))


@pytest.mark.parametrize(
    "expr",
    ["61 * * * *", "* * * *", "0 0 * * * *", "not a cron", "0 25 * * *", "@fortnightly", "", "H * * * *"],
)
def test_an_invalid_cron_expression_names_the_schedule_field(expr: str) -> None:
    with pytest.raises(ScheduleError, match=r"^invalid schedule: ") as caught:
        ws.cron(expr)
    assert caught.value.field == "schedule"
    assert isinstance(caught.value, FlowDefinitionError)


def test_a_cron_expression_for_a_date_that_never_exists_is_refused() -> None:
    with pytest.raises(ScheduleError, match="never exists"):
        ws.cron("0 0 30 2 *")


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "../etc/passwd", "Europe/"])
def test_an_unknown_timezone_names_the_tz_field(tz: str) -> None:
    with pytest.raises(ScheduleError, match=r"^invalid tz: ") as caught:
        ws.cron("@daily", tz=tz)
    assert caught.value.field == "tz"


def test_a_zoneinfo_object_is_accepted_as_tz() -> None:
    assert ws.cron("@daily", tz=ZoneInfo("Asia/Tokyo")) == ws.cron("@daily", tz="Asia/Tokyo")


def test_describe_names_expression_and_timezone() -> None:
    assert ws.cron("0 3 * * *", tz="Europe/Paris").describe() == "cron '0 3 * * *' (Europe/Paris)"


def test_wildcard_detection_follows_vixie_cron() -> None:
    assert ws.cron("*/15 * * * *").follows_wall_clock
    assert ws.cron("0 * * * *").follows_wall_clock
    assert ws.cron("@hourly").follows_wall_clock
    assert not ws.cron("30 2 * * *").follows_wall_clock
    assert not ws.cron("0,30 1-3 * * *").follows_wall_clock  # lists and ranges are not wildcards
