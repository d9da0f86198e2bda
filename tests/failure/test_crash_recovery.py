"""Crash recovery: the process driving a run is killed with SIGKILL at a named point
(``WEIR_CRASH_AT``), the run is taken up again (``resume_run``), and it ends success with
every task run at least once and no task that had succeeded run a second time."""

from __future__ import annotations

import random
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import weir.runs
from weir.settings import Settings
from weir.store import runs
from weir.store.store import open_store

# A chain (extract -> clean -> enrich -> report) and a fan-out (extract -> rows, total ->
# report); every task appends its id to side.txt each time its code runs.
SIX = """
@weir.task(retries=2)
def extract():
    mark("extract")
    time.sleep(0.05)
    return [1, 2, 3]


@weir.task(retries=2)
def clean(xs):
    mark("clean")
    time.sleep(0.05)
    return [x * 2 for x in xs]


@weir.task(retries=2)
def enrich(xs):
    mark("enrich")
    time.sleep(0.05)
    return [x + 1 for x in xs]


@weir.task(retries=2)
def rows(xs):
    mark("rows")
    time.sleep(0.05)
    return len(xs)


@weir.task(retries=2)
def total(xs):
    mark("total")
    time.sleep(0.05)
    return sum(xs)


@weir.task(retries=2)
def report(enriched, n, s):
    mark("report")
    return {"enriched": enriched, "rows": n, "total": s}


@weir.flow
def six():
    xs = extract()
    return report(enrich(clean(xs)), rows(xs), total(xs))
"""

TASKS = ("extract", "clean", "enrich", "rows", "total", "report")
RESULT = {"enriched": [3, 5, 7], "rows": 3, "total": 6}


def _only_run_id() -> int:
    with open_store(Settings.from_env().database_url).read() as conn:
        (run,) = runs.list_runs(conn).runs
    return run.id


def crash_and_resume(
    point: str,
    target: str,
    run_process: Callable[..., Any],
    side_effects: Callable[[], Counter[str]],
    *,
    must_crash: bool = True,
) -> None:
    """Run ``target`` in a process armed to die at ``point``, resume it here, check the outcome."""
    proc = run_process(target, env={"WEIR_CRASH_AT": point})
    code = proc.wait(timeout=60)
    if must_crash or code != 0:
        assert code == -signal.SIGKILL, f"WEIR_CRASH_AT={point}: exit {code}\n{proc.stderr()}"
    run_id = _only_run_id()
    before = weir.runs.get_run(run_id)

    if code == 0 or before.state == "success":
        # The point was not passed that many times, or the crash came after the last step.
        assert before.state == "success" and before.result() == RESULT
        assert set(side_effects()) == set(TASKS)
        return

    assert before.state in ("queued", "running")
    states = {r.task_id: r.state for r in before.task_runs}
    done = {t for t, s in states.items() if s in ("success", "cached")}
    was_running = {t for t, s in states.items() if s == "running"}
    counts = side_effects()

    after = weir.runs.resume_run(run_id, executor="local")

    assert after.id == run_id
    assert after.state == "success", f"WEIR_CRASH_AT={point}: {after.state}: {after.reason}"
    assert after.result() == RESULT
    runs = side_effects()
    assert set(runs) == set(TASKS), f"WEIR_CRASH_AT={point}: some task never ran: {runs}"
    for task_id in done:
        assert runs[task_id] == counts[task_id], f"WEIR_CRASH_AT={point}: {task_id} succeeded, then ran again"
    for task_id in was_running:
        tries = after.tries(task_id)
        assert (tries[0].error or "").startswith("interrupted"), tries
        assert tries[0].state == "interrupted"
        assert [t.number for t in tries] == list(range(1, len(tries) + 1))
        assert tries[-1].state == "success"
    assert {r.task_id: r.state for r in after.task_runs} == dict.fromkeys(TASKS, "success")


@pytest.mark.parametrize(
    "point",
    [
        "run_created",
        "task_queued",
        "task_running",
        "success_written",
        "task_queued:3",
        "task_running:2",
    ],
)
def test_a_run_killed_at_a_crash_point_resumes_to_success_without_rerunning_successes(
    point: str,
    flow_file: Callable[..., str],
    run_process: Callable[..., Any],
    side_effects: Callable[[], Counter[str]],
) -> None:
    crash_and_resume(point, flow_file(SIX) + ":six", run_process, side_effects)


def test_crash_recovery_on_every_store(
    store_url: str,
    flow_file: Callable[..., str],
    run_process: Callable[..., Any],
    side_effects: Callable[[], Counter[str]],
) -> None:
    crash_and_resume("success_written:3", flow_file(SIX) + ":six", run_process, side_effects)


NO_RETRIES = """
@weir.task
def only_once():
    mark("only_once")
    time.sleep(0.5)
    return "done"


@weir.flow
def fragile():
    return only_once()
"""


def test_a_try_interrupted_with_its_driver_runs_again_without_spending_a_retry(
    flow_file: Callable[..., str],
    run_process: Callable[..., Any],
    side_effects: Callable[[], Counter[str]],
) -> None:
    proc = run_process(flow_file(NO_RETRIES) + ":fragile", env={"WEIR_CRASH_AT": "task_running"})
    assert proc.wait(timeout=60) == -signal.SIGKILL
    run_id = _only_run_id()
    assert weir.runs.get_run(run_id).task_run("only_once").state == "running"

    after = weir.runs.resume_run(run_id, executor="local")

    # retries=0, yet the run succeeds: the machine going away is not the task's failure.
    assert after.state == "success"
    assert after.task_run("only_once").state == "success"
    interrupted, done = after.tries("only_once")
    assert interrupted.state == "interrupted" and (interrupted.error or "").startswith("interrupted")
    assert (done.number, done.state) == (2, "success")
    assert side_effects()["only_once"] in (1, 2)  # it may have run to its first line before the kill


def test_a_worker_that_dies_under_a_live_driver_counts_against_the_retries_with_its_signal(
    flow_file: Callable[..., str], states: Callable
) -> None:
    from weir.sdk.loader import load_flow

    flow = load_flow(flow_file(DYING) + ":dying")
    run = flow.run(executor="local")
    assert run.state == "failed"
    (only,) = run.tries("dies")
    assert only.state == "failed" and "killed by signal SIGKILL" in (only.error or "")


DYING = """
@weir.task
def dies():
    os.kill(os.getpid(), 9)


@weir.flow
def dying():
    return dies()
"""


POINTS = ("run_created", "task_queued", "task_running", "success_written")


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20))
def test_crash_recovery_over_many_seeds(
    seed: int,
    flow_file: Callable[..., str],
    run_process: Callable[..., Any],
    side_effects: Callable[[], Counter[str]],
) -> None:
    rng = random.Random(seed)
    point = f"{rng.choice(POINTS)}:{rng.randint(1, 6)}"
    crash_and_resume(point, flow_file(SIX) + ":six", run_process, side_effects, must_crash=False)
