"""Tries as records: made when a try starts, filled in when it ends, made up for a lost try, and
read back when a run is taken up again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from weir.engine import tries
from weir.executors.base import Finished, Outcome
from weir.states import TaskState
from weir.store.records import TaskRunRecord, TryRecord

from .harness import START, cache_entry, ref

LATER = START + timedelta(seconds=5)


def task_run(
    task_id: str = "a", state: str = TaskState.RUNNING, try_number: int = 2, map_index: int = -1
) -> TaskRunRecord:
    return TaskRunRecord(run_id=1, task_id=task_id, map_index=map_index, state=state, try_number=try_number)


def a_try(task_id: str = "a", number: int = 2, state: str = TaskState.SUCCESS, **fields: Any) -> TryRecord:
    return TryRecord(run_id=1, task_id=task_id, map_index=-1, number=number, state=state, **fields)


def test_a_started_try_is_running_with_its_worker_and_log() -> None:
    made = tries.started(1, task_run(), START, "w1", "1/a.try-2.log")
    assert (made.number, made.state, made.started_at, made.worker, made.log_path) == (
        2,
        TaskState.RUNNING,
        START,
        "w1",
        "1/a.try-2.log",
    )


def test_an_ended_try_takes_what_the_executor_reported() -> None:
    made = tries.started(1, task_run(), START, "w1", "log")
    report = Finished(
        key=(1, "a", -1, 2),
        outcome=Outcome.FAILED,
        started_at=START,
        ended_at=LATER,
        error="E: x",
        traceback="tb",
    )
    tries.ended(made, report)
    assert (made.ended_at, made.error, made.traceback, made.worker) == (LATER, "E: x", "tb", "w1")


def test_a_kept_result_is_the_tries_result() -> None:
    made = tries.started(1, task_run(), START, "w1", "log")
    tries.keep_result(made, ref([1, 2]), 2)
    assert tries.ref_of(made) == ref([1, 2])
    assert made.result_length == 2


def test_a_try_lost_in_the_queue_is_interrupted_with_the_reason() -> None:
    lost = tries.lost(1, task_run(state=TaskState.QUEUED), START, tries.LOST_IN_QUEUE)
    assert (lost.number, lost.state, lost.ended_at, lost.error) == (
        2,
        TaskState.INTERRUPTED,
        START,
        tries.LOST_IN_QUEUE,
    )


def test_restore_gives_the_results_of_the_current_tries_that_succeeded() -> None:
    task_runs = {("a", -1): task_run(state=TaskState.SUCCESS)}
    kept = ref("new")
    old = a_try(number=1, result_data=ref("old").data)
    new = a_try(
        number=2, result_data=kept.data, result_size=kept.size, result_digest=kept.digest, result_length=3
    )
    restored = tries.restore(1, task_runs, [old, new], {})
    assert restored.results == {("a", -1): kept}
    assert restored.lengths == {"a": 3}


def test_restore_gives_the_tries_that_were_running() -> None:
    running = a_try(state=TaskState.RUNNING)
    restored = tries.restore(1, {("a", -1): task_run()}, [running], {})
    assert restored.running == {(1, "a", -1, 2): running}
    assert restored.results == {}


def test_restore_reads_a_cached_task_runs_result_from_its_cache_entry() -> None:
    record = task_run(state=TaskState.CACHED, try_number=0)
    record.cache_key = "k1"
    kept = ref([1, 2])
    entry = cache_entry("k1", [1, 2], task_id="a", length=2)
    restored = tries.restore(1, {("a", -1): record}, [], {"k1": entry})
    assert restored.results == {("a", -1): kept}
    assert restored.lengths == {"a": 2}


def test_restore_takes_no_length_from_an_element_of_a_mapped_node() -> None:
    element = task_run(state=TaskState.SUCCESS, map_index=0)
    made = TryRecord(run_id=1, task_id="a", map_index=0, number=2, state=TaskState.SUCCESS, result_length=4)
    assert tries.restore(1, {("a", 0): element}, [made], {}).lengths == {}
