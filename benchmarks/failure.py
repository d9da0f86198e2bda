"""Failure-handling latencies on the local executor: how fast weir notices and acts.

    .venv/bin/python benchmarks/failure.py              # 10 repetitions of each
    .venv/bin/python benchmarks/failure.py --reps 20

Measures, each over ``--reps`` repetitions in a fresh WEIR_HOME (SQLite):

- worker kill -> retry start: a task's worker process is killed with SIGKILL mid-task; the
  figure is the retry try's recorded ``started_at`` minus the moment of the kill (the issue
  asks for worker loss to be detected within 5 s);
- cancel -> recorded: ``cancel_run`` on a run driven by another process, until the store says
  the run is cancelled;
- cancel -> driver exit: the same request, until the driving process has exited (the issue
  asks for 2 s).

Prints the median and the maximum of each, in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

FLOWS = textwrap.dedent(
    """
    import time

    import weir


    @weir.task(retries=1)
    def victim():
        if weir.context().try_number == 1:
            time.sleep(60)
        return "survived"


    @weir.flow
    def killable():
        return victim()


    @weir.task
    def sleeper():
        time.sleep(60)


    @weir.flow
    def cancellable():
        return sleeper()
    """
)

RUNNER = """
import sys
from weir.runs import run_flow
from weir.sdk.loader import load_flow

run = run_flow(load_flow(sys.argv[1]), {}, executor="local", on_created=lambda i: print(i, flush=True))
"""


def _wait_for(check, timeout: float = 30.0, step: float = 0.005):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("the benchmark waited too long")


def worker_kill_to_retry(flows: str, reps: int) -> list[float]:
    """Seconds from SIGKILL of a busy worker to the start of the task's next try."""
    import weir.runs
    from weir.sdk.loader import load_flow

    flow = load_flow(f"{flows}:killable")
    figures = []
    for _ in range(reps):
        killed: list[datetime] = []

        def kill_when_running(run_id: int, killed: list[datetime] = killed) -> None:
            def kill() -> None:
                def running_worker() -> int | None:
                    for t in weir.runs.get_run(run_id).tries("victim"):
                        if t.state == "running" and t.worker:
                            return int(t.worker.removeprefix("pid "))
                    return None

                pid = _wait_for(running_worker)
                os.kill(pid, signal.SIGKILL)
                killed.append(datetime.now(UTC))

            threading.Thread(target=kill, daemon=True).start()

        run = weir.runs.run_flow(flow, {}, executor="local", on_created=kill_when_running)
        assert run.state == "success", run.reason
        retry = run.tries("victim")[-1]
        assert retry.number == 2 and retry.started_at is not None
        figures.append((retry.started_at - killed[0]).total_seconds())
    return figures


def cancel_latency(flows: str, reps: int) -> tuple[list[float], list[float]]:
    """Seconds from ``cancel_run`` to the run recorded cancelled, and to its driver's exit."""
    import weir.runs

    recorded, exited = [], []
    for _ in range(reps):
        proc = subprocess.Popen(
            [sys.executable, "-c", RUNNER, f"{flows}:cancellable"], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        run_id = int(proc.stdout.readline())
        _wait_for(lambda run_id=run_id: weir.runs.get_run(run_id).task_run("sleeper").state == "running")
        asked = time.monotonic()
        weir.runs.cancel_run(run_id)
        _wait_for(lambda run_id=run_id: weir.runs.get_run(run_id).state == "cancelled", step=0.002)
        recorded.append(time.monotonic() - asked)
        proc.wait(30)
        exited.append(time.monotonic() - asked)
        proc.stdout.close()
    return recorded, exited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10, help="repetitions of each measure (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="weir-bench-failure-") as home:
        os.environ["WEIR_HOME"] = home
        os.environ.pop("WEIR_DATABASE_URL", None)
        os.environ["WEIR_WORKERS"] = "2"
        flows = Path(home) / "failure_flows.py"
        flows.write_text(FLOWS, encoding="utf-8")
        kill = worker_kill_to_retry(str(flows), args.reps)
        recorded, exited = cancel_latency(str(flows), args.reps)
    rows = [
        ("worker kill -> retry start", kill),
        ("cancel -> run recorded cancelled", recorded),
        ("cancel -> driving process exited", exited),
    ]
    print(f"{'measure':<34} {'reps':>4} {'median ms':>10} {'max ms':>8}")
    for name, values in rows:
        median, worst = statistics.median(values) * 1000, max(values) * 1000
        print(f"{name:<34} {len(values):>4} {median:>10.1f} {worst:>8.1f}")


if __name__ == "__main__":
    main()
