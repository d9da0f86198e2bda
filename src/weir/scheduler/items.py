"""Making a run's work items: what a worker needs for one try, a callback call or a
cache-key call, and where its log and result files go (one folder per run)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from weir.executors.base import CallbackCall, FlowRef, WorkItem
from weir.graph.model import Node
from weir.results import ResultRef
from weir.settings import Settings
from weir.store.records import TaskRunRecord


class ItemMaker:
    """Builds the work items of one run."""

    def __init__(
        self,
        *,
        run_id: int,
        flow_ref: FlowRef,
        params: dict[str, Any],
        settings: Settings,
        logical_date: datetime | None,
        data_interval: tuple[datetime, datetime] | None,
    ) -> None:
        self.run_id = run_id
        self.flow_ref = flow_ref
        self.params = params
        self.result_inline_max = settings.result_inline_max
        self.logical_date = logical_date
        self.data_interval = data_interval
        self.logs_dir = str(settings.logs_dir / str(run_id))
        self.results_dir = str(settings.results_dir / str(run_id))

    @staticmethod
    def file_stem(record: TaskRunRecord) -> str:
        """``task.try-N`` or ``task.INDEX.try-N``: one file per try, in one folder per run."""
        if record.map_index >= 0:
            return f"{record.task_id}.{record.map_index}.try-{record.try_number}"
        return f"{record.task_id}.try-{record.try_number}"

    def log_path(self, record: TaskRunRecord) -> str:
        return f"{self.logs_dir}/{self.file_stem(record)}.log"

    def task(
        self,
        record: TaskRunRecord,
        node: Node,
        inputs: dict[str, ResultRef | list[ResultRef]],
        *,
        report_length: bool,
        kind: str = "task",
    ) -> WorkItem:
        """A try of ``record`` (``kind="task"``), or the call of its ``cache_key_fn``."""
        stem = self.file_stem(record) + (".cache_key" if kind == "cache_key" else "")
        return WorkItem(
            run_id=self.run_id,
            task_id=record.task_id,
            map_index=record.map_index,
            try_number=record.try_number,
            flow=self.flow_ref,
            inputs=inputs,
            params=self.params,
            log_path=f"{self.logs_dir}/{stem}.log",
            result_path=f"{self.results_dir}/{stem}.pkl",
            result_inline_max=self.result_inline_max,
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
            flow=self.flow_ref,
            params=self.params,
            log_path=f"{self.logs_dir}/{stem}.on_{call.event}.log",
            kind="callback",
            callback=call,
        )
