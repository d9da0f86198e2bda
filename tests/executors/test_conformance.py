"""Every built-in executor keeps the executor contract (weir.executors.base): one set of assertions,
run over each executor the registry creates by name.

Where the contract lets an executor differ, it says so in its capabilities (pinned per executor in
``DECLARED``): a test of something an executor declares it cannot do checks that declaration, then
skips with the reason.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import flows_for_local as flows
import pytest
from workitems import Items, code_source, finished, wait_for

import weir
from weir.executors.base import (
    Capabilities,
    CodeSource,
    Executor,
    Finished,
    Outcome,
    Report,
    Started,
    Storage,
    WorkItem,
)
from weir.executors.registry import create_executor
from weir.graph.snapshot import CodeKind, CodeRef
from weir.io.logs import log_store
from weir.io.results import ResultRef, load
from weir.settings import Settings

pytestmark = pytest.mark.slow

BUILT_IN = ["inline", "local"]

#: What each built-in executor says it can do; the tests below skip what an executor declares it cannot.
DECLARED = {
    "inline": Capabilities(
        interrupts=False, isolates=False, shares_filesystem=True, reusable=False, runs_in_poll=True
    ),
    "local": Capabilities(interrupts=True, isolates=True, shares_filesystem=True, reusable=True),
}


@pytest.fixture(params=BUILT_IN)
def executor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Executor]:
    """A started executor made by name, with one slot; flow files are found under ``tmp_path``."""
    settings = Settings(
        home=tmp_path / "home",
        database_url="sqlite://",
        executor=request.param,
        workers=1,
        project_root=tmp_path,
    )
    made = create_executor(request.param, settings)
    made.start()
    yield made
    made.shutdown()


@pytest.fixture
def items(tmp_path: Path) -> Items:
    return Items(tmp_path)


def as_elsewhere(ref: ResultRef) -> ResultRef:
    """``ref`` as another process sees it: without the live value an in-process executor keeps."""
    fresh: ResultRef = pickle.loads(pickle.dumps(ref))
    assert not fresh.in_memory
    return fresh


def run_one(executor: Executor, item: WorkItem, within: float = 10.0) -> Finished:
    executor.submit(item)
    return finished(executor, item.key, within)


def wait_until(check: Callable[[], object], within: float = 5.0) -> None:
    """Wait until ``check()`` is true."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not true within {within} s: {check}"
        time.sleep(0.02)


def test_each_executor_declares_what_it_can_do(executor: Executor) -> None:
    assert executor.name in BUILT_IN
    assert executor.capabilities == DECLARED[executor.name]
    assert executor.slots >= executor.parallelism >= 1


def test_a_tasks_result_comes_back(executor: Executor, items: Items) -> None:
    item = items(flows.answering)
    executor.submit(item)
    reports = wait_for(executor, lambda r: isinstance(r, Finished), within=10.0)
    assert [type(r) for r in reports] == [Started, Finished]
    assert {r.key for r in reports} == {item.key}
    done = reports[-1]
    assert isinstance(done, Finished) and done.outcome == Outcome.SUCCESS
    assert done.result is not None and load(done.result) == 42
    assert load(as_elsewhere(done.result)) == 42
    assert done.started_at <= done.ended_at


@pytest.mark.parametrize("kind", [CodeKind.MODULE, CodeKind.FILE, CodeKind.PICKLE])
def test_a_flows_code_is_found_by_module_by_file_and_by_value(
    executor: Executor, items: Items, tmp_path: Path, kind: CodeKind
) -> None:
    if kind == CodeKind.MODULE:
        code, answer = code_source(flows.answering), 42
    elif kind == CodeKind.FILE:
        folder = tmp_path / "flows"
        folder.mkdir()
        (folder / "from_a_file.py").write_text(
            "import weir\n\n\n@weir.task\ndef answer() -> str:\n    return 'from a file'\n\n\n"
            "@weir.flow\ndef from_a_file() -> str:\n    return answer()\n"
        )
        # Relative to the project root, which the executor's workers are told about.
        ref = CodeRef(kind=CodeKind.FILE, target="flows/from_a_file.py")
        code, answer = CodeSource(ref=ref, flow_name="from_a_file", version=uuid.uuid4().hex), "from a file"
    else:

        @weir.task
        def answer_by_value() -> str:
            return "by value"

        @weir.flow
        def by_value() -> str:
            return answer_by_value()

        code, answer = code_source(by_value), "by value"
        assert code.ref.kind == CodeKind.PICKLE and code.payload
    done = run_one(executor, items(code, "answer_by_value" if kind == CodeKind.PICKLE else "answer"))
    assert done.outcome == Outcome.SUCCESS, done.error
    assert done.result is not None and load(as_elsewhere(done.result)) == answer


