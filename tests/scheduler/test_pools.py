"""Pools: a task with ``pool="db"`` runs only while the pool has a free slot, across runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from weir.control.context import Context
from weir.control.pools import set_pool
from weir.control.runs import trigger
from weir.errors import PoolError
from weir.executors.registry import executor_for
from weir.runs import get_run, run_flow
from weir.scheduler.leases import new_owner
from weir.scheduler.loop import Loop
from weir.sdk.loader import load_flow
from weir.sdk.snapshot import snapshot_of
from weir.settings import Settings
from weir.store import runs, tasks
from weir.store.store import open_store

FLOWS = """
import os
import time

import weir

SPANS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spans.txt")


@weir.task
def numbers(n: int) -> list[int]:
    return list(range(n))


@weir.task(pool="db")
def query(i: int) -> int:
    start = time.time()
    time.sleep(0.3)
    with open(SPANS, "a") as f:
        f.write(f"{start} {time.time()}\\n")
    return i


@weir.flow
def pooled(n: int = 6) -> list[int]:
    return query.map(numbers(n))
"""


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "pooled.py"
    path.write_text(FLOWS, encoding="utf-8")
    return path


def _most_at_once(spans_file: Path) -> int:
    spans = [tuple(map(float, line.split())) for line in spans_file.read_text().splitlines()]
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_a_pool_of_two_slots_runs_at_most_two_of_its_tasks_at_once_across_runs(
    store_url: str, flow_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIR_WORKERS", "4")
    settings = Settings.from_env(executor="local")
    ctx = Context.of(settings, via="cli")
    set_pool(ctx, "db", 2)
    snapshot = snapshot_of(load_flow(f"{flow_file}:pooled"))
    made = [trigger(ctx, snapshot, {"n": 4}).run_id for _ in range(2)]
    executor = executor_for(settings)
    loop = Loop(open_store(store_url), executor, new_owner("test", ctx.clock), settings, ctx.clock)
    for run_id in made:
        loop.add(run_id)
    loop.run()  # both runs in one driver, as a scheduler drives them, on four workers
    assert [get_run(run_id).state for run_id in made] == ["success", "success"]
    assert len((flow_file.parent / "spans.txt").read_text().splitlines()) == 8
    assert _most_at_once(flow_file.parent / "spans.txt") == 2


def test_a_pool_that_does_not_exist_is_refused_naming_the_task_and_the_pool(
    store_url: str, flow_file: Path
) -> None:
    flow = load_flow(f"{flow_file}:pooled")
    message = r"task 'query' uses pool 'db', which does not exist.*weir pools set db"
    with pytest.raises(PoolError, match=message):
        flow.run(executor="inline")
    with open_store(store_url).read() as conn:
        assert runs.list_runs(conn).runs == []  # nothing half-made


def test_tasks_of_a_pool_with_no_slots_wait_and_say_why_until_it_gets_one(
    store_url: str, flow_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIR_WORKERS", "2")
    ctx = Context.of(Settings.from_env(), via="cli")
    set_pool(ctx, "db", 0)
    flow = load_flow(f"{flow_file}:pooled")
    made: list[int] = []

    def drive() -> None:
        run_flow(flow, {"n": 2}, executor="local", on_created=made.append)

    thread = threading.Thread(target=drive)
    thread.start()
    deadline = time.monotonic() + 20
    notes: list[str | None] = []
    while time.monotonic() < deadline:
        if made:
            with open_store(store_url).read() as conn:
                rows = [r for r in tasks.get_task_runs(conn, made[0]) if r.map_index >= 0]
            notes = [r.note for r in rows]
            if rows and all(r.state == "scheduled" and r.note for r in rows):
                break
        time.sleep(0.1)
    assert notes and all(n == "waiting for a slot of pool 'db' (0 slots, all in use)" for n in notes)
    time.sleep(0.5)
    assert not (flow_file.parent / "spans.txt").exists()  # nothing ran meanwhile
    set_pool(ctx, "db", 1)
    thread.join(timeout=30)
    run = get_run(made[0])
    assert run.state == "success"
    assert _most_at_once(flow_file.parent / "spans.txt") == 1
    assert all(r.note is None for r in run.task_runs)
