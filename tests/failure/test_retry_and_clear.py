"""Resume from the point of failure: ``retry`` re-runs only what failed, was cancelled or was
upstream-failed, in the same run with new try numbers; ``clear`` re-runs a chosen subset.
Succeeded task runs are never run again unless cleared."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import weir.runs
from weir.errors import NotFoundError, RunStateError
from weir.sdk.loader import load_flow

PIPELINE = """
FIXED = os.path.join(os.path.dirname(SIDE), "fixed")


@weir.task
def a():
    mark("a")
    return 1


@weir.task
def b(x):
    mark("b")
    if not os.path.exists(FIXED):
        raise RuntimeError("b is broken until the file 'fixed' exists")
    return x + 1


@weir.task
def c(x):
    mark("c")
    return x * 10


@weir.task
def d():
    mark("d")
    return "d"


@weir.flow
def pipeline():
    d()
    return c(b(a()))
"""


def _failed_run(flow_file: Callable[..., str], states: Callable) -> Any:
    run = load_flow(flow_file(PIPELINE) + ":pipeline").run(executor="local")
    assert run.state == "failed"
    assert states(run) == {"a": "success", "b": "failed", "c": "upstream_failed", "d": "success"}
    return run


def test_retry_runs_only_the_failed_task_runs_again_in_the_same_run(
    store_url: str,
    flow_file: Callable[..., str],
    side_effects: Callable[[], Counter[str]],
    tmp_path: Path,
    states: Callable,
) -> None:
    first = _failed_run(flow_file, states)
    assert side_effects() == Counter({"a": 1, "b": 1, "d": 1})

    (tmp_path / "fixed").touch()
    again = weir.runs.retry_run(first.id, executor="local")

    assert again.id == first.id
    assert again.state == "success" and again.result() == 20
    assert states(again) == {"a": "success", "b": "success", "c": "success", "d": "success"}
    assert side_effects() == Counter({"a": 1, "b": 2, "c": 1, "d": 1})
    assert [(t.number, t.state) for t in again.tries("b")] == [(1, "failed"), (2, "success")]
    assert [t.number for t in again.tries("a")] == [1]
    assert [t.number for t in again.tries("c")] == [1]


def test_clear_with_downstream_and_upstream_runs_the_chosen_subset_again(
    store_url: str,
    flow_file: Callable[..., str],
    side_effects: Callable[[], Counter[str]],
    tmp_path: Path,
    states: Callable,
) -> None:
    (tmp_path / "fixed").touch()
    run = load_flow(flow_file(PIPELINE) + ":pipeline").run(executor="local")
    assert run.state == "success"
    assert side_effects() == Counter({"a": 1, "b": 1, "c": 1, "d": 1})

    again = weir.runs.clear_run(run.id, ["b"], downstream=True, executor="local")
    assert again.id == run.id and again.state == "success" and again.result() == 20
    assert side_effects() == Counter({"a": 1, "b": 2, "c": 2, "d": 1})
    assert [t.number for t in again.tries("b")] == [1, 2]

    again = weir.runs.clear_run(run.id, ["c"], upstream=True, executor="local")
    assert again.state == "success" and again.result() == 20
    assert side_effects() == Counter({"a": 2, "b": 3, "c": 3, "d": 1})
    assert [t.number for t in again.tries("c")] == [1, 2, 3]

    again = weir.runs.clear_run(run.id, ["d"], executor="local")
    assert side_effects() == Counter({"a": 2, "b": 3, "c": 3, "d": 2})
    assert states(again) == {"a": "success", "b": "success", "c": "success", "d": "success"}


def test_clear_of_an_unknown_task_and_retry_of_a_run_without_failures_change_nothing(
    store_url: str, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]], tmp_path: Path
) -> None:
    (tmp_path / "fixed").touch()
    run = load_flow(flow_file(PIPELINE) + ":pipeline").run(executor="local")
    assert run.state == "success"

    with pytest.raises(NotFoundError, match="nope"):
        weir.runs.clear_run(run.id, ["nope"], executor="local")
    with pytest.raises(RunStateError):
        weir.runs.retry_run(run.id, executor="local")
    assert weir.runs.get_run(run.id).state == "success"
    assert side_effects() == Counter({"a": 1, "b": 1, "c": 1, "d": 1})


RUNNING = """
@weir.task
def sleeper():
    mark("sleeper")
    time.sleep(30)


@weir.flow
def busy():
    return sleeper()
"""


def test_retry_and_clear_of_a_run_that_is_still_running_are_refused(
    store_url: str,
    flow_file: Callable[..., str],
    run_process: Callable[..., Any],
    poll: Callable[..., Any],
) -> None:
    proc = run_process(flow_file(RUNNING) + ":busy", env={"WEIR_WORKERS": "1"})
    run_id = proc.run_id()

    def running() -> bool:
        try:
            return weir.runs.get_run(run_id).task_run("sleeper").state == "running"
        except NotFoundError:
            return False

    poll(running, timeout=20, what="the task to run")
    with pytest.raises(RunStateError, match="running"):
        weir.runs.retry_run(run_id, executor="local")
    with pytest.raises(RunStateError, match="running"):
        weir.runs.clear_run(run_id, ["sleeper"], executor="local")
    with pytest.raises(RunStateError, match="live process"):
        weir.runs.resume_run(run_id, executor="local")
    run = weir.runs.get_run(run_id)
    assert run.state == "running" and run.task_run("sleeper").state == "running"
    assert [t.state for t in run.tries("sleeper")] == ["running"]
    weir.runs.cancel_run(run_id)
    assert proc.wait(timeout=10) == 0


HELD = """
HOLD = os.path.join(os.path.dirname(SIDE), "hold")


@weir.task
def gate():
    mark("gate")
    deadline = time.monotonic() + 30
    while os.path.exists(HOLD) and time.monotonic() < deadline:
        time.sleep(0.02)
    return "open"


@weir.task
def before():
    mark("before")
    return "before"


@weir.task
def behind(value, other):
    mark("behind")
    return f"{value} {other}"


@weir.flow
def held():
    first = before()
    return behind(gate(), first)
"""


def test_retry_of_a_cancelled_run_runs_only_the_cancelled_task_runs(
    store_url: str,
    flow_file: Callable[..., str],
    run_process: Callable[..., Any],
    poll: Callable[..., Any],
    side_effects: Callable[[], Counter[str]],
    tmp_path: Path,
) -> None:
    (tmp_path / "hold").touch()
    proc = run_process(flow_file(HELD) + ":held", env={"WEIR_WORKERS": "1"})
    run_id = proc.run_id()

    def gate_running() -> bool:
        run = weir.runs.get_run(run_id)
        return run.task_run("gate").state == "running" and run.task_run("before").state == "success"

    poll(gate_running, timeout=20, what="before to succeed and gate to run")
    weir.runs.cancel_run(run_id)
    assert proc.wait(timeout=10) == 0
    cancelled = weir.runs.get_run(run_id)
    assert cancelled.state == "cancelled"
    assert {r.task_id: r.state for r in cancelled.task_runs} == {
        "before": "success",
        "gate": "cancelled",
        "behind": "cancelled",
    }

    (tmp_path / "hold").unlink()
    again = weir.runs.retry_run(run_id, executor="local")
    assert again.id == run_id and again.state == "success"
    assert again.result() == "open before"
    assert side_effects() == Counter({"before": 1, "gate": 2, "behind": 1})
    assert [(t.number, t.state) for t in again.tries("gate")] == [(1, "cancelled"), (2, "success")]