def test_a_failing_task_reports_failed_with_its_error_and_traceback_and_logs_the_traceback(
    executor: Executor, items: Items
) -> None:
    item = items(flows.failing)
    done = run_one(executor, item)
    assert done.outcome == Outcome.FAILED and not done.ok
    assert done.error == "ValueError: boom: the task failed"
    assert done.traceback is not None
    assert "Traceback" in done.traceback and "ValueError: boom: the task failed" in done.traceback
    log = items.log(item)
    assert "Traceback" in log and "ValueError: boom: the task failed" in log


def test_a_flow_whose_code_cannot_be_found_fails_the_try_saying_why_in_its_report_and_log(
    executor: Executor, items: Items
) -> None:
    ref = CodeRef(kind=CodeKind.MODULE, target="no_such_module_for_weir")
    item = items(CodeSource(ref=ref, flow_name="f", version="1"), "t")
    done = run_one(executor, item)
    assert done.outcome == Outcome.FAILED and done.result is None
    assert done.error == (
        "cannot import no_such_module_for_weir: "
        "ModuleNotFoundError: No module named 'no_such_module_for_weir'"
    )
    assert "No module named 'no_such_module_for_weir'" in items.log(item)

    after = items(flows.answering)
    done = run_one(executor, after)
    assert done.outcome == Outcome.SUCCESS and done.result is not None and load(done.result) == 42


@pytest.mark.parametrize("death", ["os._exit", "SIGKILL"])
def test_a_worker_that_dies_under_its_try_is_lost_and_the_executor_serves_the_next_item(
    executor: Executor, items: Items, tmp_path: Path, death: str
) -> None:
    if not executor.capabilities.isolates:
        assert executor.capabilities == DECLARED[executor.name]
        pytest.skip(f"{executor.name} runs tries in the driver's process: a dying try takes the driver along")
    if death == "os._exit":
        item = items(flows.exiting)
        executor.submit(item)
    else:
        pid_file = tmp_path / "pid"
        item = items(flows.holding, params={"release": str(tmp_path / "never"), "started": str(pid_file)})
        executor.submit(item)
        wait_for(executor, lambda r: isinstance(r, Started), within=10.0)
        wait_until(lambda: pid_file.exists() and pid_file.read_text())
        pid = int(pid_file.read_text())
        assert pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
    done = finished(executor, item.key, within=5.0)
    assert done.outcome == Outcome.LOST and not done.ok
    assert done.error and done.result is None

    after = items(flows.answering)
    done = run_one(executor, after)
    assert done.outcome == Outcome.SUCCESS and done.result is not None and load(done.result) == 42


def test_a_try_past_its_timeout_is_stopped(executor: Executor, items: Items) -> None:
    item = items(flows.napping, timeout=0.5)  # the task sleeps 30 s
    executor.submit(item)
    if executor.capabilities.interrupts:
        # The driver enforces the timeout: once it has passed, it cancels the try.
        wait_for(executor, lambda r: isinstance(r, Started) and r.key == item.key, within=10.0)
        began = time.monotonic()
        early = executor.poll(item.timeout)
        assert not any(isinstance(r, Finished) for r in early)
        time.sleep(max(0.0, (item.timeout or 0) - (time.monotonic() - began)))
        asked = time.monotonic()
        executor.cancel(item.key)
        done = finished(executor, item.key, within=2.0)
        assert time.monotonic() - asked < 2.0
        assert done.outcome == Outcome.CANCELLED and done.result is None
    else:
        # Nothing outside can stop a try running in the driver's thread: the executor interrupts it.
        began = time.monotonic()
        done = finished(executor, item.key, within=5.0)
        assert time.monotonic() - began < 3.0
        assert done.outcome == Outcome.FAILED
        assert done.error == "TaskTimeoutError: task nap timed out after 0.5 s"
        assert done.traceback is not None and "TaskTimeoutError" in done.traceback


def test_cancelling_a_queued_item_reports_it_cancelled_and_it_never_runs(
    executor: Executor, items: Items, tmp_path: Path
) -> None:
    release, side_effect = tmp_path / "release", tmp_path / "touched"
    running = range(executor.parallelism)
    blockers = [items(flows.holding, params={"release": str(release)}) for _ in running]
    for blocker in blockers:
        executor.submit(blocker)
    seen: list[Report] = []
    for blocker in blockers:  # every worker is busy: what comes next waits in the queue
        seen += wait_for(
            executor, lambda r, b=blocker: isinstance(r, Started) and r.key == b.key, within=10.0
        )
    queued = items(flows.touching, params={"path": str(side_effect)})
    executor.submit(queued)
    executor.cancel(queued.key)
    release.touch()
    keys = {queued.key} | {b.key for b in blockers}
    deadline = time.monotonic() + 10.0
    while {r.key for r in seen if isinstance(r, Finished)} != keys and time.monotonic() < deadline:
        seen += executor.poll(0.5)
    done = {r.key: r for r in seen if isinstance(r, Finished)}
    assert set(done) == keys
    assert done[queued.key].outcome == Outcome.CANCELLED and done[queued.key].result is None
    assert all(done[b.key].outcome == Outcome.SUCCESS for b in blockers)
    assert executor.poll(0.2) == []
    assert not any(isinstance(r, Started) and r.key == queued.key for r in seen)
    assert not side_effect.exists()


