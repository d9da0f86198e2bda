"""Backfills: the intervals one plans (``weir.control.backfill``), and one driven in this process
(``weir.scheduler.backfill``)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest

import weir
from weir.control import backfill as planning
from weir.errors import BackfillError
from weir.schedules import ScheduleError
from weir.sdk.snapshot import snapshot_of


def plan(flow, start, end, **options):
    return planning.plan(snapshot_of(flow), start, end, **options)


def _at(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=UTC)


@weir.task
def noop() -> int:
    return 1


@weir.flow(schedule="@daily")
def daily() -> int:
    return noop()


@weir.flow(schedule=weir.every(hours=6))
def six_hourly() -> int:
    return noop()


@weir.flow(schedule=weir.on_event("ping"))
def on_ping() -> int:
    return noop()


def test_plan_gives_each_interval_whose_logical_date_is_in_the_range_ends_included():
    intervals = plan(daily, _at(1), _at(5))

    assert [i.logical_date for i in intervals] == [_at(d) for d in range(1, 6)]
    assert [i.interval_end for i in intervals] == [_at(d) for d in range(2, 7)]


def test_plan_starts_at_the_first_fire_time_at_or_after_start():
    intervals = plan(six_hourly, _at(1, 1), _at(1, 23))

    assert [i.logical_date for i in intervals] == [_at(1, 6), _at(1, 12), _at(1, 18)]
    assert all(i.interval_end - i.interval_start == timedelta(hours=6) for i in intervals)


def test_plan_reversed_is_newest_first():
    assert [i.logical_date for i in plan(daily, _at(1), _at(3), reverse=True)] == [_at(3), _at(2), _at(1)]


def test_plan_leaves_out_intervals_that_have_not_ended():
    intervals = plan(daily, _at(1), _at(5), now=_at(4, 12))

    assert [i.logical_date for i in intervals] == [_at(1), _at(2), _at(3)]


@pytest.mark.parametrize(
    ("flow", "start", "end", "message"),
    [
        (on_ping, _at(1), _at(2), "has no time schedule"),
        (daily, _at(3), _at(1), "is after end"),
        (daily, datetime(2024, 1, 1), _at(2), "must be timezone-aware"),
        (daily, datetime(1990, 1, 1, tzinfo=UTC), _at(1), "more than 10000 intervals"),
    ],
)
def test_plan_refuses_what_cannot_be_backfilled(flow, start, end, message):
    with pytest.raises(BackfillError, match=message):
        plan(flow, start, end)


def test_parse_date_reads_a_naive_date_in_the_cron_timezone():
    @weir.flow(schedule=weir.cron("0 3 * * *", tz="Europe/Paris"))
    def paris() -> int:
        return noop()

    snapshot = snapshot_of(paris)
    assert planning.parse_date("2024-01-02", field="start", snapshot=snapshot) == datetime(
        2024, 1, 1, 23, tzinfo=UTC
    )
    with pytest.raises(ScheduleError, match="invalid end"):
        planning.parse_date("soon", field="end", snapshot=snapshot)


@pytest.fixture
def flow_file(tmp_path):
    path = tmp_path / "flows.py"
    path.write_text(
        textwrap.dedent(
            """
            import weir

            @weir.task
            def when() -> str:
                return str(weir.context().logical_date)

            @weir.flow(schedule="@daily", max_active_runs=2)
            def dated() -> str:
                return when()
            """
        )
    )
    from weir.sdk.loader import load_flow

    return load_flow(f"{path}:dated")


def test_backfill_makes_and_drives_a_run_per_interval_and_never_twice(flow_file):
    from weir.control.context import Context
    from weir.control.flows import register_snapshot
    from weir.executors.registry import create_executor
    from weir.scheduler.backfill import backfill
    from weir.settings import Settings

    settings = Settings.from_env(executor="inline")
    ctx = Context.of(settings, via="cli")
    snapshot = snapshot_of(flow_file)
    register_snapshot(ctx, snapshot)
    executor = create_executor("inline", settings)
    executor.start()
    intervals = plan(flow_file, _at(1), _at(3))
    ended = []

    report = backfill(ctx, snapshot, intervals, executor=executor, on_end=ended.append)

    assert [item.state for item in report.items] == ["success"] * 3
    assert [item.action for item in report.items] == ["create"] * 3
    assert len(ended) == 3 and not report.stopped
    again = planning.preview(ctx, snapshot, intervals)
    assert [item.action for item in again] == ["succeeded"] * 3
    report = backfill(ctx, snapshot, intervals, executor=executor)
    assert report.driven == []
    from weir.runs import get_run

    run = get_run(report.items[1].run_id, settings)
    assert run.result() == str(_at(2))
    assert run.record.trigger == "backfill" and run.record.interval_end == _at(3)
