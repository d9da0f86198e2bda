"""Driving a :class:`~weir.engine.run.RunEngine` by hand: a flow's snapshot, a fake clock, a fixed
``rand``, and the reports an executor would send, made up here."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from weir.engine.run import RunEngine
from weir.executors.base import CodeSource, Finished, Outcome, Started, Storage, WorkItem
from weir.graph.snapshot import FlowSnapshot
from weir.io.results import ResultRef
from weir.sdk.flow import Flow
from weir.sdk.snapshot import snapshot_of
from weir.states import RunState, TaskState
from weir.store.records import CacheEntry, Changes, TaskRunRecord, TryRecord
from weir.testing import FakeClock

START = datetime(2024, 1, 1, tzinfo=UTC)
RUN_ID = 1
STORAGE = Storage(results_url="memory://results", logs_url="memory://logs")


def ref(value: Any) -> ResultRef:
    """A result as a worker reports it: pickled inline, with its size and digest."""
    data = pickle.dumps(value)
    return ResultRef(data=data, size=len(data), digest=hashlib.sha256(data).hexdigest())


def snapshot(flow: Flow | FlowSnapshot) -> FlowSnapshot:
    return flow if isinstance(flow, FlowSnapshot) else snapshot_of(flow)


def records_of(flow: Flow | FlowSnapshot, run_id: int = RUN_ID) -> list[TaskRunRecord]:
    """The task runs ``weir.control.runs.trigger`` makes: one pending per node."""
    return [
        TaskRunRecord(
            run_id=run_id,
            task_id=node.task_id,
            max_tries=node.policy.retry.retries + 1,
            pool=node.policy.pool,
        )
        for node in snapshot(flow).graph.nodes.values()
    ]


def done_try(task_id: str, value: Any, *, map_index: int = -1, number: int = 1) -> TryRecord:
    """A stored try that succeeded with ``value``."""
    result = ref(value)
    return TryRecord(
        run_id=RUN_ID,
        task_id=task_id,
        map_index=map_index,
        number=number,
        state=TaskState.SUCCESS,
        result_data=result.data,
        result_size=result.size,
        result_digest=result.digest,
    )


def cache_entry(key: str, value: Any, *, task_id: str, length: int | None = None) -> CacheEntry:
    """A cache entry another run (9) kept for ``task_id``, holding ``value``."""
    result = ref(value)
    return CacheEntry(
        key=key,
        flow_name="elsewhere",
        task_id=task_id,
        run_id=9,
        result_data=result.data,
        result_path=None,
        result_size=result.size,
        result_length=length,
        result_digest=result.digest,
        created_at=START,
    )


class Gate:
    """A pool gate with ``free`` slots in all; refuses with a reason once they are taken."""

    def __init__(self, free: int = 0) -> None:
        self.free = free

    def acquire(self, pool: str) -> str | None:
        if self.free > 0:
            self.free -= 1
            return None
        return f"waiting for a slot of pool {pool!r}"


class Harness:
    """One engine over ``flow``, restored from ``records`` (default: a new run) and begun."""

    def __init__(
        self,
        flow: Flow | FlowSnapshot,
        *,
        params: dict[str, Any] | None = None,
        records: list[TaskRunRecord] | None = None,
        tried: Iterable[TryRecord] = (),
        cached: Mapping[str, CacheEntry] | None = None,
        run_state: str = "queued",
        started_at: datetime | None = None,
        begin: bool = True,
    ) -> None:
        self.snapshot = snapshot(flow)
        self.clock = FakeClock(START)
        self.engine = RunEngine(
            snapshot=self.snapshot,
            run_id=RUN_ID,
            code=CodeSource(
                ref=self.snapshot.code, flow_name=self.snapshot.name, version=self.snapshot.version
            ),
            storage=STORAGE,
            params=params or {},
            clock=self.clock,
            rand=lambda: 0.5,
            started_at=started_at,
        )
        self.records = records_of(self.snapshot) if records is None else records
        self.at_hand: list[WorkItem] = []  # items taken by take_one, not yet asked for
        self.engine.restore(run_state, self.records, list(tried), cached)
        if begin:
            self.engine.begin()

    @property
    def run_state(self) -> RunState:
        return self.engine.run_state

    def state(self, task_id: str, map_index: int = -1) -> str:
        return self.engine.task_runs[(task_id, map_index)].state

    def record(self, task_id: str, map_index: int = -1) -> TaskRunRecord:
        return self.engine.task_runs[(task_id, map_index)]

    def take(self, free: int = 100, pools: Any = None) -> list[WorkItem]:
        return self.engine.take(free, pools)

    def take_one(self, task_id: str, map_index: int = -1) -> WorkItem:
        """The item of ``task_id`` taken now or before (the others taken stay at hand)."""
        self.at_hand.extend(self.take())
        (item,) = [i for i in self.at_hand if (i.task_id, i.map_index) == (task_id, map_index)]
        self.at_hand.remove(item)
        return item

    def drain(self) -> Changes:
        return self.engine.drain()

    def start(self, item: WorkItem) -> None:
        self.engine.on_report(Started(key=item.key, at=self.clock.now(), worker="w1"))

    def finish(self, item: WorkItem, outcome: Outcome, **fields: Any) -> None:
        """Report ``item`` started (when it was not yet) and ended with ``outcome``."""
        self.start(item)
        now = self.clock.now()
        self.engine.on_report(Finished(key=item.key, outcome=outcome, started_at=now, ended_at=now, **fields))

    def succeed(self, item: WorkItem, value: Any = None, **fields: Any) -> None:
        self.finish(item, Outcome.SUCCESS, result=ref(value), **fields)

    def fail(self, item: WorkItem, error: str = "ValueError: boom", **fields: Any) -> None:
        self.finish(item, Outcome.FAILED, error=error, **fields)

    def run_through(self, values: Mapping[str, Any] | None = None) -> None:
        """Succeed every task as it becomes ready (with ``values[task_id]``) until nothing is."""
        values = values or {}
        while items := self.take():
            for item in items:
                value = values.get(item.task_id)
                self.succeed(item, value, length=len(value) if item.report_length else None)
