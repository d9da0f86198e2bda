"""API and UI latency on a big store: the run list and the run page with 10,000 and 100,000 runs.

    python benchmarks/api_latency.py                       # SQLite, 10,000 and 100,000 runs
    python benchmarks/api_latency.py --quick               # 10,000 runs only
    python benchmarks/api_latency.py --postgres URL        # PostgreSQL too (or $WEIR_TEST_POSTGRES_URL)
    python benchmarks/api_latency.py --reps 15             # median of 15 requests (default 9)

Each store is new (SQLite in a temporary folder; PostgreSQL in a new schema, dropped afterwards).
Two flows run once for real, then finished runs are inserted in bulk (SQLAlchemy Core, as
``tests/server/test_server_speed.py`` does): 90% of them of ``numbers`` (four tasks), 10% of
``hello`` (one task). Requests go through FastAPI's TestClient in this process; the figure is the
server's own time (its ``Server-Timing`` header, routing, queries and rendering), the median of
``--reps`` requests after one warm-up request; the client's wall time is shown beside it.
PostgreSQL tables are ANALYZEd after the load, as autovacuum would do shortly after it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

POSTGRES_ENV = "WEIR_TEST_POSTGRES_URL"
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


def seed_runs(engine: Any, flows: list[Any], count: int, start_id: int) -> None:
    """Insert ``count`` finished runs (one try per task) straight into the store; every tenth run
    is of ``flows[1]``, the others of ``flows[0]``."""
    from weir.store.db import write
    from weir.store.queries import runs_t, task_runs_t, tries_t

    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    states = ["success"] * 8 + ["failed", "cancelled"]
    tasks = {flow.name: list(flow.graph.nodes) for flow in flows}
    for base in range(0, count, BATCH):
        runs, task_runs, tries = [], [], []
        for i in range(base, min(base + BATCH, count)):
            flow = flows[1] if i % 10 == 9 else flows[0]
            run_id = start_id + i
            at = t0 + timedelta(minutes=i)
            state = states[i % len(states)]
            runs.append(
                {
                    "id": run_id,
                    "flow_name": flow.name,
                    "flow_version": flow.version,
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
            names = tasks[flow.name]
            for j, task_id in enumerate(names):
                task_state = "success" if state == "success" or j < len(names) - 1 else state
                times = {"started_at": at + timedelta(seconds=j), "ended_at": at + timedelta(seconds=j + 1)}
                key = {"run_id": run_id, "task_id": task_id, "map_index": -1, "state": task_state}
                task_runs.append({**key, "try_number": 1, "max_tries": 1, **times})
                tries.append({**key, "number": 1, **times})
        with write(engine) as conn:
            conn.execute(runs_t.insert(), runs)
            conn.execute(task_runs_t.insert(), task_runs)
            conn.execute(tries_t.insert(), tries)


@contextmanager
def sqlite_store(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'weir.db'}"


@contextmanager
def postgres_store(base_url: str) -> Iterator[str]:
    """A new schema in the database at ``base_url``, dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in base_url else "?"
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        from weir.store.db import dispose_engines

        dispose_engines()  # the store's pooled connections, before the schema goes
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


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

    from weir.sdk.loader import load_flow
    from weir.server import create_app
    from weir.settings import Settings
    from weir.store.db import get_engine

    os.environ["WEIR_DATABASE_URL"] = url
    flow_file = folder / "bench_flows.py"
    flow_file.write_text(textwrap.dedent(FLOWS))
    numbers, hello = load_flow(f"{flow_file}:numbers"), load_flow(f"{flow_file}:hello")
    numbers.run(executor="inline")
    last = hello.run(executor="inline")
    started = time.perf_counter()
    seed_runs(get_engine(url), [numbers, hello], count, start_id=last.id + 1)
    if backend == "postgresql":
        from sqlalchemy import text

        # What autovacuum does soon after a bulk load: without it the planner guesses table sizes.
        with get_engine(url).begin() as conn:
            conn.execute(text("ANALYZE"))
    print(f"{backend}: {count:,} runs inserted in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    middle = last.id + count // 2
    paths = [
        ("GET /api/v1/runs (first page)", "/api/v1/runs"),
        ("GET /api/v1/runs?flow=hello", "/api/v1/runs?flow=hello"),
        (f"GET /api/v1/runs?offset={count - 100}", f"/api/v1/runs?offset={count - 100}"),
        (f"GET /api/v1/runs?before={middle}", f"/api/v1/runs?before={middle}"),
        ("GET /api/v1/runs/{id}", f"/api/v1/runs/{middle}"),
        ("GET / (HTML)", "/"),
        ("GET /runs (HTML)", "/runs"),
        ("GET /runs/{id} (HTML)", f"/runs/{middle}"),
    ]
    with TestClient(create_app(Settings.from_env(database_url=url, executor="inline"))) as client:
        return [(label, *measure(client, path, reps)) for label, path in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 runs only")
    parser.add_argument(
        "--postgres", metavar="URL", default=os.environ.get(POSTGRES_ENV), help="PostgreSQL too"
    )
    parser.add_argument("--reps", type=int, default=9, help="requests per figure (median)")
    args = parser.parse_args()

    sizes = [10_000] if args.quick else [10_000, 100_000]
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    rows: list[tuple[str, int, str, float, float]] = []
    for backend in backends:
        for count in sizes:
            with tempfile.TemporaryDirectory(prefix="weir-bench-") as tmp:
                folder = Path(tmp)
                os.environ["WEIR_HOME"] = str(folder / "home")
                store = sqlite_store(folder) if backend == "sqlite" else postgres_store(args.postgres)
                with store as url:
                    for label, server, wall in bench(backend, url, count, folder, args.reps):
                        rows.append((backend, count, label, server, wall))
                from weir.store.db import dispose_engines

                dispose_engines()

    print(f"\nserver time (Server-Timing), median of {args.reps}; wall: TestClient round trip\n")
    print("| store | runs | request | server ms | wall ms |")
    print("|---|---:|---|---:|---:|")
    for backend, count, label, server, wall in rows:
        print(f"| {backend} | {count:,} | `{label}` | {server:.1f} | {wall:.1f} |")


if __name__ == "__main__":
    main()
