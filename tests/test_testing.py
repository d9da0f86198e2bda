"""``weir.testing``: a task tested with the context a run gives it, a flow run for a chosen
logical date, and a scheduler driven through a day of fake time."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import weir
from weir.errors import ContextError
from weir.testing import FakeClock, run_schedules, task_context


@weir.task
def label() -> str:
    ctx = weir.context()
    assert ctx.logical_date is not None
    return f"{ctx.params['region']}:{ctx.logical_date:%Y-%m-%d}:{ctx.task_id}"


@weir.task
def interval() -> list[str]:
    found = weir.context().data_interval
    return [t.isoformat() for t in found] if found else []


@weir.flow(schedule="@daily")
def daily_report() -> list[str]:
    return interval()


@weir.flow
def unscheduled() -> list[str]:
    return interval()


def test_task_context_makes_weir_context_answer_when_a_task_is_called_directly() -> None:
    with task_context(
        params={"region": "eu"}, logical_date=datetime(2024, 3, 1, tzinfo=UTC), task_id="label"
    ):
        assert label() == "eu:2024-03-01:label"
    with pytest.raises(ContextError):
        label()  # outside the block there is no running task again


def test_task_context_refuses_a_naive_date_and_a_backwards_interval() -> None:
    with pytest.raises(ValueError, match="naive"), task_context(logical_date=datetime(2024, 3, 1)):
        pass
    later, earlier = datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="before it starts"), task_context(data_interval=(later, earlier)):
        pass


def test_a_flow_run_for_a_logical_date_gets_the_interval_its_schedule_has_for_it() -> None:
    run = daily_report.run(executor="inline", logical_date=datetime(2024, 3, 1, tzinfo=UTC))

    assert run.state == "success"
    assert run.result() == ["2024-03-01T00:00:00+00:00", "2024-03-02T00:00:00+00:00"]
    assert run.record.logical_date == datetime(2024, 3, 1, tzinfo=UTC)


def test_a_logical_date_inside_an_interval_gets_that_interval_and_an_unscheduled_flow_none() -> None:
    noon = datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert daily_report.run(executor="inline", logical_date=noon).result() == [
        "2024-03-01T00:00:00+00:00",
        "2024-03-02T00:00:00+00:00",
    ]
    assert unscheduled.run(executor="inline", logical_date=noon).result() == []
    with pytest.raises(ValueError, match="naive"):
        unscheduled.run(executor="inline", logical_date=datetime(2024, 3, 1))


def test_run_schedules_drives_a_day_of_fake_time_with_every_run_made_once_and_run(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "flows").mkdir(parents=True)
    (project / "weir.toml").write_text('[weir]\nflows = ["flows"]\n')
    (project / "flows" / "etl.py").write_text(
        textwrap.dedent(
            """
            import weir

            TRIES = {"n": 0}


            @weir.task
            def stamp() -> str:
                return weir.context().logical_date.isoformat()


            @weir.task(retries=1, retry_delay=600)
            def flaky() -> int:
                TRIES["n"] += 1
                if TRIES["n"] == 1:
                    raise RuntimeError("first try fails; the retry waits 10 minutes of fake time")
                return 1


            @weir.flow(schedule="0 * * * *", start="2024-01-01")
            def hourly() -> str:
                return stamp()


            @weir.flow(schedule="@daily", start="2024-01-01")
            def nightly() -> int:
                return flaky()
            """
        )
    )
    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))

    made = run_schedules(clock, datetime(2024, 1, 2, tzinfo=UTC), project=project)

    hourly = [r for r in made if r.flow_name == "hourly"]
    nightly = [r for r in made if r.flow_name == "nightly"]
    assert [r.logical_date for r in hourly] == [datetime(2024, 1, 1, h, tzinfo=UTC) for h in range(24)]
    assert [(r.logical_date, r.state) for r in nightly] == [(datetime(2024, 1, 1, tzinfo=UTC), "success")]
    assert all(r.state == "success" for r in hourly)
    assert clock.now() >= datetime(2024, 1, 2, tzinfo=UTC)
    assert clock.now() - datetime(2024, 1, 2, tzinfo=UTC) < timedelta(hours=1)
