"""``weir scheduler`` as a real process: it makes scheduled runs, takes triggered and event runs,
honours pause, and stops cleanly on SIGTERM."""

from __future__ import annotations

import itertools
import signal
import time
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

#: The project's flows on a time schedule (see PROJECT_FLOWS in conftest.py).
TIMED = ("daily_etl", "slow_daily", "ticking")


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_scheduler_makes_a_run_each_second_and_stops_cleanly_on_sigterm(spawn, project, store_runs, wait_for):
    proc = spawn("scheduler")
    wait_for(lambda: len([r for r in store_runs() if r["flow_name"] == "ticking"]) >= 1, what="a first run")
    time.sleep(3)

    code, _, err = _stop(proc)

    assert code == 0, err
    assert "scheduler started:" in err and "(3 on a time schedule)" in err
    assert "scheduler stopped" in err
    ticks = [r for r in store_runs() if r["flow_name"] == "ticking"]
    assert len(ticks) >= 3, ticks
    dates = [datetime.fromisoformat(r["logical_date"]) for r in ticks]
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(dates)), dates
    assert {r["trigger"] for r in ticks} == {"schedule"}
    finished = [r["state"] for r in ticks if r["state"] != "queued"]
    assert finished and set(finished) == {"success"}
    # Only runs created in the last moment may still wait, handed back with no owner.
    assert all(r["owner"] is None for r in ticks)
    assert [r["state"] for r in ticks][: len(finished)] == finished


def test_scheduler_runs_a_triggered_run_and_an_event_run(weir, spawn, project, store_runs, wait_for):
    for flow in TIMED:
        assert weir("pause", flow).code == 0
    assert weir("trigger", "manual", "-p", "n=5").code == 0
    assert weir("events", "send", "orders", "--payload", '{"order": 3}', "--id", "x").code == 0
    proc = spawn("scheduler")

    done = wait_for(
        lambda: (rows := store_runs()) and all(r["state"] == "success" for r in rows) and rows,
        what="every queued run to succeed",
    )
    hint = weir("trigger", "manual")
    code, _, err = _stop(proc)

    assert code == 0, err
    assert sorted(r["flow_name"] for r in done) == ["audit_orders", "manual", "on_orders"]
    assert "no scheduler is running" not in hint.err
    assert not [r for r in store_runs() if r["flow_name"] in TIMED]


def test_pause_stops_scheduled_runs(weir, spawn, project, store_runs, wait_for):
    proc = spawn("scheduler")
    wait_for(lambda: any(r["flow_name"] == "ticking" for r in store_runs()), what="a first run")
    assert weir("pause", "ticking").code == 0
    time.sleep(1.5)  # a run may have been made as the pause was written
    before = len([r for r in store_runs() if r["flow_name"] == "ticking"])
    time.sleep(2.5)
    after = len([r for r in store_runs() if r["flow_name"] == "ticking"])
    code, _, err = _stop(proc)

    assert code == 0, err
    assert after == before


def test_scheduler_without_a_project_is_refused(weir):
    result = weir("scheduler")

    assert result.code == 2
    assert "no flow folders" in result.err
