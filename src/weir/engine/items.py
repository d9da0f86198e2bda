"""Making a run's work items: what a worker needs for one try, a callback call or a cache-key
call. Logs and large results are named by keys relative to their stores (one folder per run),
never by a path on this machine."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from weir.executors.base import CallbackCall, CodeSource, Storage, WorkItem, WorkKind
from weir.graph.model import Graph, Node
from weir.io.results import ResultRef
from weir.states import TASK_SUCCESSES
from weir.store.records import TaskRunRecord

TaskKey = tuple[str, int]


def file_stem(record: TaskRunRecord) -> str:
    """``task.try-N`` or ``task.INDEX.try-N``: one log and one result per try, in one folder per run."""
    if record.map_index >= 0:
        return f"{record.task_id}.{record.map_index}.try-{record.try_number}"
    return f"{record.task_id}.try-{record.try_number}"


class ItemMaker:
    """Builds the work items of one run."""

    def __init__(
        self,
        *,
        run_id: int,
        code: CodeSource,
        storage: Storage,
        params: dict[str, Any],
        logical_date: datetime | None,
        data_interval: tuple[datetime, datetime] | None,
    ) -> None:
        self.run_id = run_id
        self.code = code
        self.storage = storage
        self.params = params
        self.logical_date = logical_date
        self.data_interval = data_interval

    def log_key(self, record: TaskRunRecord) -> str:
        """The log of ``record``'s current try, relative to the log store."""
        return f"{self.run_id}/{file_stem(record)}.log"

    def task(
        self,
        record: TaskRunRecord,
        node: Node,
        inputs: dict[str, ResultRef | list[ResultRef]],
        *,
        report_length: bool,
        kind: WorkKind = WorkKind.TASK,
    ) -> WorkItem:
        """A try of ``record`` (``kind`` TASK), or the call of its ``cache_key_fn`` (CACHE_KEY)."""
        stem = file_stem(record) + (".cache_key" if kind == WorkKind.CACHE_KEY else "")
        return WorkItem(
            run_id=self.run_id,
            task_id=record.task_id,
            map_index=record.map_index,
            try_number=record.try_number,
            code=self.code,
            storage=self.storage,
            inputs=inputs,
            params=self.params,
            log_key=f"{self.run_id}/{stem}.log",
            result_key=f"{self.run_id}/{stem}.pkl",
            report_length=report_length,
            kind=kind,
            timeout=node.policy.timeout,
            logical_date=self.logical_date,
            data_interval=self.data_interval,
        )

    def callback(self, task_id: str, map_index: int, number: int, call: CallbackCall) -> WorkItem:
        """The call of a task's callbacks (``task_id``) or the flow's (``task_id`` empty)."""
        stem = f"{task_id or 'flow'}{'.' + str(map_index) if map_index >= 0 else ''}.try-{number}"
        return WorkItem(
            run_id=self.run_id,
            task_id=task_id,
            map_index=map_index,
            try_number=number,
            code=self.code,
            storage=self.storage,
            params=self.params,
            log_key=f"{self.run_id}/{stem}.on_{call.event}.log",
            kind=WorkKind.CALLBACK,
            callback=call,
        )


def inputs_of(
    node: Node, graph: Graph, task_runs: Mapping[TaskKey, TaskRunRecord], results: Mapping[TaskKey, ResultRef]
) -> dict[str, ResultRef | list[ResultRef]]:
    """The results of ``node``'s data upstream nodes (a mapped one gives one per element); an
    upstream that did not succeed gives nothing (its downstream tasks that run anyway get None)."""
    inputs: dict[str, ResultRef | list[ResultRef]] = {}
    for up in node.data_upstream:
        if graph.nodes[up].mapped:
            parent = task_runs[(up, -1)]
            if parent.state in TASK_SUCCESSES:
                inputs[up] = [results[(up, i)] for i in range(parent.map_count or 0)]
        elif (up, -1) in results:
            inputs[up] = results[(up, -1)]
    return inputs
