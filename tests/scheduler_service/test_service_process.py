"""The real scheduler in its own process, on the real clock, for a few seconds."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from scheduler_project import Project

import weir

SERVE = """
import dataclasses, signal, sys
from pathlib import Path
from weir.executors.registry import executor_for as _executor_for
from weir.scheduler.service import Scheduler
from weir.settings import Settings

settings = dataclasses.replace(Settings.from_env(), flows_dirs=(Path(sys.argv[1]),))
executor = _executor_for(settings)
scheduler = Scheduler(settings, executor)
signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
print("serving", flush=True)
scheduler.serve(grace=10)
executor.shutdown()
"""

TICK = """import weir


@weir.task
def stamp() -> str:
    return weir.context().logical_date.isoformat()


@weir.flow(schedule=weir.every(seconds=1))
def tick() -> str:
    return stamp()
"""


def test_the_scheduler_process_creates_and_runs_an_every_second_schedule_until_sigterm(
    project: Project, tmp_path: Path
) -> None:
    flows = project.write("tick.py", TICK, header=False)
    env = dict(os.environ, WEIR_WORKERS="2", WEIR_DATABASE_URL=project.settings.database_url)
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(flows)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "serving\n"
        time.sleep(3.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    runs = project.runs("tick")
    assert len(runs) >= 3
    dates = [r.logical_date for r in runs]
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(dates))
    assert all(
        r.trigger == "schedule" and r.interval_end - r.interval_start == timedelta(seconds=1) for r in runs
    )
    # A run made just before SIGTERM may be handed back unfinished (queued, no owner): the
    # next scheduler takes it up. Every run that ended, succeeded.
    ended = [r for r in runs if r.state not in ("queued", "running")]
    assert len(ended) >= 3 and all(r.state == "success" for r in ended)
    assert all(r.owner is None for r in runs)
    assert [weir.get_run(r.id).result() for r in ended] == [r.logical_date.isoformat() for r in ended]
    # after the first (the interval that ended while the process started), each run started
    # soon after its interval ended: its due time
    # (the bound is loose: the suite shares two cores; benchmarks/scheduling.py measures it)
    lateness = [r.started_at - r.interval_end for r in ended[1:] if r.started_at is not None]
    assert len(lateness) == len(ended) - 1 and max(lateness) < timedelta(seconds=1)
