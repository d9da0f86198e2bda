"""Cache keys from a task's code, arguments, input digests and params; the entries a run keeps;
keys computed by a task's ``cache_key_fn``."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

import weir
from weir.engine.cache import CacheBook, cache_key, key_fn_key
from weir.executors.base import Outcome, WorkKind
from weir.io.results import ResultRef
from weir.sdk.snapshot import snapshot_of

from .harness import START, Harness, cache_entry, records_of, ref


@weir.task
def numbers() -> list[int]:
    return [1, 2]


@weir.task(cache=True)
def total(xs: list[int], scale: int = 1) -> int:
    return sum(xs) * scale


@weir.flow
def summed(scale: int = 1) -> None:
    total(numbers(), scale=scale)


GRAPH = snapshot_of(summed).graph
NODE = GRAPH.nodes["total"]
TASK_RUNS = {r.key: r for r in records_of(summed)}


def key_of(result: ResultRef, params: dict[str, Any] | None = None, map_index: int = -1) -> str:
    record = replace(TASK_RUNS[("total", -1)], map_index=map_index)
    refs = {("numbers", -1): result}
    return cache_key(NODE, record, GRAPH, TASK_RUNS, refs, params or {"scale": 2})


def test_equal_code_inputs_and_params_give_equal_keys() -> None:
    assert key_of(ref([1, 2])) == key_of(ref([1, 2]))


def test_a_changed_input_digest_changes_the_key() -> None:
    assert key_of(ref([1, 2])) != key_of(ref([1, 2, 3]))


def test_a_changed_param_changes_the_key() -> None:
    assert key_of(ref([1, 2]), {"scale": 2}) != key_of(ref([1, 2]), {"scale": 3})


def test_another_element_of_a_mapped_node_has_another_key() -> None:
    assert key_of(ref([1, 2]), map_index=0) != key_of(ref([1, 2]), map_index=1)


def test_changed_code_changes_the_key() -> None:
    record = TASK_RUNS[("total", -1)]
    refs = {("numbers", -1): ref([1, 2])}
    changed = replace(NODE, code_hash="another")
    params = {"scale": 2}
    assert cache_key(changed, record, GRAPH, TASK_RUNS, refs, params) != key_of(ref([1, 2]))


def test_an_input_without_a_digest_is_known_by_the_hash_of_its_bytes() -> None:
    data = ref([1, 2]).data
    assert data is not None
    assert key_of(ResultRef(data=data, size=len(data))) == key_of(
        ResultRef(data=data, digest=hashlib.sha256(data).hexdigest())
    )


def test_a_key_fn_key_depends_on_the_user_key_and_the_code() -> None:
    assert key_fn_key(NODE, "2024-01-01") == key_fn_key(NODE, "2024-01-01")
    assert key_fn_key(NODE, "2024-01-01") != key_fn_key(NODE, "2024-01-02")
    assert key_fn_key(NODE, "2024-01-01") != key_fn_key(replace(NODE, code_hash="another"), "2024-01-01")


def entry_of(book: CacheBook, result: ResultRef | None = None) -> Any:
    return book.entry(
        ("total", -1), flow_name="summed", run_id=7, result=result or ref(3), length=None, at=START
    )


def test_a_task_without_a_key_keeps_no_entry() -> None:
    assert entry_of(CacheBook()) is None


def test_an_entry_expires_after_the_tasks_expiry() -> None:
    book = CacheBook()
    book.probe(("total", -1), "k1", 60.0)
    entry = entry_of(book, ref(3))
    assert (entry.key, entry.task_id, entry.run_id, entry.flow_name) == ("k1", "total", 7, "summed")
    assert (entry.result_data, entry.result_digest) == (ref(3).data, ref(3).digest)
    assert (entry.created_at, entry.expires_at) == (START, START + timedelta(seconds=60))


def test_an_entry_without_expiry_never_expires() -> None:
    book = CacheBook()
    book.probe(("total", -1), "k1", None)
    assert entry_of(book).expires_at is None


def test_a_task_whose_key_fn_failed_keeps_no_entry_but_is_known() -> None:
    book = CacheBook()
    book.give_up(("total", -1))
    assert book.known(("total", -1))
    assert entry_of(book) is None


def test_probes_are_taken_once() -> None:
    book = CacheBook()
    book.probe(("total", -1), "k1", None)
    assert [p.key for p in book.take_probes()] == ["k1"]
    assert book.take_probes() == []


def by_day(*args: object) -> str:
    return "2024-01-01"


@weir.task(cache_key_fn=by_day)
def daily() -> int:
    return 1


@weir.flow
def keyed() -> None:
    daily()


def test_a_task_with_a_key_fn_has_its_key_computed_first_then_looked_up() -> None:
    run = Harness(keyed)
    (call,) = run.take()
    assert (call.kind, call.log_key) == (WorkKind.CACHE_KEY, "1/daily.try-0.cache_key.log")
    run.finish(call, Outcome.SUCCESS, cache_key="2024-01-01")
    (probe,) = run.engine.cache.take_probes()
    assert probe.key == key_fn_key(snapshot_of(keyed).graph.nodes["daily"], "2024-01-01")
    run.engine.on_cache(probe, None)
    run.succeed(run.take_one("daily"), 1)
    assert [e.key for e in run.drain().cache_entries] == [probe.key]


def test_a_task_whose_key_fn_failed_runs_without_the_cache_and_says_why() -> None:
    run = Harness(keyed)
    (call,) = run.take()
    run.finish(call, Outcome.FAILED, error="KeyError: 'day'")
    run.succeed(run.take_one("daily"), 1)
    changes = run.drain()
    assert changes.cache_entries == []
    assert "cache_key_fn: KeyError: 'day'" in [e.reason for e in changes.events]


def test_a_key_computed_for_a_cancelled_task_run_is_not_looked_up() -> None:
    run = Harness(keyed)
    (call,) = run.take()
    run.engine.cancel("by hand")
    run.finish(call, Outcome.SUCCESS, cache_key="2024-01-01")
    assert run.engine.cache_probes == []
    assert run.engine.finished


@weir.task(cache=True)
def foo(x: int) -> int:
    return x * 2


@weir.flow
def twice_in_parallel() -> None:
    foo(1)
    foo(1)


@weir.flow
def twice_in_a_row() -> None:
    foo(1) >> foo(1)


def test_a_call_whose_key_is_being_looked_up_waits_and_is_served_from_the_first() -> None:
    run = Harness(twice_in_parallel)
    assert run.take() == []
    (probe,) = run.engine.take_cache_probes()  # one look-up for both calls
    run.engine.on_cache(probe, None)
    (item,) = run.take()
    assert run.state("foo__1") == "scheduled"  # waits for foo's result
    run.succeed(item, 2)
    assert (run.state("foo"), run.state("foo__1")) == ("success", "cached")
    assert run.engine.results[("foo__1", -1)] == run.engine.results[("foo", -1)]
    assert run.run_state == "success"
    assert len(run.drain().cache_entries) == 1


def test_a_call_after_an_equal_one_in_the_same_run_is_served_without_asking_the_store() -> None:
    run = Harness(twice_in_a_row)
    assert run.take() == []
    (probe,) = run.engine.take_cache_probes()
    run.engine.on_cache(probe, None)
    run.succeed(run.take_one("foo"), 2)
    assert run.take() == [] and run.engine.take_cache_probes() == []
    assert run.state("foo__1") == "cached" and run.run_state == "success"


def test_waiters_look_their_key_up_again_when_the_first_call_fails() -> None:
    run = Harness(twice_in_parallel)
    run.take()
    (probe,) = run.engine.take_cache_probes()
    run.engine.on_cache(probe, None)
    run.fail(run.take_one("foo"))
    assert run.state("foo") == "failed" and run.state("foo__1") == "scheduled"
    run.take()
    (again,) = run.engine.take_cache_probes()
    assert again.task == ("foo__1", -1) and again.key == probe.key
    run.engine.on_cache(again, None)
    run.succeed(run.take_one("foo__1"), 2)
    assert run.state("foo__1") == "success"


def test_waiters_are_served_from_a_store_hit_too() -> None:
    run = Harness(twice_in_parallel)
    run.take()
    (probe,) = run.engine.take_cache_probes()
    run.engine.on_cache(probe, cache_entry(probe.key, 2, task_id="foo"))
    assert (run.state("foo"), run.state("foo__1")) == ("cached", "cached")
    assert run.run_state == "success"
