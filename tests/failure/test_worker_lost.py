"""A worker process killed mid-task is detected within 5 s on the local executor, and its task
run is retried (or failed) by its policy."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import weir.runs
from weir.runs import run_flow
from weir.sdk.loader import load_flow

VICTIMS = """
@weir.task(retries=1)
def victim():
    mark("victim")
    if weir.context().try_number == 1:
        time.sleep(30)
    return "survived"


@weir.task
def fragile():
    mark("fragile")
    time.sleep(30)


@weir.flow
def dangerous():
    return [victim(), fragile()]
"""


class Killer(threading.Thread):
    """Waits until each task's code is running on a worker (its try is recorded running and it
    has written its side effect), then SIGKILLs that worker. (Killing as soon as the try is
    recorded running could hit the worker before the task's first line.)"""

    def __init__(self, run_id: int, task_ids: list[str], ran: Callable[[], Counter[str]]) -> None:
        super().__init__(daemon=True)
        self.run_id = run_id
        self.task_ids = task_ids
        self.ran = ran
        self.killed: dict[str, tuple[int, datetime]] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            deadline = time.monotonic() + 20
            while len(self.killed) < len(self.task_ids) and time.monotonic() < deadline:
                run = weir.runs.get_run(self.run_id)
                for task_id in self.task_ids:
                    if task_id in self.killed:
                        continue
                    running = [t for t in run.tries(task_id) if t.state == "running" and t.worker]
                    if running and self.ran()[task_id] >= running[0].number:
                        pid = int((running[0].worker or "").removeprefix("pid "))
                        os.kill(pid, signal.SIGKILL)
                        self.killed[task_id] = (pid, datetime.now(UTC))
                time.sleep(0.02)
        except BaseException as exc:
            self.error = exc


def test_a_worker_killed_mid_task_is_detected_and_its_task_retried_by_policy(
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    flow_file: Callable[..., str],
    side_effects: Callable[[], Counter[str]],
    states: Callable,
) -> None:
    monkeypatch.setenv("WEIR_WORKERS", "2")
    flow = load_flow(flow_file(VICTIMS) + ":dangerous")
    killers: list[Killer] = []

    def start_killer(run_id: int) -> None:
        killers.append(Killer(run_id, ["victim", "fragile"], side_effects))
        killers[0].start()

    started = time.monotonic()
    run: Any = run_flow(flow, {}, executor="local", on_created=start_killer)
    (killer,) = killers
    killer.join(5)
    assert killer.error is None
    assert time.monotonic() - started < 20

    assert states(run) == {"victim": "success", "fragile": "failed"}
    assert run.state == "failed"
    assert side_effects() == Counter({"victim": 2, "fragile": 1})

    lost, retry = run.tries("victim")
    pid, killed_at = killer.killed["victim"]
    assert lost.state == "up_for_retry"
    assert f"worker process {pid} died (killed by signal SIGKILL)" in (lost.error or "")
    assert retry.state == "success" and retry.worker != lost.worker
    assert retry.started_at is not None
    assert (retry.started_at - killed_at).total_seconds() < 5

    (gone,) = run.tries("fragile")
    pid, killed_at = killer.killed["fragile"]
    assert gone.state == "failed" and f"worker process {pid} died" in (gone.error or "")
    assert gone.ended_at is not None and (gone.ended_at - killed_at).total_seconds() < 5
