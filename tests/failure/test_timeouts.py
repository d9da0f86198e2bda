"""Timeouts: a try that runs too long is stopped and counts as a failed try (on the local
executor its worker process is killed and replaced, so code stuck in C stops too); a flow
run that runs too long fails "timed out" and its remaining task runs are cancelled."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from weir.sdk.loader import load_flow

SLEEPER = """
@weir.task(timeout=0.5, retries=1)
def sleeper():
    mark("sleeper")
    if weir.context().try_number == 1:
        time.sleep(30)
    return "woke"


@weir.flow
def sleepy():
    return sleeper()
"""


def test_a_sleeping_task_is_killed_at_its_timeout_and_retried_on_a_new_worker(
    store_url: str,
    one_worker: None,
    flow_file: Callable[..., str],
    side_effects: Callable[[], Counter[str]],
    alive: Callable[[int], bool],
    poll: Callable[..., object],
) -> None:
    started = time.monotonic()
    run = load_flow(flow_file(SLEEPER) + ":sleepy").run(executor="local")

    assert time.monotonic() - started < 15
    assert run.state == "success" and run.result() == "woke"
    first, second = run.tries("sleeper")
    assert first.state == "up_for_retry"
    assert "TaskTimeoutError" in (first.error or "") and "timed out after 0.5 s" in (first.error or "")
    assert second.state == "success"
    assert side_effects() == Counter({"sleeper": 2})
    old_pid = int((first.worker or "").removeprefix("pid "))
    new_pid = int((second.worker or "").removeprefix("pid "))
    assert old_pid != new_pid
    poll(lambda: not alive(old_pid), timeout=5, what=f"the timed-out worker {old_pid} to be gone")


STUCK = """
import os
import subprocess


@weir.task(timeout=0.5)
def blocked_read():
    mark("blocked_read")
    readable, _writable = os.pipe()
    os.read(readable, 1)  # nobody ever writes: blocked in the kernel, not in Python
    return "read"


@weir.task(timeout=0.5)
def in_a_child():
    mark("in_a_child")
    child = subprocess.Popen(["sleep", "30"])
    with open(os.path.join(os.path.dirname(SIDE), "child.pid"), "w") as f:
        f.write(str(child.pid))
    child.wait()
    return "waited"


@weir.flow
def stuck():
    return [blocked_read(), in_a_child()]
"""


def test_tasks_stuck_outside_python_are_stopped_at_their_timeout(
    store_url: str,
    flow_file: Callable[..., str],
    tmp_path: Path,
    alive: Callable[[int], bool],
    poll: Callable[..., object],
    states: Callable,
) -> None:
    started = time.monotonic()
    run = load_flow(flow_file(STUCK) + ":stuck").run(executor="local")

    assert time.monotonic() - started < 15
    assert run.state == "failed"
    assert states(run) == {"blocked_read": "failed", "in_a_child": "failed"}
    for task_id in ("blocked_read", "in_a_child"):
        (only,) = run.tries(task_id)
        assert only.state == "failed"
        assert "TaskTimeoutError" in (only.error or "")
    child = int((tmp_path / "child.pid").read_text())
    poll(lambda: not alive(child), timeout=5, what=f"the task's child process {child} to be killed")


INLINE = """
@weir.task(timeout=0.3)
def spin():
    mark("spin")
    n = 0
    while True:
        n += 1


@weir.task(timeout=0.3, retries=1)
def doze():
    mark("doze")
    time.sleep(30)


@weir.flow
def busy():
    return [spin(), doze()]
"""


def test_the_inline_executor_interrupts_python_code_at_its_timeout(
    store_url: str, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]], states: Callable
) -> None:
    started = time.monotonic()
    run = load_flow(flow_file(INLINE) + ":busy").run(executor="inline")

    assert time.monotonic() - started < 15
    assert states(run) == {"spin": "failed", "doze": "failed"}
    (spun,) = run.tries("spin")
    assert "TaskTimeoutError" in (spun.error or "") and "timed out after 0.3 s" in (spun.error or "")
    assert [t.state for t in run.tries("doze")] == ["up_for_retry", "failed"]
    assert side_effects() == Counter({"spin": 1, "doze": 2})


FLOW_TIMEOUT = """
@weir.task(retries=3)
def slow():
    mark("slow")
    time.sleep(30)


@weir.task
def after(value):
    mark("after")


@weir.task
def quick():
    mark("quick")
    return "quick"


@weir.flow(timeout=1.0)
def bounded():
    quick()
    return after(slow())
"""


def test_a_flow_run_past_its_timeout_fails_timed_out_and_cancels_what_remains(
    store_url: str, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]], states: Callable
) -> None:
    started = time.monotonic()
    run = load_flow(flow_file(FLOW_TIMEOUT) + ":bounded").run(executor="local")

    assert time.monotonic() - started < 15
    assert run.state == "failed"
    assert "timed out" in (run.reason or "")
    assert states(run) == {"slow": "cancelled", "after": "cancelled", "quick": "success"}
    tries = run.tries("slow")
    # No retry once the run is out of time.
    assert [t.state for t in tries] == ["cancelled"], [(t.number, t.state, t.error, t.worker) for t in tries]
    assert run.tries("after") == []
    assert side_effects() == Counter({"slow": 1, "quick": 1})


RULED_TIMEOUT = """
@weir.task(timeout=0.3, retries=2, retry_on=[ConnectionError])
def slow_call():
    mark("slow_call")
    time.sleep(30)


@weir.flow
def ruled_timeout():
    return slow_call()
"""


@pytest.mark.parametrize(
    "executor",
    ["inline", "local"],
)
def test_a_timeout_is_not_retried_when_retry_on_does_not_name_it(
    executor: str, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]]
) -> None:
    run = load_flow(flow_file(RULED_TIMEOUT) + ":ruled_timeout").run(executor=executor)
    assert run.state == "failed"
    assert [t.state for t in run.tries("slow_call")] == ["failed"]
    assert side_effects() == Counter({"slow_call": 1})