def test_cancelling_a_running_item_stops_it(executor: Executor, items: Items, tmp_path: Path) -> None:
    if not executor.capabilities.interrupts:
        assert executor.capabilities == DECLARED[executor.name]
        pytest.skip(
            f"{executor.name} runs a try in the driver's thread, where nothing can stop it from outside; "
            "its timeout interrupts it instead"
        )
    release, running, after = tmp_path / "release", tmp_path / "running", tmp_path / "after"
    item = items(
        flows.holding, params={"release": str(release), "started": str(running), "after": str(after)}
    )
    executor.submit(item)
    wait_for(executor, lambda r: isinstance(r, Started), within=10.0)
    wait_until(running.exists)  # the task's own code is running
    asked = time.monotonic()
    executor.cancel(item.key)
    done = finished(executor, item.key, within=2.0)
    assert time.monotonic() - asked < 2.0
    assert done.outcome == Outcome.CANCELLED and done.result is None
    release.touch()
    time.sleep(0.3)
    assert not after.exists()  # the task was stopped where it stood

    next_item = items(flows.answering)
    done = run_one(executor, next_item)
    assert done.outcome == Outcome.SUCCESS and done.result is not None and load(done.result) == 42


def test_cancelling_an_item_reported_started_means_its_task_never_finishes(
    executor: Executor, items: Items, tmp_path: Path
) -> None:
    release, after = tmp_path / "release", tmp_path / "after"
    item = items(flows.holding, params={"release": str(release), "after": str(after)})
    executor.submit(item)
    wait_for(executor, lambda r: isinstance(r, Started) and r.key == item.key, within=10.0)
    executor.cancel(item.key)
    release.touch()
    done = finished(executor, item.key, within=2.0)
    assert done.outcome == Outcome.CANCELLED and done.result is None
    assert executor.poll(0.3) == []
    assert not after.exists()


def test_a_tries_log_can_be_read_while_the_task_still_runs(
    executor: Executor, items: Items, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    item = items(flows.holding, params={"release": str(release)})
    executor.submit(item)
    # An inline executor runs the task in the thread that polls: poll in a thread of its own.
    reports: list[Report] = []
    poller = threading.Thread(
        target=lambda: reports.extend(
            wait_for(executor, lambda r: isinstance(r, Finished) and r.key == item.key, within=15.0)
        )
    )
    poller.start()
    try:
        logs = log_store(item.storage.logs_url)
        wait_until(lambda: "holding until released" in logs.read(item.log_key).text, within=10.0)
        assert poller.is_alive()  # read while the task still runs
    finally:
        release.touch()
        poller.join(timeout=15.0)
    done = next(r for r in reports if isinstance(r, Finished))
    assert done.outcome == Outcome.SUCCESS and done.result is not None and load(done.result) == "released"
    assert items.log(item) == "holding until released\n"


def test_a_large_result_goes_to_the_result_store_and_loads_back_equal(
    executor: Executor, items: Items, tmp_path: Path
) -> None:
    item = items(flows.sizing)
    done = run_one(executor, item)
    assert done.outcome == Outcome.SUCCESS, done.error
    ref = done.result
    assert ref is not None and ref.data is None and ref.url is not None
    assert ref.url.startswith(str(tmp_path / "results"))
    assert ref.size > 10 * 1024 * 1024
    assert load(as_elsewhere(ref)) == flows.BIG


def test_a_result_store_in_memory_works_where_the_executor_shares_the_process(
    executor: Executor, items: Items, tmp_path: Path
) -> None:
    """``memory://`` is a filesystem of one process: only an executor that runs tries in the
    driver's process (``isolates=False``: inline) can put results there for the driver to read.
    One whose workers are processes of their own (local) writes to a memory the driver never
    sees; it shares this machine's folders instead (``shares_filesystem``), which the large
    result test covers, so the memory case runs for inline only."""
    if executor.capabilities.isolates:
        assert executor.capabilities == DECLARED[executor.name]
        assert executor.capabilities.shares_filesystem
        pytest.skip(f"{executor.name}'s workers are processes of their own: memory:// is not shared")
    url = f"memory://weir-conformance-{uuid.uuid4().hex}"
    storage = Storage(results_url=url, logs_url=str(tmp_path / "logs"), inline_max=0)
    done = run_one(executor, items(flows.answering, storage=storage))
    assert done.outcome == Outcome.SUCCESS, done.error
    ref = done.result
    assert ref is not None and ref.data is None and ref.url is not None and ref.url.startswith(url + "/")
    assert load(as_elsewhere(ref)) == 42
