"""A run's result: the flow's return value, stored small in the database or large on disk."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import weir
from weir.runs import RunFailedError


@weir.task
def make(value: object) -> object:
    return value


@weir.task
def big(size: int) -> str:
    return "x" * size


@weir.task
def locked() -> object:
    return threading.Lock()


@weir.task
def boom() -> None:
    raise ValueError("no luck today")


@weir.flow
def single() -> object:
    return make(41)


@weir.flow
def structured() -> object:
    return {"a": make(1), "bs": [make(2), make(3)], "fixed": "text"}


@weir.flow
def mapped() -> object:
    return make.map(["p", "q"])


@weir.flow
def nothing() -> None:
    make(1)


@weir.flow
def failing() -> object:
    return boom()


@weir.flow
def large(size: int = 1000) -> object:
    return big(size)


@weir.flow
def large_structured(size: int = 1000) -> object:
    return {"text": big(size)}


@weir.flow
def unpicklable() -> object:
    return locked()


def test_a_single_reference_return_is_the_task_result(store_url: str) -> None:
    assert single.run(executor="inline").result() == 41


def test_a_dict_and_list_of_references_return_their_values(store_url: str) -> None:
    run = structured.run(executor="inline")
    assert run.result() == {"a": 1, "bs": [2, 3], "fixed": "text"}


def test_a_mapped_return_is_the_list_of_element_results(store_url: str) -> None:
    assert mapped.run(executor="inline").result() == ["p", "q"]


def test_a_flow_returning_nothing_has_result_none(store_url: str) -> None:
    run = nothing.run(executor="inline")
    assert run.state == "success"
    assert run.result() is None


def test_the_result_of_a_failed_run_raises_with_the_reason(store_url: str) -> None:
    run = failing.run(executor="inline")
    assert run.state == "failed"
    with pytest.raises(RunFailedError, match=r"is failed: task\(s\) failed: boom"):
        run.result()
    assert "ValueError: no luck today" in (run.tries("boom")[0].error or "")


@pytest.mark.parametrize("flow", [large, large_structured], ids=["task-result", "flow-result"])
def test_a_result_over_the_inline_limit_goes_to_a_file_and_reads_back(
    store_url: str, weir_home: Path, monkeypatch: pytest.MonkeyPatch, flow: weir.Flow
) -> None:
    monkeypatch.setenv("WEIR_RESULT_INLINE_MAX", "100")
    run = flow.run(executor="inline", size=1000)
    assert run.record.result_data is None
    big_try = run.tries("big")[0]
    assert big_try.result_data is None and big_try.result_size is not None and big_try.result_size > 100
    assert big_try.result_path is not None
    assert Path(big_try.result_path).is_relative_to(weir_home / "results")
    assert Path(big_try.result_path).is_file()
    # A flow returning one task's result points at it; a structure of results is built from them
    # when it is read (the scheduler never loads a task's result).
    assert run.record.result_path == (big_try.result_path if flow is large else None)
    expected = "x" * 1000 if flow is large else {"text": "x" * 1000}
    assert run.result() == expected
    assert weir.get_run(run.id).result() == expected


def test_a_small_result_stays_in_the_database(store_url: str) -> None:
    run = large.run(executor="inline", size=10)
    assert run.record.result_path is None
    assert run.result() == "x" * 10


def test_a_result_that_cannot_be_pickled_fails_the_task_not_the_process(
    store_url: str, states: Callable
) -> None:
    run = unpicklable.run(executor="inline")
    assert run.state == "failed"
    assert states(run) == {"locked": "failed"}
    error = run.tries("locked")[0].error or ""
    assert "cannot be pickled" in error
    assert "lock" in error


def test_another_process_can_read_a_run(store_url: str) -> None:
    run = single.run(executor="inline")
    code = f"import weir; r = weir.get_run({run.id}); print(r.state, r.result())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "success 41"


def test_an_unknown_run_is_not_found(store_url: str) -> None:
    with pytest.raises(weir.WeirError, match="no run 999"):
        weir.get_run(999)
