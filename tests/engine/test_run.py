"""RunEngine end to end, driven by hand: reports in, state changes and work items out."""

from __future__ import annotations

from datetime import timedelta

import weir
from weir.engine.tries import INTERRUPTED, LOST_IN_QUEUE
from weir.executors.base import Outcome
from weir.states import RunState, TaskState
from weir.store.records import TaskRunRecord, TryRecord

from .harness import START, Harness, records_of, ref


@weir.task
def extract() -> list[int]:
    return [1, 2]


@weir.task
def transform(xs: list[int]) -> list[int]:
    return xs


@weir.task
def load(xs: list[int]) -> int:
    return len(xs)


@weir.task(retries=2, retry_delay=10, retry_backoff=2)
def flaky() -> None:
    return None


@weir.task(timeout=5)
def slow() -> None:
    return None


@weir.task(pool="db")
def query() -> None:
    return None


@weir.task(pool="db", retries=1, retry_delay=5)
def pooled_retry() -> None:
    return None


@weir.task(cache=True)
def expensive() -> int:
    return 5


@weir.flow
def chain() -> int:
    return load(transform(extract()))


@weir.flow
def flaky_flow() -> None:
    load(flaky())


@weir.flow
def slow_flow() -> None:
    slow()


@weir.flow
def pooled() -> None:
    query()


@weir.flow
def pooled_retries() -> None:
    pooled_retry()


@weir.flow
def cached_flow() -> None:
    load(expensive())


@weir.flow
def wide() -> None:
    transform(extract())
    load([1])


@weir.flow(timeout=60)
def bounded() -> None:
    transform(extract())


def announce(ctx: object) -> None:
    return None


@weir.flow(on_success=announce)
def announced() -> None:
    extract()


def test_a_chain_completes_with_one_try_per_task() -> None:
    run = Harness(chain)
    run.drain()
    tried = []
    while items := run.take():
        (item,) = items
        run.succeed(item, {"extract": [1, 2], "transform": [1, 2], "load": 2}[item.task_id])
        tried += [(t.task_id, t.number) for t in run.drain().new_tries]
    assert tried == [("extract", 1), ("transform", 1), ("load", 1)]
    assert run.run_state == RunState.SUCCESS


def test_the_runs_success_is_written_with_the_returned_tasks_result() -> None:
    run = Harness(chain)
    run.run_through({"load": 2})
    (change,) = [c for c in run.drain().runs if c.state == RunState.SUCCESS]
    assert (change.expected, change.result_data, change.ended_at) == (RunState.RUNNING, ref(2).data, START)


def test_a_failed_try_waits_its_retry_delay_on_the_clock() -> None:
    run = Harness(flaky_flow)
    run.fail(run.take_one("flaky"))
    assert run.state("flaky") == TaskState.UP_FOR_RETRY
    assert run.engine.wake_at() == 10.0
    run.clock.advance(9.9)
    run.engine.on_tick()
    assert run.take() == []
    run.clock.advance(0.1)
    run.engine.on_tick()
    assert [i.try_number for i in run.take()] == [2]


def test_the_try_number_is_given_at_take_and_written_before_the_item_leaves() -> None:
    run = Harness(flaky_flow)
    run.fail(run.take_one("flaky"))
    run.clock.advance(10)
    run.engine.on_tick()
    run.drain()
    (item,) = run.take()
    (change,) = run.drain().task_runs
    assert (item.try_number, item.log_key) == (2, "1/flaky.try-2.log")
    assert (change.expected, change.record.state, change.record.try_number) == (
        TaskState.UP_FOR_RETRY,
        TaskState.QUEUED,
        2,
    )


def test_each_retry_waits_longer_by_the_backoff() -> None:
    run = Harness(flaky_flow)
    run.fail(run.take_one("flaky"))
    run.clock.advance(10)
    run.engine.on_tick()
    run.fail(run.take_one("flaky"))
    assert run.engine.wake_at() == 10.0 + 20.0


def test_a_task_fails_once_its_tries_are_spent() -> None:
    run = Harness(flaky_flow)
    for wait in (10, 20, 0):
        run.fail(run.take_one("flaky"), "ValueError: no")
        run.clock.advance(wait)
        run.engine.on_tick()
    assert (run.state("flaky"), run.record("flaky").try_number) == (TaskState.FAILED, 3)
    assert (run.state("load"), run.run_state) == (TaskState.UPSTREAM_FAILED, RunState.FAILED)


def test_a_try_past_its_timeout_is_stopped_and_fails_with_a_timeout_error() -> None:
    run = Harness(slow_flow)
    item = run.take_one("slow")
    run.start(item)
    run.clock.advance(4.9)
    assert run.engine.on_tick() == []
    run.clock.advance(0.1)
    assert run.engine.on_tick() == [item.key]
    run.drain()
    run.finish(item, Outcome.CANCELLED)
    assert run.state("slow") == TaskState.FAILED
    (ended,) = run.drain().tries
    assert ended.error == "TaskTimeoutError: timed out after 5 s; the try was stopped"


