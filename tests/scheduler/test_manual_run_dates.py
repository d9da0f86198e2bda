"""A run made by hand is dated as in Airflow: now, or the last ended interval of a scheduled flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import weir


@weir.task
def when() -> list[str | None]:
    ctx = weir.context()
    interval = ctx.data_interval
    return [
        ctx.logical_date.isoformat() if ctx.logical_date else None,
        None if interval is None else interval[0].isoformat(),
        None if interval is None else interval[1].isoformat(),
    ]


@weir.flow(schedule="@hourly")
def hourly() -> list[str | None]:
    return when()


@weir.flow
def unscheduled() -> list[str | None]:
    return when()


def test_a_manual_run_of_a_scheduled_flow_gets_the_interval_that_ended_last(store_url: str) -> None:
    before = datetime.now(UTC)
    run = hourly.run(executor="inline")
    logical, start, end = run.result()
    assert start is not None and end is not None and logical == start
    end_at = datetime.fromisoformat(end)
    assert end_at <= before + timedelta(seconds=1) and end_at.minute == 0 and end_at.second == 0
    assert datetime.fromisoformat(end) - datetime.fromisoformat(start) == timedelta(hours=1)
    assert run.refresh().record.logical_date == datetime.fromisoformat(start)


def test_a_manual_run_of_an_unscheduled_flow_is_dated_when_it_is_made(store_url: str) -> None:
    before = datetime.now(UTC)
    run = unscheduled.run(executor="inline")
    logical, start, end = run.result()
    assert start is None and end is None
    assert logical is not None and before <= datetime.fromisoformat(logical) <= datetime.now(UTC)
