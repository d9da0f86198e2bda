"""A try on a local worker leaves nothing behind for the next one: what it changed in the
process is put back, the processes it started are ended, and a worker it changed beyond repair
(or that ran max_tries_per_worker tries) is replaced."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import flows_for_hygiene as flows
import pytest
from workitems import Items, finished

from weir.errors import SettingsError
from weir.executors import local
from weir.executors.base import CodeSource, Finished
from weir.executors.local import LocalExecutor
from weir.graph.snapshot import CodeKind, CodeRef
from weir.io import results
from weir.sdk.flow import Flow
from weir.settings import Settings

pytestmark = [
    pytest.mark.slow,
    # Reads /proc, and ends escaped processes through a child subreaper: both Linux's.
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only"),
]


@pytest.fixture
def items(tmp_path: Path) -> Items:
    return Items(tmp_path)


@pytest.fixture
def make_executor() -> Iterator[Callable[..., LocalExecutor]]:
    made: list[LocalExecutor] = []

    def make(size: int = 1) -> LocalExecutor:
        executor = LocalExecutor(size)
        executor.start()
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.shutdown()


#: A flow module that sets up its process when imported; this process never imports it.
SETTING_UP = CodeSource(
    ref=CodeRef(kind=CodeKind.MODULE, target="flows_setting_up_at_import"), flow_name="relying", version="1"
)


def run(
    executor: LocalExecutor,
    items: Items,
    flow: Flow | CodeSource,
    task_id: str | None = None,
    **params: object,
) -> Finished:
    item = items(flow, task_id, params=params)
    executor.submit(item)
    return finished(executor, item.key, within=15.0)


def value(done: Finished) -> object:
    assert done.ok, done.error
    return results.load(done.result)


def pid_of(done: Finished) -> int:
    return int(done.worker.removeprefix("pid "))


def gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs (exited, or a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except FileNotFoundError:
        return True


def all_gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(gone(pid) for pid in pids):
            return True
        time.sleep(0.02)
    return all(gone(pid) for pid in pids)


def test_the_next_try_finds_the_process_as_the_worker_left_it(make_executor, items, monkeypatch) -> None:
    monkeypatch.setenv("WEIR_TEST_KEEP", "kept")
    monkeypatch.setenv("WEIR_TEST_CHANGE", "original")
    executor = make_executor(1)
    before = value(run(executor, items, flows.looking))
    meddled = value(run(executor, items, flows.meddling))
    after = value(run(executor, items, flows.looking))
    assert isinstance(before, dict) and isinstance(meddled, dict) and isinstance(after, dict)
    assert before["pid"] == meddled["pid"] == after["pid"]  # one worker ran all three
    # The meddling task did change each of them while it ran...
    for key in ("environ", "c_environ", "cwd", "nofile", "blocked", "alarm", "umask", "sys_path"):
        assert meddled[key] != before[key], key
    for name in flows.SIGNALS:
        assert meddled["handlers"][name] != before["handlers"][name], name
    # ...and the next try finds every one as it was before.
    assert after == before
    assert after["environ"]["WEIR_TEST_KEEP"] == "kept" and "WEIR_TEST_LEAK" not in after["environ"]
    assert after["handlers"]["SIGTERM"] == "SIG_DFL"


def test_what_a_flow_sets_up_at_import_stays_its_own(make_executor, items) -> None:
    executor = make_executor(1)
    first = value(run(executor, items, SETTING_UP, "rely"))
    other = value(run(executor, items, flows.looking))
    again = value(run(executor, items, SETTING_UP, "rely"))
    assert isinstance(first, dict) and isinstance(other, dict) and isinstance(again, dict)
    assert first["pid"] == other["pid"] == again["pid"]
    assert first == again == {"pid": first["pid"], "env": "set at import", "path": True}
    assert "WEIR_TEST_FROM_IMPORT" not in other["environ"]
    assert "/nowhere/weir-test-import" not in other["sys_path"]


def test_processes_a_try_leaves_running_are_ended_when_it_ends(make_executor, items, tmp_path) -> None:
    executor = make_executor(1)
    began = time.monotonic()
    item = items(flows.leaving, params={"folder": str(tmp_path)})
    executor.submit(item)
    done = finished(executor, item.key, within=15.0)
    pids = value(done)
    assert isinstance(pids, dict) and set(pids) == {"child", "stubborn", "setsid", "daemon"}
    try:
        # Gone when the try is reported finished, even the one ignoring SIGTERM (after a grace).
        assert all(gone(pid) for pid in pids.values()), {k: p for k, p in pids.items() if not gone(p)}
    finally:
        for pid in pids.values():  # should any be left, this test's own clean-up
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
    assert time.monotonic() - began < 5.0
    log = items.log(item)
    assert "ended the processes it left running" in log and "sleep" in log
    # The worker carries on with the next try.
    after = value(run(executor, items, flows.looking))
    assert isinstance(after, dict) and after["pid"] == pid_of(done)


def test_cancelling_a_try_also_ends_the_processes_that_escaped_its_group(
    make_executor, items, tmp_path
) -> None:
    executor = make_executor(1)
    item = items(flows.escaping, params={"folder": str(tmp_path)})
    executor.submit(item)
    marker = tmp_path / "setsid"
    deadline = time.monotonic() + 10
    while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
        executor.poll(0.05)
    escaped = int(marker.read_text())
    assert not gone(escaped)
    executor.cancel(item.key)
    assert finished(executor, item.key).error == "cancelled"
    try:
        assert all_gone([escaped], within=3.0)
    finally:
        if not gone(escaped):
            os.kill(escaped, signal.SIGKILL)


def test_max_tries_per_worker_replaces_the_worker_after_that_many_tries(items, tmp_path) -> None:
    env = {"WEIR_WORKERS": "1", "WEIR_MAX_TRIES_PER_WORKER": "2"}
    executor = local.create(Settings.from_env(environ=env, cwd=tmp_path))
    executor.start()
    try:
        batch = [items(flows.looking) for _ in range(3)]
        for item in batch:  # queued at once: the third waits for the new worker
            executor.submit(item)
        done = [finished(executor, item.key, within=15.0) for item in batch]
    finally:
        executor.shutdown()
    pids = [value(d)["pid"] for d in done]  # type: ignore[index]
    assert pids[0] == pids[1] != pids[2]
    assert [pid_of(d) for d in done] == pids
    assert all_gone([pids[0]], within=3.0)


def test_a_lowered_hard_limit_gets_the_worker_replaced_and_says_so(make_executor, items, capfd) -> None:
    executor = make_executor(1)
    before = value(run(executor, items, flows.looking))
    lowered = run(executor, items, flows.lowering)
    assert lowered.ok, lowered.error
    after = value(run(executor, items, flows.looking))
    assert isinstance(before, dict) and isinstance(after, dict)
    old = pid_of(lowered)
    assert before["pid"] == old != after["pid"]
    assert after["nofile"] == before["nofile"]  # a new worker, with the limits workers start with
    assert all_gone([old], within=3.0)
    err = capfd.readouterr().err
    assert f"weir worker pid {old} exits after this try" in err
    assert "RLIMIT_NOFILE" in err and "lowered" in err


def test_a_memory_error_names_the_memory_limit_it_ran_into(make_executor, items) -> None:
    executor = make_executor(1)
    failed = run(executor, items, flows.exhausting)
    assert not failed.ok
    assert failed.error.startswith("MemoryError: could not allocate memory (")
    assert "memory limits: RLIMIT_AS " in failed.error and "MiB" in failed.error
    assert "address space" in failed.error
    # The limit was the try's own: the next try on the same worker may use more.
    allocated = run(executor, items, flows.allocating)
    assert value(allocated) == 512 and pid_of(allocated) == pid_of(failed)


def test_max_tries_per_worker_is_a_setting_of_its_own(tmp_path) -> None:
    assert Settings.from_env(environ={}, cwd=tmp_path).max_tries_per_worker == 0
    env = {"WEIR_MAX_TRIES_PER_WORKER": "50"}
    assert Settings.from_env(environ=env, cwd=tmp_path).max_tries_per_worker == 50
    (tmp_path / "weir.toml").write_text("[weir]\nmax_tries_per_worker = 7\n", encoding="utf-8")
    assert Settings.from_env(environ={}, cwd=tmp_path).max_tries_per_worker == 7
    with pytest.raises(SettingsError, match="max_tries_per_worker must be 0"):
        Settings.from_env(environ={"WEIR_MAX_TRIES_PER_WORKER": "-1"}, cwd=tmp_path)
    with pytest.raises(ValueError, match="max_tries_per_worker"):
        LocalExecutor(1, max_tries_per_worker=-1)


def test_a_flow_run_on_one_local_worker_gives_its_second_task_a_clean_process(monkeypatch) -> None:
    monkeypatch.setenv("WEIR_WORKERS", "1")  # both tasks run on the one worker, one after the other
    monkeypatch.setenv("WEIR_TEST_KEEP", "kept")
    monkeypatch.setenv("WEIR_TEST_CHANGE", "original")
    run = flows.meddling_then_looking.run(executor="local")
    assert run.state == "success", run.reason
    meddled, after = run.task_result("meddle"), run.task_result("look_after")
    assert meddled["pid"] == after["pid"]
    assert meddled["environ"]["WEIR_TEST_LEAK"] == "leaked" and "WEIR_TEST_LEAK" not in after["environ"]
    assert after["environ"]["WEIR_TEST_KEEP"] == "kept" and after["c_environ"] is None
    assert after["handlers"]["SIGTERM"] == "SIG_DFL" and after["cwd"] != "/" and after["umask"] != 0o077
    assert after["nofile"] != meddled["nofile"] and not after["alarm"] and not after["blocked"]
