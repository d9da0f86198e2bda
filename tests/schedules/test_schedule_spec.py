"""parse_schedule / parse_spec: what @weir.flow(schedule=..., start=..., ...) accepts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import weir.schedules as ws
from weir.errors import FlowDefinitionError
from weir.schedules import (
    Cron,
    Every,
    OnEvent,
    OnFile,
    ScheduleError,
    ScheduleSpec,
    parse_schedule,
    parse_spec,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_cron_string_becomes_a_utc_cron() -> None:
    assert parse_schedule("0 3 * * *") == (Cron("0 3 * * *"),)


def test_a_flow_level_tz_applies_to_cron_strings() -> None:
    assert parse_schedule("0 3 * * *", tz="Europe/Paris") == (Cron("0 3 * * *", tz="Europe/Paris"),)


def test_a_schedule_object_keeps_its_own_tz() -> None:
    tokyo = ws.cron("@daily", tz="Asia/Tokyo")
    assert parse_schedule(tokyo, tz="Europe/Paris") == (tokyo,)


def test_a_preset_a_timedelta_and_a_list_are_accepted() -> None:
    parsed = parse_schedule(["@hourly", timedelta(minutes=5), ws.on_event("go"), ws.on_file("*.csv")])
    assert parsed == (Cron("@hourly"), Every(timedelta(minutes=5)), OnEvent("go"), OnFile("*.csv"))


def test_none_means_no_schedule() -> None:
    assert parse_schedule(None) == ()
    assert parse_spec().schedules == ()


@pytest.mark.parametrize("value", [42, {"cron": "@daily"}, [["@daily"]], b"@daily"])
def test_anything_else_names_the_schedule_field(value: object) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(value)
    assert caught.value.field == "schedule"


def test_defaults_match_the_issue() -> None:
    spec = parse_spec("@daily")
    assert (spec.catchup, spec.max_active_runs, spec.paused, spec.start, spec.end) == (
        False,
        16,
        False,
        None,
        None,
    )


def test_start_and_end_accept_a_date_a_datetime_or_an_iso_string() -> None:
    by_date = parse_spec("@daily", start=date(2024, 1, 1), end=date(2024, 2, 1))
    by_string = parse_spec("@daily", start="2024-01-01", end="2024-02-01T00:00:00Z")
    by_datetime = parse_spec("@daily", start=utc(2024, 1, 1), end=datetime(2024, 2, 1))
    assert by_date == by_string == by_datetime
    assert by_date.start == utc(2024, 1, 1) and by_date.end == utc(2024, 2, 1)


def test_naive_start_is_read_in_the_schedule_timezone_and_a_date_means_midnight() -> None:
    spec = parse_spec(ws.cron("@daily", tz="Europe/Paris"), start="2024-07-01", end=datetime(2024, 7, 2, 6))
    assert spec.start == utc(2024, 6, 30, 22)  # midnight in Paris, summer time
    assert spec.end == utc(2024, 7, 2, 4)


def test_naive_start_is_read_in_the_flow_tz_when_given() -> None:
    assert parse_spec("@daily", tz="America/New_York", start="2024-01-01").start == utc(2024, 1, 1, 5)


def test_naive_start_without_any_tz_is_utc() -> None:
    assert parse_spec(ws.every(hours=1), start="2024-01-01T06:00").start == utc(2024, 1, 1, 6)


def test_an_explicit_offset_wins_over_the_schedule_timezone() -> None:
    spec = parse_spec(ws.cron("@daily", tz="Europe/Paris"), start="2024-01-01T00:00+05:00")
    assert spec.start == utc(2023, 12, 31, 19)


def test_all_spec_times_are_utc() -> None:
    spec = parse_spec("@daily", start=datetime(2024, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo")))
    assert spec.start is not None and spec.start.tzinfo is UTC


def test_start_after_end_names_the_start_field() -> None:
    with pytest.raises(ScheduleError, match="after end") as caught:
        parse_spec("@daily", start="2024-02-01", end="2024-01-01")
    assert caught.value.field == "start"
    assert isinstance(caught.value, FlowDefinitionError)


@pytest.mark.parametrize(
    ("field", "value"), [("start", "yesterday"), ("end", "2024-13-01"), ("start", 1704067200)]
)
def test_an_unreadable_start_or_end_names_its_field(field: str, value: object) -> None:
    with pytest.raises(ScheduleError, match=f"^invalid {field}: ") as caught:
        parse_spec("@daily", **{field: value})  # type: ignore[arg-type]
    assert caught.value.field == field


def test_an_unknown_flow_tz_names_the_tz_field() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_spec("@daily", tz="Europe/Atlantis")
    assert caught.value.field == "tz"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_active_runs": 0}, "max_active_runs"),
        ({"max_active_runs": True}, "max_active_runs"),
        ({"catchup": "yes"}, "catchup"),
        ({"paused": 1}, "paused"),
    ],
)
def test_bad_policy_values_name_their_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_spec("@daily", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_an_every_without_anchor_is_anchored_at_start() -> None:
    spec = parse_spec(ws.every(hours=6), start="2024-01-01T01:00Z")
    (schedule,) = spec.time_schedules
    assert schedule.next_after(utc(2024, 1, 1, 2)) == utc(2024, 1, 1, 7)


def test_an_every_with_its_own_anchor_keeps_it() -> None:
    spec = parse_spec(ws.every(hours=6, anchor=utc(2024, 1, 1, 3)), start="2024-01-01T01:00Z")
    (schedule,) = spec.time_schedules
    assert schedule.next_after(utc(2024, 1, 1, 2)) == utc(2024, 1, 1, 3)


def test_the_spec_splits_its_triggers_by_kind() -> None:
    spec = parse_spec(["@daily", ws.on_event("go"), ws.on_file("in/*.csv")])
    assert spec.time_schedules == (Cron("@daily"),)
    assert spec.events == (OnEvent("go"),)
    assert spec.files == (OnFile("in/*.csv"),)


def test_a_spec_survives_a_round_trip_through_a_dict() -> None:
    spec = parse_spec(
        ["0 3 * * *", ws.every(minutes=90), ws.on_event("go"), ws.on_file("in/*.csv")],
        tz="Europe/Paris",
        start="2024-01-01",
        end="2024-12-31",
        catchup=True,
        max_active_runs=3,
        paused=True,
    )
    data = spec.to_dict()
    assert ScheduleSpec.from_dict(data) == spec
    assert data["schedules"][0] == {"kind": "cron", "expr": "0 3 * * *", "tz": "Europe/Paris"}
