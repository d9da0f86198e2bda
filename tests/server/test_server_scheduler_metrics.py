"""``/metrics`` with a scheduler in the process: its pass duration, loop step duration and lag."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

FLOW = """
import weir


@weir.task
def noop() -> int:
    return 1


@weir.flow(schedule="@hourly")
def hourly() -> int:
    return noop()
"""


def _sample(name: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name) or 0.0


def test_a_scheduler_in_the_process_adds_its_pass_duration_and_lag_to_metrics(
    tmp_path: Path, store_url: str
) -> None:
    from fastapi.testclient import TestClient

    from weir.executors.registry import executor_for
    from weir.scheduler.service import Scheduler
    from weir.server import create_app
    from weir.settings import Settings
    from weir.testing import FakeClock

    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "hourly.py").write_text(textwrap.dedent(FLOW))
    settings = Settings.from_env(executor="inline", flows_dirs=(folder,))
    clock = FakeClock(datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
    scheduler = Scheduler(settings, executor_for(settings), clock=clock)
    try:
        scheduler.tick()  # reads the flow; the 9:00 fire is 30 minutes old
        lag_count, lag_sum = (
            _sample("weir_scheduler_lag_seconds_count"),
            _sample("weir_scheduler_lag_seconds_sum"),
        )
        passes = _sample("weir_scheduler_pass_seconds_count")
        clock.advance(timedelta(minutes=32))  # the 10:00 fire, handled 2 minutes late
        made = scheduler.tick()
        scheduler.step()
    finally:
        scheduler.loop.close()
        scheduler.executor.shutdown()

    assert [c.logical_date for c in made] == [datetime(2024, 5, 1, 9, tzinfo=UTC)]
    assert _sample("weir_scheduler_lag_seconds_count") == lag_count + 1
    assert _sample("weir_scheduler_lag_seconds_sum") - lag_sum == 120.0
    assert _sample("weir_scheduler_pass_seconds_count") >= passes + 2
    with TestClient(create_app(settings)) as client:
        text = client.get("/metrics").text
    assert "# TYPE weir_scheduler_pass_seconds histogram" in text
    assert 'weir_scheduler_pass_seconds_bucket{le="+Inf"}' in text
    assert 'weir_scheduler_lag_seconds_bucket{le="300.0"}' in text
    assert "weir_scheduler_lag_seconds_count" in text
    assert "weir_scheduler_loop_step_seconds_count" in text
    assert "weir_runs{" in text  # the store's series are still there


def test_a_split_api_has_the_heartbeat_age_but_no_scheduler_series(store_url: str) -> None:
    code = textwrap.dedent(
        """
        from fastapi.testclient import TestClient
        from weir.server import create_app

        with TestClient(create_app()) as client:
            print(client.get("/metrics").text)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "# TYPE weir_scheduler_heartbeat_age_seconds gauge" in out
    assert "weir_scheduler_pass_seconds" not in out
    assert "weir_scheduler_lag_seconds" not in out
