"""API and UI latency on a big store: the run list and the run page with 10,000 and 100,000 runs.

    python benchmarks/api_latency.py                       # SQLite, 10,000 and 100,000 runs
    python benchmarks/api_latency.py --quick               # 10,000 runs only
    python benchmarks/api_latency.py --runs 500            # other store sizes (a smoke test)
    python benchmarks/api_latency.py --postgres URL        # PostgreSQL too (or $WEIR_TEST_POSTGRES_URL)
    python benchmarks/api_latency.py --reps 15             # median of 15 requests (default 9)

Each store is new (SQLite in a temporary folder; PostgreSQL in a new schema, dropped afterwards).
The two flows below are loaded in this process and registered as stored snapshots
(``weir.control.flows.register_snapshot``), then finished runs of their versions are inserted in
bulk into the ``runs``, ``task_runs`` and ``tries`` tables (SQLAlchemy Core, as
``tests/server/test_server_speed.py`` does): 90% of them of ``numbers`` (four tasks), 10% of
``hello`` (one task). Requests go through FastAPI's TestClient in this process, on the app of
``weir.server.app.create_app``; the figure is the server's own time (its ``Server-Timing``
header, routing, queries and rendering), the median of ``--reps`` requests after one warm-up
request; the client's wall time is shown beside it. On PostgreSQL the three filled tables are
ANALYZEd after the load, as autovacuum would do shortly after it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stores import POSTGRES_ENV, fresh_store

BATCH = 5000

FLOWS = '''
import weir


@weir.task
def make(n: int) -> list[int]:
    return list(range(n))


@weir.task
def square(xs: list[int]) -> list[int]:
    return [x * x for x in xs]


@weir.task
def total(xs: list[int]) -> int:
    return sum(xs)


@weir.task
def check(value: int) -> int:
    print("checking", value)
    return value


@weir.flow
def numbers(n: int = 3) -> int:
    """Sum of squares below n, checked."""
    return check(total(square(make(n))))


@weir.task
def greet(name: str) -> str:
    print("hello", name)
    return name


@weir.flow
def hello(name: str = "world") -> str:
    return greet(name)
'''


def seed_runs(store: Any, snapshots: list[Any], count: int, start_id: int) -> None:
    """Insert ``count`` finished runs (one try per task) straight into the store; every tenth run
    is of ``snapshots[1]``, the others of ``snapshots[0]`` (each run names its snapshot's version)."""
    from weir.store.tables import RunRow, TaskRunRow, TryRow

    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    states = ["success"] * 8 + ["failed", "cancelled"]
    tasks = {snapshot.name: list(snapshot.graph.nodes) for snapshot in snapshots}
    for base in range(0, count, BATCH):
        runs, task_runs, tries = [], [], []
        for i in range(base, min(base + BATCH, count)):
            snapshot = snapshots[1] if i % 10 == 9 else snapshots[0]
            run_id = start_id + i
            at = t0 + timedelta(minutes=i)
            state = states[i % len(states)]
            runs.append(
                {
                    "id": run_id,
                    "flow_name": snapshot.name,
                    "flow_version": snapshot.version,
                    "state": state,
                    "params": {},
                    "trigger": "schedule" if i % 2 else "manual",
                    "executor": "local",
                    "created_at": at,
                    "started_at": at,
                    "ended_at": at + timedelta(seconds=5),
                    "cancel_requested": False,
                }
            )
            names = tasks[snapshot.name]
            for j, task_id in enumerate(names):
                task_state = "success" if state == "success" or j < len(names) - 1 else state
                times = {"started_at": at + timedelta(seconds=j), "ended_at": at + timedelta(seconds=j + 1)}
                key = {"run_id": run_id, "task_id": task_id, "map_index": -1, "state": task_state}
                task_runs.append({**key, "try_number": 1, "max_tries": 1, **times})
                tries.append({**key, "number": 1, **times})
        with store.transaction() as tx:
            tx.execute(RunRow.__table__.insert(), runs)
            tx.execute(TaskRunRow.__table__.insert(), task_runs)
            tx.execute(TryRow.__table__.insert(), tries)


def measure(client: Any, path: str, reps: int) -> tuple[float, float]:
    """(median server ms, median wall ms) of ``reps`` GETs of ``path``, after one warm-up."""
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code} {response.text[:300]}")
    server, wall = [], []
    for _ in range(reps):
        started = time.perf_counter()
        response = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        server.append(float(response.headers["server-timing"].split("dur=")[1]))
    return statistics.median(server), statistics.median(wall)


