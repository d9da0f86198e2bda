"""Run weir's benchmark workloads and print a table: wall time, per-task overhead, peak RSS.

    python benchmarks/run.py                 # every workload, inline and local
    python benchmarks/run.py --only w1 w5    # a subset
    python benchmarks/run.py --reps 5        # median of 5 (default 3)

Each cell runs in a new process with a fresh WEIR_HOME (SQLite) so its peak RSS is its own.
"W1..W5" go through the normal, recorded path (``flow.run``); the figure is the run's wall
time in a process where the worker pool is already up ("warm"), and the first run of the
process is reported apart ("cold", pool start included). W3 is a whole new `weir run` process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASKS = {"w1_chain": 200, "w2_fan": 502, "w2_fan_mapped": 502, "w4_sleep": 20, "w5_large": 2000}
EXECUTORS = ("inline", "local")


def one(workload: str, executor: str, concurrency: int | None) -> None:
    """Child mode: run ``workload`` twice (cold, then warm) and print one JSON line."""
    sys.path.insert(0, str(HERE))
    import workloads

    import weir  # noqa: F401

    flow = getattr(workloads, workload)
    flow.graph  # noqa: B018 - tracing is load time, not run time
    t0 = time.perf_counter()
    first = flow.run(executor=executor)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = flow.run(executor=executor)
    warm = time.perf_counter() - t0
    ok = first.state == "success" and second.state == "success"
    # Count task runs that ran code: mapped elements, not their summarising parent rows.
    done = sum(1 for t in second.task_runs if t.state == "success" and t.map_count is None)
    print(json.dumps({"cold": cold, "warm": warm, "ok": ok, "tasks": done}))


def measure(workload: str, executor: str, workers: int | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, WEIR_HOME=home)
        if workers:
            env["WEIR_WORKERS"] = str(workers)
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", workload, executor],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # ru_maxrss of this child alone
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss = usage.ru_maxrss / 1024
        if proc.returncode != 0:
            raise SystemExit(f"{workload} on {executor} failed")
        result = json.loads(out.strip().splitlines()[-1])
        result["rss_mb"] = rss
        return result


def cold_process(executor: str) -> float:
    """W3: a whole `weir run` process for a one-task flow, wall seconds."""
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, WEIR_HOME=home)
        weir_bin = Path(sys.executable).parent / "weir"
        cmd = [str(weir_bin), "run", f"{HERE / 'workloads.py'}:one_task", "--executor", executor]
        subprocess.run(cmd, env=env, check=True, capture_output=True)  # first use: creates the store
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "EXECUTOR"), help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", default=None, help="workload name prefixes (w1 w2 ...)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        one(args.child[0], args.child[1], None)
        return
    chosen = [w for w in TASKS if not args.only or any(w.startswith(p) for p in args.only)]
    rows = []
    for workload in chosen:
        for executor in EXECUTORS:
            workers = 4 if workload == "w4_sleep" else None
            cells = [measure(workload, executor, workers) for _ in range(args.reps)]
            warm = statistics.median(c["warm"] for c in cells)
            cold = statistics.median(c["cold"] for c in cells)
            rows.append(
                (
                    workload,
                    executor,
                    warm,
                    warm / TASKS[workload] * 1000,
                    cold,
                    max(c["rss_mb"] for c in cells),
                    all(c["ok"] for c in cells),
                )
            )
            print(
                f"{workload:14} {executor:7} warm {warm:7.3f} s  {warm / TASKS[workload] * 1000:6.2f} ms/task"
                f"  cold {cold:7.3f} s  ok={rows[-1][-1]}",
                file=sys.stderr,
            )
    if not args.only or any("w3".startswith(p) for p in args.only):
        for executor in EXECUTORS:
            walls = [cold_process(executor) for _ in range(args.reps)]
            rows.append(("w3_cold", executor, statistics.median(walls), None, None, None, True))
    print(
        "| workload | executor | wall (s) | per task (ms) | first run in process (s) | peak RSS (MB) | ok |"
    )
    print("|---|---|---|---|---|---|---|")
    for workload, executor, warm, per_task, cold, rss, ok in rows:
        per = f"{per_task:.2f}" if per_task is not None else "-"
        cold_s = f"{cold:.3f}" if cold is not None else "-"
        rss_s = f"{rss:.0f}" if rss is not None else "-"
        print(f"| {workload} | {executor} | {warm:.3f} | {per} | {cold_s} | {rss_s} | {ok} |")


if __name__ == "__main__":
    main()