def test_cancel_stops_tries_in_flight_and_cancels_waiting_task_runs() -> None:
    run = Harness(wide)
    extract_item, load_item = run.take()
    run.start(extract_item)
    assert sorted(run.engine.cancel("by hand")) == sorted([extract_item.key, load_item.key])
    assert run.state("transform") == TaskState.CANCELLED
    assert run.run_state == RunState.RUNNING
    run.finish(extract_item, Outcome.CANCELLED)
    run.finish(load_item, Outcome.CANCELLED)
    assert (run.state("extract"), run.state("load")) == (TaskState.CANCELLED, TaskState.CANCELLED)
    assert (run.run_state, run.engine.reason) == (RunState.CANCELLED, "by hand")


def test_the_run_timeout_stops_the_run_once_and_fails_it() -> None:
    run = Harness(bounded)
    item = run.take_one("extract")
    run.start(item)
    run.clock.advance(60)
    assert run.engine.on_tick() == [item.key]
    assert run.engine.on_tick() == []
    run.finish(item, Outcome.CANCELLED)
    assert (run.state("transform"), run.run_state, run.engine.reason) == (
        TaskState.CANCELLED,
        RunState.FAILED,
        "timed out",
    )


def test_a_run_taken_up_again_keeps_the_timeout_it_started_with() -> None:
    run = Harness(bounded, started_at=START - timedelta(seconds=50))
    assert run.engine.wake_at() == 10.0


def test_a_try_lost_in_the_queue_is_recorded_and_dispatched_again_without_counting() -> None:
    records = records_of(chain)
    records[0].state, records[0].try_number = TaskState.QUEUED, 1
    run = Harness(chain, records=records, run_state="running")
    (lost,) = run.drain().new_tries
    assert (lost.number, lost.state, lost.error) == (1, TaskState.INTERRUPTED, LOST_IN_QUEUE)
    assert run.record("extract").max_tries == 2
    assert [i.try_number for i in run.take()] == [2]


def test_a_try_interrupted_with_its_driver_runs_again_without_counting() -> None:
    records = records_of(chain)
    records[0].state, records[0].try_number = TaskState.RUNNING, 1
    running = TryRecord(
        run_id=1, task_id="extract", map_index=-1, number=1, state=TaskState.RUNNING, started_at=START
    )
    run = Harness(chain, records=records, tried=[running], run_state="running")
    assert (run.state("extract"), run.record("extract").max_tries) == (TaskState.SCHEDULED, 2)
    (ended,) = run.drain().tries
    assert (ended.state, ended.error) == (TaskState.INTERRUPTED, INTERRUPTED)
    assert [i.try_number for i in run.take()] == [2]


def test_an_interrupted_try_does_not_spend_one_of_the_retries() -> None:
    records = records_of(flaky_flow)
    records[0].state, records[0].try_number = TaskState.RUNNING, 1
    running = TryRecord(
        run_id=1, task_id="flaky", map_index=-1, number=1, state=TaskState.RUNNING, started_at=START
    )
    run = Harness(flaky_flow, records=records, tried=[running], run_state="running")
    assert (run.state("flaky"), run.record("flaky").max_tries) == (TaskState.SCHEDULED, 4)
    assert run.record("flaky").interruptions == 1


def test_a_task_run_interrupted_three_times_in_a_row_fails_as_interrupted_too_often() -> None:
    records = records_of(chain)
    records[0].state, records[0].try_number, records[0].interruptions = TaskState.RUNNING, 3, 2
    run = Harness(chain, records=records, run_state="running")
    assert (run.state("extract"), run.run_state) == (TaskState.FAILED, RunState.FAILED)
    reasons = [e.reason for e in run.drain().events if e.task_id == "extract"]
    assert any(r and r.startswith("interrupted too often (3 times in a row)") for r in reasons)


def test_a_run_taken_up_with_every_task_run_final_ends_at_once() -> None:
    records = [TaskRunRecord(run_id=1, task_id=r.task_id, state=TaskState.SUCCESS) for r in records_of(chain)]
    run = Harness(chain, records=records, run_state="running")
    assert run.run_state == RunState.SUCCESS


def test_a_running_task_run_without_a_recorded_try_is_interrupted_too() -> None:
    records = records_of(chain)
    records[0].state, records[0].try_number = TaskState.RUNNING, 1
    run = Harness(chain, records=records, run_state="running")
    assert run.state("extract") == TaskState.SCHEDULED
    (made,) = run.drain().new_tries
    assert (made.number, made.state, made.error) == (1, TaskState.INTERRUPTED, LOST_IN_QUEUE)
