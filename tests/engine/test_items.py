"""Work items: one log and one result key per try, in one folder per run, and the inputs a try
gets from its upstream nodes."""

from __future__ import annotations

import weir
from weir.engine.items import ItemMaker, file_stem, inputs_of
from weir.executors.base import CallbackCall, CodeSource, WorkKind
from weir.sdk.snapshot import snapshot_of
from weir.states import TaskState
from weir.store.records import TaskRunRecord

from .harness import START, STORAGE, records_of, ref


@weir.task(timeout=30)
def numbers() -> list[int]:
    return [1, 2]


@weir.task
def square(x: int) -> int:
    return x * x


@weir.task
def report(xs: list[int], n: list[int]) -> None:
    return None


@weir.flow
def numbers_flow() -> None:
    n = numbers()
    report(square.map(n), n)


SNAPSHOT = snapshot_of(numbers_flow)
GRAPH = SNAPSHOT.graph
MAKER = ItemMaker(
    run_id=7,
    code=CodeSource(ref=SNAPSHOT.code, flow_name=SNAPSHOT.name, version=SNAPSHOT.version),
    storage=STORAGE,
    params={"day": "2024-01-01"},
    logical_date=START,
    data_interval=None,
)


def record(task_id: str, try_number: int, map_index: int = -1) -> TaskRunRecord:
    return TaskRunRecord(run_id=7, task_id=task_id, map_index=map_index, try_number=try_number)


def test_a_try_has_a_log_and_a_result_key_of_its_own() -> None:
    item = MAKER.task(record("numbers", 2), GRAPH.nodes["numbers"], {}, report_length=True)
    assert (item.log_key, item.result_key) == ("7/numbers.try-2.log", "7/numbers.try-2.pkl")
    assert MAKER.log_key(record("numbers", 2)) == item.log_key


def test_an_element_of_a_mapped_node_is_named_by_its_index() -> None:
    item = MAKER.task(record("square", 1, map_index=3), GRAPH.nodes["square"], {}, report_length=False)
    assert (item.log_key, item.result_key) == ("7/square.3.try-1.log", "7/square.3.try-1.pkl")
    assert file_stem(record("square", 1, map_index=3)) == "square.3.try-1"


def test_a_cache_key_call_has_its_own_log() -> None:
    item = MAKER.task(
        record("numbers", 0), GRAPH.nodes["numbers"], {}, report_length=False, kind=WorkKind.CACHE_KEY
    )
    assert item.log_key == "7/numbers.try-0.cache_key.log"
    assert item.key == (7, "numbers::cache_key", -1, 0)


def test_an_item_carries_the_tasks_timeout_and_the_runs_params_and_date() -> None:
    item = MAKER.task(record("numbers", 1), GRAPH.nodes["numbers"], {}, report_length=True)
    assert (item.timeout, item.params, item.logical_date, item.report_length) == (
        30.0,
        {"day": "2024-01-01"},
        START,
        True,
    )
    assert item.key == (7, "numbers", -1, 1)


def test_callbacks_log_per_event_beside_their_tasks_log() -> None:
    failure = MAKER.callback("numbers", -1, 2, CallbackCall(event="failure", state=TaskState.FAILED))
    flow = MAKER.callback("", -1, 0, CallbackCall(event="success", state="success"))
    assert (failure.log_key, failure.kind) == ("7/numbers.try-2.on_failure.log", WorkKind.CALLBACK)
    assert flow.log_key == "7/flow.try-0.on_success.log"


def test_a_mapped_upstream_gives_one_input_per_element_in_order() -> None:
    task_runs = {r.key: r for r in records_of(numbers_flow, 7)}
    task_runs[("numbers", -1)].state = TaskState.SUCCESS
    task_runs[("square", -1)].state = TaskState.SUCCESS
    task_runs[("square", -1)].map_count = 2
    results = {("numbers", -1): ref([1, 2]), ("square", 1): ref(4), ("square", 0): ref(1)}
    inputs = inputs_of(GRAPH.nodes["report"], GRAPH, task_runs, results)
    assert inputs == {"square": [ref(1), ref(4)], "numbers": ref([1, 2])}


def test_an_upstream_that_did_not_succeed_gives_no_input() -> None:
    task_runs = {r.key: r for r in records_of(numbers_flow, 7)}
    task_runs[("square", -1)].state = TaskState.FAILED
    task_runs[("square", -1)].map_count = 2
    assert inputs_of(GRAPH.nodes["report"], GRAPH, task_runs, {}) == {}
