"""``weir runs cancel|retry|clear|resume``, end to end in real processes."""

from __future__ import annotations

import os
import signal

import pytest


@pytest.fixture
def failed_run(weir, project, tmp_path):
    """Run 1: flow ``breaks``, failed at ``fragile`` because the marker file is missing."""
    marker = tmp_path / "marker"
    result = weir("run", "breaks", "-p", f"marker={marker}", "-e", "inline")
    assert result.code == 1, result
    return marker


def _shown(weir, run_id):
    result = weir("runs", "show", str(run_id), "--json")
    return result.json() if result.code == 0 else None  # not made yet


def _tries(weir, run_id, task):
    data = weir("runs", "show", str(run_id), "--json").json()
    [row] = [r for r in data["task_runs"] if r["task_id"] == task]
    return len(row["tries"])


def test_retry_runs_the_failed_tasks_again_in_the_foreground(weir, failed_run):
    still = weir("runs", "retry", "1", "-e", "inline")
    assert still.code == 1, still
    assert "fragile: failed" in still.out

    failed_run.write_text("now here")
    fixed = weir("runs", "retry", "1", "-e", "inline", "--json")

    assert fixed.code == 0, fixed
    data = fixed.json()
    assert data["id"] == 1 and data["state"] == "success" and data["result"] == "FIXED"
    assert _tries(weir, 1, "fragile") == 3


def test_retry_of_a_run_with_nothing_failed_is_refused(weir, project):
    assert weir("run", "manual", "-e", "inline").code == 0

    result = weir("runs", "retry", "1")

    assert result.code == 2
    assert "no failed, cancelled or upstream-failed task" in result.err


def test_clear_runs_the_chosen_task_and_downstream_again(weir, failed_run):
    failed_run.write_text("now here")
    assert weir("runs", "retry", "1", "-e", "inline").code == 0

    result = weir("runs", "clear", "1", "--task", "fragile", "--downstream", "-e", "inline")

    assert result.code == 0, result
    assert "run 1 of flow breaks: success" in result.out
    assert _tries(weir, 1, "fragile") == 3 and _tries(weir, 1, "report") == 2


def test_clear_of_an_unknown_task_is_refused_and_changes_nothing(weir, failed_run):
    result = weir("runs", "clear", "1", "--task", "nope")

    assert result.code == 2
    assert "run 1 has no task 'nope'" in result.err
    assert weir("runs", "show", "1", "--json").json()["state"] == "failed"


def test_cancel_of_a_queued_run_cancels_it_in_place_and_then_refuses(weir, project):
    assert weir("trigger", "sleepy").code == 0

    cancelled = weir("runs", "cancel", "1")
    again = weir("runs", "cancel", "1")

    assert cancelled.code == 0, cancelled
    assert "cancelled (no live process was driving it)" in cancelled.out
    assert again.code == 2 and "has already ended (cancelled)" in again.err
    assert weir("runs", "show", "1", "--json").json()["state"] == "cancelled"


def test_actions_on_an_unknown_run_are_refused(weir, project):
    for action in ("cancel", "retry", "resume"):
        result = weir("runs", action, "42")
        assert result.code == 2, (action, result)
        assert "42" in result.err


@pytest.mark.slow
def test_cancel_of_a_running_run_asks_its_driver(weir, spawn, project, wait_for):
    proc = spawn("run", "sleepy", "-p", "seconds=30")
    wait_for(lambda: (_shown(weir, 1) or {}).get("state") == "running", what="running")

    result = weir("runs", "cancel", "1")
    proc.communicate(timeout=30)

    assert result.code == 0, result
    assert "asked the process that drives it" in result.out
    assert proc.returncode == 1
    assert weir("runs", "show", "1", "--json").json()["state"] == "cancelled"


@pytest.mark.slow
def test_resume_takes_up_a_run_whose_driver_died(weir, spawn, project, wait_for):
    proc = spawn("run", "sleepy", "-p", "seconds=1.5")

    def nap_running():
        data = _shown(weir, 1) or {"task_runs": []}
        return any(t["state"] == "running" for r in data["task_runs"] for t in r["tries"])

    wait_for(nap_running, what="the nap to start")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert weir("runs", "show", "1", "--json").json()["state"] == "running"

    result = weir("runs", "resume", "1", "--json")

    assert result.code == 0, result
    assert result.json()["state"] == "success"
    again = weir("runs", "resume", "1")
    assert again.code == 2 and "has already ended" in again.err


@pytest.mark.slow
def test_retry_with_a_live_scheduler_leaves_the_run_to_it(weir, spawn, failed_run, wait_for):
    for flow in ("ticking", "daily_etl", "slow_daily"):
        assert weir("pause", flow).code == 0
    scheduler = spawn("scheduler")
    wait_for(lambda: "no scheduler" not in weir("trigger", "manual").err, what="the scheduler to register")
    failed_run.write_text("now here")

    result = weir("runs", "retry", "1")

    assert result.code == 0, result
    assert "queued for the running scheduler" in result.out
    wait_for(lambda: weir("runs", "show", "1", "--json").json()["state"] == "success", what="the retry")
    scheduler.send_signal(signal.SIGTERM)
    scheduler.communicate(timeout=60)
    assert scheduler.returncode == 0
