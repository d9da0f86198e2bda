"""Interval schedules (weir.every) and the non-time triggers (weir.on_event, weir.on_file)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import weir.schedules as ws
from weir.schedules import Every, ScheduleError


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_every_without_anchor_counts_from_the_unix_epoch() -> None:
    schedule = ws.every(minutes=15)
    assert schedule.next_after(utc(2024, 1, 1, 10, 7)) == utc(2024, 1, 1, 10, 15)
    assert schedule.next_after(utc(2024, 1, 1, 10, 15)) == utc(2024, 1, 1, 10, 30)
    assert schedule.previous_before(utc(2024, 1, 1, 10, 15)) == utc(2024, 1, 1, 10, 0)


def test_every_with_an_anchor_counts_from_it() -> None:
    schedule = ws.every(hours=6, anchor=utc(2024, 1, 1, 1))
    assert schedule.between(utc(2024, 1, 1), utc(2024, 1, 2)) == [
        utc(2024, 1, 1, 1),
        utc(2024, 1, 1, 7),
        utc(2024, 1, 1, 13),
        utc(2024, 1, 1, 19),
    ]
    assert schedule.previous_before(utc(2024, 1, 1, 1)) == utc(2023, 12, 31, 19)


def test_every_accepts_a_timedelta_or_keywords() -> None:
    assert ws.every(timedelta(hours=1, minutes=30)) == ws.every(hours=1, minutes=30)
    assert ws.every(days=1).period == timedelta(days=1)


def test_every_is_elapsed_time_so_a_day_stays_24_hours_across_dst() -> None:
    # anchored at Paris midnight in winter, it moves to 01:00 on the wall clock in summer time
    paris = ZoneInfo("Europe/Paris")
    schedule = ws.every(days=1, anchor=datetime(2024, 3, 30, tzinfo=paris))
    fires = schedule.between(utc(2024, 3, 29), utc(2024, 4, 2))
    assert all(b - a == timedelta(hours=24) for a, b in itertools.pairwise(fires))
    assert [f.astimezone(paris).hour for f in fires] == [0, 0, 1, 1]  # DST begins 2024-03-31


def test_every_interval_is_the_period_before_the_fire_time() -> None:
    assert ws.every(hours=1).interval_for(utc(2024, 1, 1, 5)) == (utc(2024, 1, 1, 4), utc(2024, 1, 1, 5))


def test_every_year_of_hours_is_8760() -> None:
    assert len(ws.every(hours=1).between(utc(2023, 1, 1), utc(2024, 1, 1))) == 8760


@pytest.mark.parametrize(
    "call",
    [
        lambda: ws.every(),
        lambda: ws.every(minutes=-5),
        lambda: ws.every(60),  # a bare number has no unit
        lambda: ws.every(timedelta(hours=1), minutes=5),
        lambda: Every(timedelta(0)),
    ],
)
def test_a_bad_period_names_the_every_field(call: object) -> None:
    with pytest.raises(ScheduleError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.field == "every"


def test_a_naive_anchor_is_refused() -> None:
    with pytest.raises(ScheduleError, match="aware"):
        ws.every(hours=1, anchor=datetime(2024, 1, 1))


def test_describe_reads_naturally() -> None:
    assert ws.every(minutes=15).describe() == "every 15 minutes"
    assert ws.every(days=1).describe() == "every 1 day"


def test_on_event_and_on_file_are_validated_data_without_fire_times() -> None:
    event, files = ws.on_event("warehouse.loaded"), ws.on_file("landing/*.csv")
    assert (event.name, files.glob, files.settle) == ("warehouse.loaded", "landing/*.csv", 5.0)
    assert ws.on_file("landing/*.csv", settle=0).settle == 0
    assert not hasattr(event, "next_after") and not hasattr(files, "next_after")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: ws.on_event(""), "on_event"),
        (lambda: ws.on_event("has space"), "on_event"),
        (lambda: ws.on_file("  "), "on_file"),
        (lambda: ws.on_file("in/*.csv", settle=-1), "on_file"),
        (lambda: ws.on_file("in/*.csv", settle="5"), "on_file"),  # type: ignore[arg-type]
    ],
)
def test_bad_event_names_and_globs_name_their_field(call: object, field: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.field == field
