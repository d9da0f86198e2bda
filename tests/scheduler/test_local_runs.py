"""The same semantics on the local executor: worker processes, values passed as pickles."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import weir
from weir.sdk.loader import load_flow

FLOWS = """
import os
import sys
import threading

import weir


@weir.task
def numbers(n: int) -> list[int]:
    return list(range(1, n + 1))


@weir.task
def square(x: int) -> int:
    return x * x


@weir.task
def total(xs: list[int]) -> int:
    return sum(xs)


@weir.task
def whoami() -> dict:
    ctx = weir.context()
    print("stdout of", ctx.task_id)
    print("stderr of", ctx.task_id, file=sys.stderr)
    os.write(1, b"raw fd write\\n")
    ctx.log.info("context log of %s", ctx.task_id)
    return {"pid": os.getpid(), "run_id": ctx.run_id, "params": dict(ctx.params)}


@weir.task(retries=2)
def flaky(counter: str, failures: int) -> int:
    with open(counter, "a") as f:
        f.write("x")
    tries = len(open(counter).read())
    print("try", tries)
    if tries <= failures:
        raise ConnectionError(f"try {tries} failed")
    return tries


@weir.task
def locked() -> object:
    return threading.Lock()


@weir.task
def fragile(x: int) -> int:
    if x == 2:
        raise ValueError("two is not allowed")
    return x


@weir.flow
def everything(n: int = 3) -> dict:
    return {"total": total(square.map(numbers(n))), "who": whoami()}


@weir.flow
def retrying(counter: str, failures: int = 2) -> int:
    return flaky(counter, failures)


@weir.flow
def unpicklable() -> object:
    return locked()


@weir.flow
def partly_failing() -> int:
    return total(fragile.map([1, 2, 3]))
"""


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "local_flows.py"
    path.write_text(textwrap.dedent(FLOWS), encoding="utf-8")
    return path


def test_a_mapped_flow_runs_in_worker_processes(store_url: str, flows_file: Path, states: Callable) -> None:
    run = load_flow(f"{flows_file}:everything").run(executor="local", n="4")
    assert run.state == "success", run.reason
    result = run.result()
    assert result["total"] == 1 + 4 + 9 + 16
    assert result["who"]["pid"] != os.getpid()
    assert result["who"]["run_id"] == run.id
    assert result["who"]["params"] == {"n": 4}
    assert set(states(run).values()) == {"success"}
    assert len(states(run)) == 4 + 4  # four nodes, four mapped elements


def test_a_workers_output_reaches_the_try_log(store_url: str, flows_file: Path) -> None:
    run = load_flow(f"{flows_file}:everything").run(executor="local", n=1)
    text = run.log("whoami")
    for line in ("stdout of whoami", "stderr of whoami", "raw fd write", "context log of whoami"):
        assert line in text


def test_retries_in_a_worker_record_three_tries_each_with_a_log(
    store_url: str, flows_file: Path, tmp_path: Path
) -> None:
    counter = tmp_path / "counter.txt"
    run = load_flow(f"{flows_file}:retrying").run(executor="local", counter=str(counter), failures=2)
    assert run.state == "success"
    assert run.result() == 3
    tries = run.tries("flaky")
    assert [t.state for t in tries] == ["up_for_retry", "up_for_retry", "success"]
    logs = [run.log("flaky", try_number=t.number) for t in tries]
    assert [f"try {n}" in text for n, text in enumerate(logs, start=1)] == [True, True, True]


def test_retries_used_up_in_a_worker_fail_the_run(store_url: str, flows_file: Path, tmp_path: Path) -> None:
    counter = tmp_path / "counter.txt"
    run = load_flow(f"{flows_file}:retrying").run(executor="local", counter=str(counter), failures=5)
    assert run.state == "failed"
    assert len(run.tries("flaky")) == 3
    assert "ConnectionError: try 3 failed" in (run.tries("flaky")[2].error or "")


def test_an_unpicklable_result_in_a_worker_fails_the_task_with_a_message(
    store_url: str, flows_file: Path
) -> None:
    run = load_flow(f"{flows_file}:unpicklable").run(executor="local")
    assert run.state == "failed"
    assert "cannot be pickled" in (run.tries("locked")[0].error or "")


def test_a_failing_element_in_a_worker_fails_the_mapped_node(
    store_url: str, flows_file: Path, states: Callable
) -> None:
    run = load_flow(f"{flows_file}:partly_failing").run(executor="local")
    got = states(run)
    assert (got["fragile"], got["fragile[1]"], got["total"]) == ("failed", "failed", "upstream_failed")
    assert got["fragile[0]"] == got["fragile[2]"] == "success"


def test_the_result_of_a_local_run_reads_back_from_another_handle(store_url: str, flows_file: Path) -> None:
    run = load_flow(f"{flows_file}:everything").run(executor="local", n=2)
    assert weir.get_run(run.id).result()["total"] == 5