def bench(backend: str, url: str, count: int, folder: Path, reps: int) -> list[tuple[str, float, float]]:
    """Fill the store at ``url`` with ``count`` runs and time the requests."""
    from fastapi.testclient import TestClient

    from weir.control.context import Context
    from weir.control.flows import register_snapshot
    from weir.sdk.loader import load_flow
    from weir.sdk.snapshot import snapshot_of
    from weir.server.app import create_app
    from weir.settings import Settings

    settings = Settings.from_env(database_url=url, executor="inline")
    flow_file = folder / "bench_flows.py"
    flow_file.write_text(textwrap.dedent(FLOWS))
    # The benchmark is the flows' author here, so it may import them; the server never does.
    ctx = Context.of(settings, via="python")
    snapshots = [snapshot_of(load_flow(f"{flow_file}:{name}")) for name in ("numbers", "hello")]
    for snapshot in snapshots:
        register_snapshot(ctx, snapshot)  # the flow versions the runs below name
    started = time.perf_counter()
    seed_runs(ctx.store, snapshots, count, start_id=1)
    if backend == "postgresql":
        from sqlalchemy import text

        # What autovacuum does soon after a bulk load: without it the planner guesses table sizes.
        # The tables of this schema only (search_path): not every schema of the database.
        with ctx.store.transaction() as tx:
            tx.execute(text("ANALYZE runs, task_runs, tries"))
    print(f"{backend}: {count:,} runs inserted in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    middle = 1 + count // 2
    last_page = max(count - 100, 0)
    paths = [
        ("GET /api/v1/runs (first page)", "/api/v1/runs"),
        ("GET /api/v1/runs?flow=hello", "/api/v1/runs?flow=hello"),
        (f"GET /api/v1/runs?offset={last_page}", f"/api/v1/runs?offset={last_page}"),
        (f"GET /api/v1/runs?before={middle}", f"/api/v1/runs?before={middle}"),
        ("GET /api/v1/runs/{id}", f"/api/v1/runs/{middle}"),
        ("GET / (HTML)", "/"),
        ("GET /runs (HTML)", "/runs"),
        ("GET /runs/{id} (HTML)", f"/runs/{middle}"),
    ]
    with TestClient(create_app(settings)) as client:
        return [(label, *measure(client, path, reps)) for label, path in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 runs only")
    parser.add_argument(
        "--postgres", metavar="URL", default=os.environ.get(POSTGRES_ENV), help="PostgreSQL too"
    )
    parser.add_argument("--reps", type=int, default=9, help="requests per figure (median)")
    parser.add_argument(
        "--runs", type=int, nargs="+", metavar="N", help="store sizes (default 10,000 and 100,000)"
    )
    args = parser.parse_args()

    sizes = args.runs or ([10_000] if args.quick else [10_000, 100_000])
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    rows: list[tuple[str, int, str, float, float]] = []
    for backend in backends:
        for count in sizes:
            with tempfile.TemporaryDirectory(prefix="weir-bench-") as tmp:
                folder = Path(tmp)
                os.environ["WEIR_HOME"] = str(folder / "home")
                with fresh_store(folder, args.postgres if backend == "postgresql" else None) as url:
                    for label, server, wall in bench(backend, url, count, folder, args.reps):
                        rows.append((backend, count, label, server, wall))

    print(f"\nserver time (Server-Timing), median of {args.reps}; wall: TestClient round trip\n")
    print("| store | runs | request | server ms | wall ms |")
    print("|---|---:|---|---:|---:|")
    for backend, count, label, server, wall in rows:
        print(f"| {backend} | {count:,} | `{label}` | {server:.1f} | {wall:.1f} |")


if __name__ == "__main__":
    main()
