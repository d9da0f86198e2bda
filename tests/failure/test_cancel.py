"""Cancel: a run driven by a live process stops within 2 s (running tries killed, waiting task
runs cancelled); a run whose driver is dead is cancelled in the store; an ended run refuses."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

import weir.runs
from weir.errors import RunStateError

CANCELLABLE = """
@weir.task
def long_one():
    mark("long_one")
    time.sleep(30)


@weir.task
def long_two():
    mark("long_two")
    time.sleep(30)


@weir.task
def after(value):
    mark("after")


@weir.flow
def cancellable():
    first = long_one()  # first in the graph's order, so it takes the only worker
    long_two()
    return after(first)
"""


def _running(run_id: int, task_id: str) -> bool:
    try:
        return weir.runs.get_run(run_id).task_run(task_id).state == "running"
    except Exception:
        return False  # the run is not written yet


def test_cancel_stops_a_running_run_within_two_seconds(
    store_url: str,
    flow_file: Callable[..., str],
    run_process: Callable[..., Any],
    poll: Callable[..., Any],
    alive: Callable[[int], bool],
) -> None:
    # One worker: long_one runs, long_two waits for the worker, after waits for long_one.
    proc = run_process(flow_file(CANCELLABLE) + ":cancellable", env={"WEIR_WORKERS": "1"})
    run_id = proc.run_id()
    poll(lambda: _running(run_id, "long_one"), timeout=20, what="long_one to run")
    (running,) = weir.runs.get_run(run_id).tries("long_one")
    worker = int((running.worker or "").removeprefix("pid "))

    asked = time.monotonic()
    outcome = weir.runs.cancel_run(run_id)
    assert outcome.requested  # a live process drives the run: it is asked, not overruled
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - asked < 5  # the issue says 2 s; the margin is for slow machines

    run = weir.runs.get_run(run_id)
    assert run.state == "cancelled"
    assert {r.task_id: r.state for r in run.task_runs} == {
        "long_one": "cancelled",
        "long_two": "cancelled",
        "after": "cancelled",
    }
    assert [t.state for t in run.tries("long_one")] == ["cancelled"]
    # long_two was handed to the executor, queued behind the busy worker: it never ran.
    assert [(t.state, t.worker) for t in run.tries("long_two")] in ([], [("cancelled", "")])
    assert run.tries("after") == []
    assert not alive(worker)


def test_cancel_of_an_ended_run_is_refused(store_url: str, flow_file: Callable[..., str]) -> None:
    from weir.sdk.loader import load_flow

    run = load_flow(flow_file("@weir.flow\ndef nothing():\n    return 1\n") + ":nothing").run(
        executor="inline"
    )
    assert run.state == "success"
    with pytest.raises(RunStateError, match="already ended"):
        weir.runs.cancel_run(run.id)
    assert weir.runs.get_run(run.id).state == "success"


def test_cancel_of_a_run_whose_driver_was_killed_cancels_it_in_the_store(
    store_url: str,
    flow_file: Callable[..., str],
    run_process: Callable[..., Any],
    poll: Callable[..., Any],
) -> None:
    proc = run_process(flow_file(CANCELLABLE) + ":cancellable", env={"WEIR_WORKERS": "1"})
    run_id = proc.run_id()
    poll(lambda: _running(run_id, "long_one"), timeout=20, what="long_one to run")
    os.kill(proc.popen.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL

    outcome = weir.runs.cancel_run(run_id)
    assert not outcome.requested

    run = weir.runs.get_run(run_id)
    assert run.state == "cancelled"
    assert {r.task_id: r.state for r in run.task_runs} == {
        "long_one": "cancelled",
        "long_two": "cancelled",
        "after": "cancelled",
    }
    assert [t.state for t in run.tries("long_one")] == ["cancelled"]
    with pytest.raises(RunStateError):
        weir.runs.cancel_run(run_id)


WAITING = """
@weir.task(retries=1, retry_delay=60)
def patient():
    mark("patient")
    raise ConnectionError("down for a minute")


@weir.flow
def waiting():
    return patient()
"""


def test_cancel_ends_a_run_whose_task_is_waiting_for_its_retry(
    store_url: str,
    flow_file: Callable[..., str],
    run_process: Callable[..., Any],
    poll: Callable[..., Any],
) -> None:
    proc = run_process(flow_file(WAITING) + ":waiting")
    run_id = proc.run_id()

    def waiting_for_retry() -> bool:
        return weir.runs.get_run(run_id).task_run("patient").state == "up_for_retry"

    poll(waiting_for_retry, timeout=20, what="the task to wait for its retry")
    asked = time.monotonic()
    weir.runs.cancel_run(run_id)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - asked < 5

    run = weir.runs.get_run(run_id)
    assert run.state == "cancelled"
    assert run.task_run("patient").state == "cancelled"
    assert [t.state for t in run.tries("patient")] == ["up_for_retry"]
