"""The local executor runs tries in long-lived worker processes and survives their deaths."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import flows_for_local as flows
import pytest
from workitems import Items, code_source, finished, wait_for

import weir
from weir.executors.base import CodeSource, Finished, Outcome, Report, Started, TryKey
from weir.executors.local import LocalExecutor, for_worker
from weir.graph.snapshot import CodeKind, CodeRef
from weir.io import results

pytestmark = pytest.mark.slow


@pytest.fixture
def items(tmp_path: Path) -> Items:
    return Items(tmp_path)


@pytest.fixture
def make_executor() -> Iterator[Callable[[int], LocalExecutor]]:
    made: list[LocalExecutor] = []

    def make(size: int) -> LocalExecutor:
        executor = LocalExecutor(size)
        executor.start()
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.shutdown()


def finish_all(executor: LocalExecutor, keys: list[TryKey], within: float = 30.0) -> list[Finished]:
    """Poll until every try in ``keys`` has finished; their Finished reports in ``keys`` order."""
    done: dict[TryKey, Finished] = {}
    deadline = time.monotonic() + within
    while len(done) < len(keys) and time.monotonic() < deadline:
        done.update({r.key: r for r in executor.poll(0.5) if isinstance(r, Finished)})
    assert set(done) == set(keys), f"unfinished after {within} s: {set(keys) - set(done)}"
    return [done[key] for key in keys]


def started(executor: LocalExecutor, key: TryKey) -> Started:
    seen = wait_for(executor, lambda r: isinstance(r, Started) and r.key == key)
    return next(r for r in seen if isinstance(r, Started) and r.key == key)


def pid_of(report: Report) -> int:
    assert report.worker.startswith("pid ")
    return int(report.worker.removeprefix("pid "))


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_tasks_result_comes_back(make_executor, items) -> None:
    executor = make_executor(1)
    item = items(flows.answering)
    executor.submit(item)
    reports = wait_for(executor, lambda r: isinstance(r, Finished))
    assert [type(r) for r in reports] == [Started, Finished]
    done = reports[-1]
    assert done.ok and done.key == item.key
    assert results.load(done.result) == 42
    assert done.worker == reports[0].worker != ""


def test_a_failing_task_reports_its_error_and_logs_its_traceback(make_executor, items) -> None:
    executor = make_executor(1)
    item = items(flows.failing)
    executor.submit(item)
    done = finished(executor, item.key)
    assert not done.ok and done.outcome != Outcome.LOST
    assert done.error == "ValueError: boom: the task failed"
    assert "Traceback" in done.traceback and "boom: the task failed" in done.traceback
    log = items.log(item)
    assert "Traceback" in log and "ValueError: boom: the task failed" in log


def test_prints_logging_raw_writes_and_subprocess_output_land_in_the_log(make_executor, items) -> None:
    executor = make_executor(1)
    item = items(flows.talking)
    executor.submit(item)
    assert finished(executor, item.key).ok
    log = items.log(item)
    for line in ("printed line", "to stderr", "logged line", "raw fd line", "from a subprocess"):
        assert line in log
    assert "INFO weir.tests.chatty: logged line" in log


def test_one_worker_runs_many_tries_and_imports_the_flow_module_once(
    make_executor, items, tmp_path, monkeypatch
) -> None:
    import_log = tmp_path / "imports.txt"
    monkeypatch.setenv("WEIR_TEST_IMPORT_LOG", str(import_log))
    executor = make_executor(1)
    batch = [items(flows.identifying) for _ in range(5)]
    for item in batch:  # more than the one slot: the rest wait in the queue
        executor.submit(item)
    pids = set()
    for done in finish_all(executor, [item.key for item in batch]):
        assert done.ok
        pids.add(results.load(done.result))
    (pid,) = pids
    assert import_log.read_text().split() == [str(pid)]


def test_a_flow_defined_in_a_function_is_sent_by_value(make_executor, items) -> None:
    @weir.task
    def double(x: int = 21) -> int:
        return x * 2

    @weir.flow
    def local_flow() -> int:
        return double()

    code = code_source(local_flow)
    assert code.ref.kind == CodeKind.PICKLE and code.payload
    executor = make_executor(2)
    batch = [items(code, "double") for _ in range(6)]
    for item in batch:
        executor.submit(item)
    for done in finish_all(executor, [item.key for item in batch]):
        assert done.ok, done.error
        assert results.load(done.result) == 42


def test_a_flows_payload_is_sent_once_per_worker(items) -> None:
    code = CodeSource(
        ref=CodeRef(kind=CodeKind.PICKLE, target="x"), flow_name="f", version="1", payload=b"code"
    )
    sent_to_one: set[str] = set()
    sent_to_other: set[str] = set()
    first = for_worker(items(code, "t"), sent_to_one)
    second = for_worker(items(code, "t"), sent_to_one)
    other = for_worker(items(code, "t"), sent_to_other)
    assert first.code.payload == b"code"
    assert second.code.payload is None and second.code.key == "f@1:pickle:x"
    assert other.code.payload == b"code"


def test_a_flow_that_cannot_be_loaded_fails_the_try(make_executor, items) -> None:
    executor = make_executor(1)
    code = CodeSource(
        ref=CodeRef(kind=CodeKind.MODULE, target="no_such_module_for_weir"), flow_name="f", version="1"
    )
    item = items(code, "t")
    executor.submit(item)
    done = finished(executor, item.key)
    assert not done.ok and done.outcome != Outcome.LOST
    assert "ModuleNotFoundError" in done.error and "no_such_module_for_weir" in done.error
    assert "ModuleNotFoundError" in items.log(item)


def test_a_killed_worker_is_reported_lost_and_replaced(make_executor, items) -> None:
    executor = make_executor(1)
    item = items(flows.napping)
    executor.submit(item)
    pid = pid_of(started(executor, item.key))
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    done = finished(executor, item.key, within=5.0)
    assert time.monotonic() - killed_at < 5.0
    assert not done.ok and done.outcome == Outcome.LOST
    assert done.error == f"worker process {pid} died (killed by signal SIGKILL) while running this task"
    assert not is_alive(pid)

    after = items(flows.identifying)
    executor.submit(after)
    done = finished(executor, after.key)
    assert done.ok and results.load(done.result) not in (pid, os.getpid())
    assert executor.pids == [results.load(done.result)]


def test_a_worker_that_exits_is_reported_with_its_exit_code(make_executor, items) -> None:
    @weir.task
    def leave() -> None:
        os._exit(3)

    @weir.flow
    def leaving() -> None:
        leave()

    executor = make_executor(1)
    item = items(leaving)
    executor.submit(item)
    done = finished(executor, item.key, within=10.0)
    assert done.outcome == Outcome.LOST and "(exit code 3)" in done.error


def test_cancelling_a_running_try_stops_it_at_once(make_executor, items) -> None:
    executor = make_executor(1)
    item = items(flows.napping)
    executor.submit(item)
    pid = pid_of(started(executor, item.key))
    asked = time.monotonic()
    executor.cancel(item.key)
    done = finished(executor, item.key)
    assert time.monotonic() - asked < 2.0
    assert not done.ok and done.error == "cancelled" and done.outcome != Outcome.LOST
    assert not is_alive(pid)
    after = items(flows.answering)
    executor.submit(after)
    assert finished(executor, after.key).ok


def test_cancelling_a_queued_try_drops_it(make_executor, items) -> None:
    executor = make_executor(1)
    running, queued = items(flows.napping), items(flows.answering)
    executor.submit(running)
    executor.submit(queued)
    executor.cancel(queued.key)
    done = finished(executor, queued.key)
    assert done.error == "cancelled"
    executor.cancel(running.key)
    assert finished(executor, running.key).error == "cancelled"


def test_poll_with_nothing_in_flight_returns_at_once_or_after_its_timeout(make_executor) -> None:
    executor = make_executor(2)
    began = time.monotonic()
    assert executor.poll(None) == []
    assert time.monotonic() - began < 1.0
    began = time.monotonic()
    assert executor.poll(0.2) == []
    assert time.monotonic() - began >= 0.15  # the scheduler sleeps in poll until a retry is due


def test_shutdown_leaves_no_worker_alive(items) -> None:
    executor = LocalExecutor(2)
    executor.start()
    busy, quick = items(flows.napping), items(flows.identifying)
    executor.submit(busy)
    executor.submit(quick)
    seen: list[Report] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
        any(r.key == busy.key for r in seen)
        and any(isinstance(r, Finished) and r.key == quick.key for r in seen)
    ):
        seen.extend(executor.poll(0.5))
    busy_started = next(r for r in seen if r.key == busy.key and isinstance(r, Started))
    quick_done = next(r for r in seen if r.key == quick.key and isinstance(r, Finished))
    pids = {pid_of(busy_started), results.load(quick_done.result)}
    assert pids == set(executor.pids)
    executor.shutdown()
    executor.shutdown()
    assert not any(is_alive(pid) for pid in pids)
    assert executor.poll(None) == []


def test_workers_exit_when_their_parent_dies(tmp_path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, time
            from weir.executors.local import LocalExecutor

            executor = LocalExecutor(2)
            executor.start()
            print(" ".join(map(str, executor.pids)), flush=True)
            time.sleep(0.5)
            os._exit(0)  # no shutdown, no atexit hooks
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=30
    )
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while any(is_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(is_alive(pid) for pid in pids)
