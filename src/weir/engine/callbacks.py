"""A run's calls of callbacks: queued when the state they report is reached, handed out before
any other work, and, once a worker reports how a call went, recorded beside the run (a
notification that was not delivered is visible there, never in the run's outcome)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from weir.executors.base import CallbackCall, Finished, TryKey, WorkItem
from weir.store.records import CallbackCallRecord

if TYPE_CHECKING:
    from weir.engine.items import ItemMaker
    from weir.graph.model import Graph
    from weir.store.records import TaskRunRecord, TryRecord


class CallbackQueue:
    """The calls of callbacks of one run that wait to be handed out, and those in flight."""

    def __init__(self, graph: Graph, items: ItemMaker, flow_events: frozenset[str] | tuple[str, ...]) -> None:
        self.graph = graph
        self.items = items
        self.flow_events = flow_events
        self.waiting: list[WorkItem] = []
        self._logs: dict[TryKey, str | None] = {}  # each call in flight: its log

    def __bool__(self) -> bool:
        return bool(self.waiting)

    def task(self, record: TaskRunRecord, event: str, state: str, try_record: TryRecord) -> None:
        """Queue the task's callbacks for ``event``, when it has any."""
        if not self.graph.nodes[record.task_id].policy.callbacks.for_event(event):
            return
        call = CallbackCall(
            event=event,
            state=state,
            error=try_record.error,
            traceback=try_record.traceback,
            task_log=try_record.log_path,
        )
        self._queue(self.items.callback(record.task_id, record.map_index, record.try_number, call))

    def flow(self, event: str, state: str, reason: str | None) -> None:
        """Queue the flow's callbacks for ``event`` (success or failure), when it has any."""
        if event in self.flow_events:
            self._queue(self.items.callback("", -1, 0, CallbackCall(event=event, state=state, reason=reason)))

    def take(self, free: int) -> list[WorkItem]:
        """Up to ``free`` calls to hand out now, oldest first."""
        taken, self.waiting = self.waiting[:free], self.waiting[free:]
        return taken

    def clear(self) -> None:
        """Hand out no more (the run is handed back, or stopped)."""
        self.waiting.clear()

    def done(self, report: Finished) -> CallbackCallRecord:
        """The record of a call that ended (its key is ``task::callback:event``)."""
        run_id, name, map_index, number = report.key
        task_id, _, kind = name.partition("::")
        return CallbackCallRecord(
            run_id=run_id,
            task_id=task_id or None,
            map_index=map_index,
            try_number=number,
            event=kind.rpartition(":")[2],
            ok=report.ok,
            error=None if report.ok else report.error,
            log_key=self._logs.pop(report.key, None),
            at=report.ended_at,
        )

    def _queue(self, item: WorkItem) -> None:
        self._logs[item.key] = item.log_key
        self.waiting.append(item)
