"""The run driver: one run's state in memory and the rules that move it.

A :class:`RunDriver` does no I/O of its own. The :class:`~weir.scheduler.loop.Loop` asks
it for work (:meth:`RunDriver.take`), hands it the executor's reports
(:meth:`RunDriver.on_report`) and the passing of time (:meth:`RunDriver.on_tick`), and
writes the :class:`~weir.store.records.Changes` it collects, one transaction per step.

What runs next is decided the moment an upstream task finishes (no polling). Every state
change is checked against the transition table, recorded as an event, and written as a
compare-and-set on the state the store holds.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from weir import results
from weir.errors import TaskTimeoutError
from weir.executors.base import CallbackCall, Finished, FlowRef, Report, Started, TryKey, WorkItem
from weir.graph.model import Graph, Node, ParamValue, TaskOutput, resolve
from weir.graph.triggers import Decision, UpstreamCounts, decide_counts
from weir.results import ResultRef
from weir.scheduler.clock import Clock, SystemClock
from weir.scheduler.items import ItemMaker
from weir.scheduler.values import RunValues, digest
from weir.settings import Settings
from weir.states import (
    TASK_FAILURES,
    TASK_SUCCESSES,
    TASK_TERMINAL,
    RunState,
    TaskState,
    check_run_transition,
    check_task_transition,
)
from weir.store.records import (
    CacheEntry,
    Changes,
    EventRecord,
    RunChange,
    TaskRunChange,
    TaskRunRecord,
    TryRecord,
)

Listener = Callable[[TaskRunRecord], None]
TaskKey = tuple[str, int]

#: The error of a try whose process went away with the one driving the run.
WORKER_LOST = "worker lost: the process running this try stopped (crash, kill or restart of its driver)"


@dataclass(frozen=True, slots=True)
class CacheProbe:
    """A cache key the driver wants looked up before it runs ``task``."""

    key: str
    task: TaskKey
    expires: float | None


class RunDriver:
    """Drives one run of ``graph`` from queued (or wherever it stopped) to a final state.

    Args:
        graph: the flow's graph.
        run_id: the run, created ``queued`` with ``pending`` task runs.
        flow_ref: how workers find the flow's code.
        params: the run's validated params.
        flow_events: which flow callbacks exist (``{"success", "failure"}`` or fewer).
        flow_timeout: seconds the run may take.
        listener: called with a task run each time its state changes (progress views).
    """

    def __init__(
        self,
        *,
        graph: Graph,
        run_id: int,
        flow_ref: FlowRef,
        params: dict[str, Any],
        settings: Settings,
        clock: Clock | None = None,
        listener: Listener | None = None,
        flow_events: frozenset[str] = frozenset(),
        flow_timeout: float | None = None,
        rand: Callable[[], float] = random.random,
        logical_date: datetime | None = None,
        data_interval: tuple[datetime, datetime] | None = None,
        started_at: datetime | None = None,
    ) -> None:
        self.started_at = started_at
        self.logical_date = logical_date
        self.data_interval = data_interval
        self.graph = graph
        self.run_id = run_id
        self.flow_ref = flow_ref
        self.params = params
        self.settings = settings
        self.clock = clock or SystemClock()
        self.listener = listener
        self.flow_events = flow_events
        self.flow_timeout = flow_timeout
        self.rand = rand
        self.run_state = RunState.QUEUED
        self.reason: str | None = None
        self.task_runs: dict[TaskKey, TaskRunRecord] = {}
        self.results: dict[TaskKey, ResultRef] = {}
        self.lengths: dict[str, int] = {}
        self.followed: dict[str, frozenset[str]] = {}  # branch task -> the downstream ids it chose
        self.upstream_done: dict[str, dict[str, TaskState]] = {tid: {} for tid in graph.nodes}
        self.upstream_counts: dict[str, UpstreamCounts] = {tid: UpstreamCounts() for tid in graph.nodes}
        # Branch nodes upstream of each node: the only upstreams whose choice can skip it.
        self._branch_ups = {
            tid: [u for u in node.upstream if graph.nodes[u].policy.branch]
            for tid, node in graph.nodes.items()
        }
        self.children_left: dict[str, int] = {}
        self.tries: dict[TryKey, TryRecord] = {}
        self.inflight: set[TryKey] = set()
        self.ready: list[tuple[int, int, TaskKey]] = []
        self.resubmit: list[TaskKey] = []
        self.retry_at: list[tuple[float, TaskKey]] = []
        self.deadlines: list[tuple[float, TryKey]] = []
        self.callbacks: list[WorkItem] = []
        self.cache_probes: list[CacheProbe] = []
        self.cancelling: dict[TryKey, str] = {}
        self.changes = Changes()
        self._touched: dict[TaskKey, TaskRunChange] = {}
        self._created: set[TaskKey] = set()
        self._waiting_key: dict[TryKey, TaskKey] = {}  # cache_key calls in flight
        self._cache_keys: dict[TaskKey, tuple[str, float | None]] = {}
        self._run_deadline: float | None = None
        self._final: RunState | None = None  # set when the run is being stopped
        self._open_nodes = 0  # nodes (map_index -1) not yet in a final state
        self._order = {tid: i for i, tid in enumerate(graph.nodes)}
        self._mapped_over = {
            n.map_over.task_id
            for n in graph.nodes.values()
            if n.mapped and isinstance(n.map_over, TaskOutput)
        }
        self.items = ItemMaker(
            run_id=run_id,
            flow_ref=flow_ref,
            params=params,
            settings=settings,
            logical_date=logical_date,
            data_interval=data_interval,
        )
        self.values = RunValues(graph, self.task_runs, self.results)

    # -- what the loop asks -------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """The run reached a final state and its callbacks have been called."""
        return (
            self.run_state not in (RunState.QUEUED, RunState.RUNNING)
            and not self.callbacks
            and not self.inflight
        )

    def restore(self, run_state: str, task_runs: list[TaskRunRecord], tries: list[TryRecord]) -> None:
        """Take up a run from the store: after a crash, or after some task runs were cleared."""
        self.run_state = RunState(run_state)
        for record in task_runs:
            self.task_runs[record.key] = record
        self._open_nodes = sum(1 for r in task_runs if r.map_index < 0 and r.state not in TASK_TERMINAL)
        for t in tries:
            owner = self.task_runs.get((t.task_id, t.map_index))
            if owner is None or t.number != owner.try_number:
                continue
            key = (self.run_id, t.task_id, t.map_index, t.number)
            if t.state in TASK_SUCCESSES and owner.state in TASK_SUCCESSES:
                self.results[owner.key] = ResultRef(
                    data=t.result_data, path=t.result_path, size=t.result_size or 0
                )
                if t.result_length is not None and t.map_index < 0:
                    self.lengths[t.task_id] = t.result_length
            elif t.state == TaskState.RUNNING:
                self.tries[key] = t
        for task_id, node in self.graph.nodes.items():
            parent = self.task_runs[(task_id, -1)]
            if node.policy.branch and parent.state in TASK_SUCCESSES and parent.key in self.results:
                self.followed[task_id] = frozenset(results.load(self.results[parent.key]) or ())
            if node.mapped and parent.map_count is not None:
                self.children_left[task_id] = sum(
                    1
                    for i in range(parent.map_count)
                    if self.task_runs.get((task_id, i), parent).state not in TASK_TERMINAL
                )
            for up in node.upstream:
                up_state = self.task_runs[(up, -1)].state
                if up_state in TASK_TERMINAL:
                    self.upstream_done[task_id][up] = TaskState(up_state)
                    self.upstream_counts[task_id].add(TaskState(up_state))

    def begin(self) -> None:
        """Start the run (or take it up again) and decide what can run now."""
        now = self.clock.now()
        if self.flow_timeout:
            # Counted from the run's start, so a run taken up again does not get a fresh timeout.
            spent = (now - self.started_at).total_seconds() if self.started_at else 0.0
            self._run_deadline = self.clock.monotonic() + max(0.0, self.flow_timeout - spent)
        if self.run_state == RunState.QUEUED:
            self._set_run(RunState.RUNNING, started_at=now)
        for record in list(self.task_runs.values()):
            state = record.state
            if state == TaskState.PENDING and record.map_index < 0:
                node = self.graph.nodes[record.task_id]
                self._consider(node)
            elif state == TaskState.SCHEDULED:
                self._push_ready(record.key)
            elif state == TaskState.QUEUED:
                self.resubmit.append(record.key)  # handed to an executor that is gone; same try
            elif state == TaskState.UP_FOR_RETRY:
                heapq.heappush(self.retry_at, (self.clock.monotonic(), record.key))
            elif state == TaskState.RUNNING and record.map_count is None:
                key = (self.run_id, record.task_id, record.map_index, record.try_number)
                started = self.tries[key].started_at if key in self.tries else now
                self.inflight.add(key)
                self._on_finished(
                    record,
                    Finished(
                        key=key,
                        ok=False,
                        started_at=started or now,
                        ended_at=now,
                        error=WORKER_LOST,
                        lost=True,
                    ),
                )
        for task_id, left in list(self.children_left.items()):
            parent = self.task_runs[(task_id, -1)]
            if left == 0 and parent.state == TaskState.RUNNING:
                self._finish_mapped(task_id)
        self._maybe_finish()

    def take(self, free: int) -> list[WorkItem]:
        """Up to ``free`` work items to hand to the executor now (callbacks first)."""
        items: list[WorkItem] = []
        while self.callbacks and len(items) < free:
            items.append(self.callbacks.pop(0))
        while self.resubmit and len(items) < free:
            record = self.task_runs[self.resubmit.pop()]
            items.append(self._work_item(record))
        while self.ready and len(items) < free:
            _, _, key = heapq.heappop(self.ready)
            record = self.task_runs[key]
            if record.state != TaskState.SCHEDULED:
                continue
            node = self.graph.nodes[record.task_id]
            if node.policy.cache and key not in self._cache_keys:
                if node.policy.cache_key_fn is not None:
                    item = self._work_item(record, kind="cache_key")
                    self._waiting_key[item.key] = key
                    items.append(item)
                else:
                    self._probe(key, self.values.cache_key(node, record, self.params))
                continue
            record.try_number += 1
            self._move(record, TaskState.QUEUED)
            items.append(self._work_item(record))
        for item in items:
            self.inflight.add(item.key)
        return items

    def on_cache(self, probe: CacheProbe, hit: CacheEntry | None) -> None:
        """The answer to a cache probe: reuse ``hit``, or run the task."""
        record = self.task_runs[probe.task]
        if record.state != TaskState.SCHEDULED:
            return
        if hit is None:
            self._push_ready(probe.task)
            return
        ref = ResultRef(data=hit.result_data, path=hit.result_path, size=hit.result_size or 0)
        self.results[record.key] = ref
        if hit.result_length is not None:
            self.lengths[record.task_id] = hit.result_length
        record.started_at = record.ended_at = self.clock.now()
        self._move(record, TaskState.CACHED, reason=f"cache hit from run {hit.run_id}")
        self._task_done(record)

    def wake_at(self) -> float | None:
        """The monotonic time of the next timer (a retry, a timeout), if any."""
        times = [heap[0][0] for heap in (self.retry_at, self.deadlines) if heap]
        if self._run_deadline is not None and self.run_state == RunState.RUNNING:
            times.append(self._run_deadline)
        return min(times) if times else None

    def on_tick(self) -> list[TryKey]:
        """Let time pass: due retries become ready; returns the tries to stop (timed out)."""
        now = self.clock.monotonic()
        while self.retry_at and self.retry_at[0][0] <= now:
            _, task_key = heapq.heappop(self.retry_at)
            record = self.task_runs[task_key]
            if record.state == TaskState.UP_FOR_RETRY:
                self._requeue(record)
        to_stop: list[TryKey] = []
        while self.deadlines and self.deadlines[0][0] <= now:
            _, try_key = heapq.heappop(self.deadlines)
            if try_key in self.inflight and try_key not in self.cancelling:
                self.cancelling[try_key] = "timeout"
                to_stop.append(try_key)
        if (
            self._run_deadline is not None
            and now >= self._run_deadline
            and self.run_state == RunState.RUNNING
        ):
            self._run_deadline = None
            to_stop.extend(self.cancel("timed out", final=RunState.FAILED))
        return to_stop

    def cancel(self, reason: str, final: RunState = RunState.CANCELLED) -> list[TryKey]:
        """Stop the run: waiting task runs end cancelled now, running ones once stopped.

        Returns the tries the executor must stop.
        """
        if self.run_state not in (RunState.QUEUED, RunState.RUNNING):
            return []
        self.reason = reason
        self._final = final
        now = self.clock.now()
        waiting = (TaskState.PENDING, TaskState.SCHEDULED, TaskState.UP_FOR_RETRY)
        not_started = set(self.resubmit)
        for record in list(self.task_runs.values()):
            if record.state in waiting or record.key in not_started:
                record.ended_at = now
                self._move(record, TaskState.CANCELLED, reason=reason)
                if record.map_index >= 0:
                    self._task_done(record)
        self.ready.clear()
        self.retry_at.clear()
        self.cache_probes.clear()
        self.resubmit.clear()
        stop = [k for k in self.inflight if k not in self.cancelling and "::" not in k[1]]
        for key in stop:
            self.cancelling[key] = "cancel"
        self._maybe_finish()
        return stop

    # -- reports from the executor -------------------------------------------------------------

    def on_report(self, report: Report) -> None:
        """Apply one executor report; late reports of older tries are ignored."""
        run_id, task_id, map_index, number = report.key
        if run_id != self.run_id:
            return
        if "::" in task_id:  # a callback call or a cache-key call
            if isinstance(report, Finished):
                self.inflight.discard(report.key)
                self._on_side_call(report)
            return
        record = self.task_runs.get((task_id, map_index))
        if record is None or record.try_number != number:
            return
        if isinstance(report, Started):
            self._on_started(record, report)
        else:
            self._on_finished(record, report)

    def _on_started(self, record: TaskRunRecord, report: Started) -> None:
        if record.state != TaskState.QUEUED:
            return
        record.started_at = report.at
        self._move(record, TaskState.RUNNING)
        try_record = TryRecord(
            run_id=self.run_id,
            task_id=record.task_id,
            map_index=record.map_index,
            number=record.try_number,
            state=TaskState.RUNNING,
            started_at=report.at,
            worker=report.worker,
            log_path=self.items.log_path(record),
        )
        self.tries[report.key] = try_record
        self.changes.new_tries.append(try_record)
        timeout = self.graph.nodes[record.task_id].policy.timeout
        if timeout:
            heapq.heappush(self.deadlines, (self.clock.monotonic() + timeout, report.key))

    def _on_finished(self, record: TaskRunRecord, report: Finished) -> None:
        self.inflight.discard(report.key)
        why_stopped = self.cancelling.pop(report.key, None)
        if record.state == TaskState.QUEUED:  # ended before its start was seen (lost, cancelled)
            self._on_started(record, Started(key=report.key, at=report.started_at, worker=report.worker))
        if record.state != TaskState.RUNNING:
            return
        node = self.graph.nodes[record.task_id]
        policy = node.policy
        try_record = self.tries[report.key]
        try_record.ended_at = report.ended_at
        try_record.error = report.error
        try_record.traceback = report.traceback
        if report.worker:
            try_record.worker = report.worker
        if why_stopped == "timeout":
            try_record.error = f"TaskTimeoutError: timed out after {policy.timeout:g} s; the try was stopped"
        if report.ok and report.result is not None:
            self._succeeded(record, node, try_record, report)
            return
        if why_stopped == "cancel" or (report.error == "cancelled" and why_stopped is None):
            try_record.state = TaskState.CANCELLED
            self._track_try(try_record)
            record.ended_at = report.ended_at
            self._move(record, TaskState.CANCELLED, reason=self.reason)
            self._task_done(record)
            return
        retryable = report.retryable
        if why_stopped == "timeout" and policy.retry_on:
            # The worker was killed, so retry_on is checked here (retry_if needs the exception).
            retryable = issubclass(TaskTimeoutError, policy.retry_on)
        if record.try_number < record.max_tries and retryable and self._final is None:
            try_record.state = TaskState.UP_FOR_RETRY
            self._track_try(try_record)
            self._move(record, TaskState.UP_FOR_RETRY, reason=try_record.error)
            wait = policy.retry_wait(record.try_number, self.rand())
            heapq.heappush(self.retry_at, (self.clock.monotonic() + wait, record.key))
            self._callback(record, "retry", TaskState.UP_FOR_RETRY, try_record)
            return
        try_record.state = TaskState.FAILED
        self._track_try(try_record)
        record.ended_at = report.ended_at
        self._move(record, TaskState.FAILED, reason=try_record.error)
        self._callback(record, "failure", TaskState.FAILED, try_record)
        self._task_done(record)

    def _succeeded(self, record: TaskRunRecord, node: Node, try_record: TryRecord, report: Finished) -> None:
        assert report.result is not None
        final = TaskState.CACHED if report.complete else TaskState.SUCCESS
        try_record.state = final
        try_record.result_data = report.result.data
        try_record.result_path = report.result.path
        try_record.result_size = report.result.size
        try_record.result_length = report.length
        self.results[record.key] = report.result
        if report.length is not None:
            self.lengths[record.task_id] = report.length
        if node.policy.branch:
            self.followed[record.task_id] = frozenset(results.load(report.result))
        self._track_try(try_record)
        record.ended_at = report.ended_at
        self._move(record, final, reason="complete() was true" if report.complete else None)
        cached = self._cache_keys.get(record.key)
        if cached is not None and cached[0] and not report.complete:
            key, expires = cached
            self.changes.cache_entries.append(
                CacheEntry(
                    key=key,
                    flow_name=self.graph.flow_name,
                    task_id=record.task_id,
                    run_id=self.run_id,
                    result_data=report.result.data,
                    result_path=report.result.path,
                    result_size=report.result.size,
                    result_length=report.length,
                    created_at=report.ended_at,
                    expires_at=None if expires is None else report.ended_at + timedelta(seconds=expires),
                )
            )
        self._callback(record, "success", final, try_record)
        self._task_done(record)

    def _on_side_call(self, report: Finished) -> None:
        task_key = self._waiting_key.pop(report.key, None)
        if task_key is None:
            return  # a callback call: its outcome is in its own log, never in the run's
        record = self.task_runs[task_key]
        if report.ok and report.cache_key is not None:
            node = self.graph.nodes[record.task_id]
            self._probe(task_key, digest(["key_fn", node.code_hash, report.cache_key]))
            return
        # cache_key_fn failed: run the task without the cache, and say why in its events.
        self._cache_keys[task_key] = ("", None)
        self.changes.events.append(
            self._event(record, record.state, record.state, f"cache_key_fn: {report.error}")
        )
        self._push_ready(task_key)

    def _track_try(self, try_record: TryRecord) -> None:
        # A try started in this step is inserted with its final values; an older one is updated.
        if not any(t is try_record for t in self.changes.new_tries):
            self.changes.tries.append(try_record)

    # -- deciding what comes next ------------------------------------------------------------

    def _task_done(self, record: TaskRunRecord) -> None:
        if record.map_index >= 0:  # an element of a mapped node
            left = self.children_left[record.task_id] - 1
            self.children_left[record.task_id] = left
            if left == 0:
                self._finish_mapped(record.task_id)
            return
        self._node_done(record.task_id, TaskState(record.state))

    def _finish_mapped(self, task_id: str) -> None:
        parent = self.task_runs[(task_id, -1)]
        count = parent.map_count or 0
        states = [self.task_runs[(task_id, i)].state for i in range(count)]
        if any(s in TASK_FAILURES for s in states):
            final = TaskState.FAILED
        elif any(s == TaskState.CANCELLED for s in states):
            final = TaskState.CANCELLED
        else:
            final = TaskState.SUCCESS
        parent.ended_at = self.clock.now()
        self._move(parent, final)
        self._node_done(task_id, final)

    def _node_done(self, task_id: str, state: TaskState) -> None:
        followed = self.followed.get(task_id)
        for child_id in self.graph.downstream[task_id]:
            if task_id not in self.upstream_done[child_id]:
                self.upstream_counts[child_id].add(state)
            self.upstream_done[child_id][task_id] = state
            child = self.task_runs[(child_id, -1)]
            if child.state != TaskState.PENDING:
                continue
            if followed is not None and child_id not in followed:
                self._apply(self.graph.nodes[child_id], Decision.SKIP)
                continue
            self._consider(self.graph.nodes[child_id])
        self._maybe_finish()

    def _consider(self, node: Node) -> None:
        if self.run_state != RunState.RUNNING or self._final is not None:
            return
        seen = self.upstream_done[node.task_id]
        for up in self._branch_ups[node.task_id]:
            chosen = self.followed.get(up)
            if chosen is not None and node.task_id not in chosen and seen.get(up) in TASK_SUCCESSES:
                self._apply(node, Decision.SKIP)
                return
        decision = decide_counts(node.policy.trigger, self.upstream_counts[node.task_id], len(node.upstream))
        if decision != Decision.WAIT:
            self._apply(node, decision)

    def _apply(self, node: Node, decision: Decision) -> None:
        record = self.task_runs[(node.task_id, -1)]
        if decision == Decision.RUN:
            if node.mapped:
                self._expand(node, record)
                return
            self._move(record, TaskState.SCHEDULED)
            self._push_ready(record.key)
            return
        record.ended_at = self.clock.now()
        final = TaskState.SKIPPED if decision == Decision.SKIP else TaskState.UPSTREAM_FAILED
        self._move(record, final)
        self._node_done(node.task_id, final)

    def _expand(self, node: Node, parent: TaskRunRecord) -> None:
        if parent.map_count and (node.task_id, 0) in self.task_runs:
            self._expand_again(node, parent)
            return
        count = self._map_length(node)
        now = self.clock.now()
        parent.started_at = now
        for state in (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING):
            self._move(parent, state)
        if isinstance(count, str):  # not a list: the mapped node fails with the reason
            parent.ended_at = now
            self._move(parent, TaskState.FAILED, reason=count)
            self._node_done(node.task_id, TaskState.FAILED)
            return
        parent.map_count = count
        self.children_left[node.task_id] = count
        if count == 0:
            parent.ended_at = now
            self._move(parent, TaskState.SUCCESS)
            self._node_done(node.task_id, TaskState.SUCCESS)
            return
        children = [
            TaskRunRecord(
                run_id=self.run_id, task_id=node.task_id, map_index=i, max_tries=node.policy.retries + 1
            )
            for i in range(count)
        ]
        self.changes.new_task_runs.extend(children)
        for child in children:
            self.task_runs[child.key] = child
            self._created.add(child.key)
            self._move(child, TaskState.SCHEDULED)
            self._push_ready(child.key)

    def _expand_again(self, node: Node, parent: TaskRunRecord) -> None:
        """A cleared mapped node whose elements exist: run the cleared ones, keep the others."""
        parent.started_at = self.clock.now()
        for state in (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING):
            self._move(parent, state)
        count = parent.map_count or 0
        children = [self.task_runs[(node.task_id, i)] for i in range(count)]
        self.children_left[node.task_id] = sum(1 for c in children if c.state not in TASK_TERMINAL)
        for child in children:
            if child.state == TaskState.PENDING:
                self._move(child, TaskState.SCHEDULED)
                self._push_ready(child.key)
        if self.children_left[node.task_id] == 0:
            self._finish_mapped(node.task_id)

    def _map_length(self, node: Node) -> int | str:
        source = node.map_over
        if isinstance(source, TaskOutput):
            up = self.graph.nodes[source.task_id]
            if up.mapped:
                return self.task_runs[(up.task_id, -1)].map_count or 0
            if source.task_id in self.lengths:
                return self.lengths[source.task_id]
            return f"task {source.task_id!r} did not produce a list to map over"
        value = resolve(source, lambda m: self.params.get(m.name) if isinstance(m, ParamValue) else None)
        try:
            return len(value)
        except TypeError:
            return f"cannot map over a {type(value).__name__}: give a list"

    def _push_ready(self, key: TaskKey) -> None:
        node = self.graph.nodes[key[0]]
        heapq.heappush(self.ready, (-node.policy.priority, self._order[key[0]] * 1_000_000 + key[1], key))

    def _requeue(self, record: TaskRunRecord) -> None:
        """A retry that is due: straight to queued with the next try number (no slot held while waiting)."""
        self._move(record, TaskState.QUEUED)
        record.try_number += 1
        self.resubmit.append(record.key)

    def _maybe_finish(self) -> None:
        if self.run_state != RunState.RUNNING:
            return
        if self._open_nodes:
            return
        parents = [r for r in self.task_runs.values() if r.map_index < 0]
        now = self.clock.now()
        failed = [r.task_id for r in parents if r.state == TaskState.FAILED] or [
            r.task_id for r in parents if r.state in TASK_FAILURES
        ]
        cancelled = [r.task_id for r in parents if r.state == TaskState.CANCELLED]
        if self._final is not None:
            self._set_run(self._final, ended_at=now, reason=self.reason)
        elif failed:
            self._set_run(RunState.FAILED, ended_at=now, reason=f"task(s) failed: {', '.join(failed)}")
        elif cancelled:
            self._set_run(
                RunState.CANCELLED, ended_at=now, reason=f"task(s) cancelled: {', '.join(cancelled)}"
            )
        else:
            try:
                data, path = self.values.output(self.params, self.settings, self.run_id)
            except Exception as exc:
                self._set_run(RunState.FAILED, ended_at=now, reason=f"the flow's return value: {exc}")
            else:
                self._set_run(RunState.SUCCESS, ended_at=now, result_data=data, result_path=path)
        event = "success" if self.run_state == RunState.SUCCESS else "failure"
        if event in self.flow_events and self.run_state != RunState.CANCELLED:
            self.callbacks.append(
                self.items.callback(
                    "", -1, 0, CallbackCall(event=event, state=self.run_state, reason=self.reason)
                )
            )

    # -- callbacks and the cache -------------------------------------------------------------------

    def _callback(self, record: TaskRunRecord, event: str, state: TaskState, try_record: TryRecord) -> None:
        if not self.graph.nodes[record.task_id].policy.callbacks(event):
            return
        call = CallbackCall(
            event=event,
            state=state,
            error=try_record.error,
            traceback=try_record.traceback,
            task_log_path=try_record.log_path,
        )
        self.callbacks.append(self.items.callback(record.task_id, record.map_index, record.try_number, call))

    def _probe(self, key: TaskKey, cache_key: str) -> None:
        node = self.graph.nodes[key[0]]
        self._cache_keys[key] = (cache_key, node.policy.cache_expires)
        self.cache_probes.append(CacheProbe(key=cache_key, task=key, expires=node.policy.cache_expires))

    def _work_item(self, record: TaskRunRecord, kind: str = "task") -> WorkItem:
        node = self.graph.nodes[record.task_id]
        return self.items.task(
            record,
            node,
            self.values.inputs(node),
            # A mapped node's length is its element count; only a plain node reports len().
            report_length=record.map_index < 0 and record.task_id in self._mapped_over,
            kind=kind,
        )

    # -- state changes -----------------------------------------------------------------------------

    def _move(self, record: TaskRunRecord, new: TaskState, reason: str | None = None) -> None:
        old = TaskState(record.state)
        check_task_transition(old, new)
        # One compare-and-set per task run per step: from the state the store has (the first
        # old state seen in this step) to the newest. Task runs created in this step are
        # inserted with their newest state instead.
        if record.key not in self._touched and record.key not in self._created:
            self._touched[record.key] = TaskRunChange(expected=old, record=record)
        record.state = new
        if record.map_index < 0 and (old in TASK_TERMINAL) != (new in TASK_TERMINAL):
            self._open_nodes += 1 if old in TASK_TERMINAL else -1
        self.changes.events.append(self._event(record, old, new, reason))
        if self.listener is not None:
            self.listener(record)

    def _event(self, record: TaskRunRecord, old: str, new: str, reason: str | None) -> EventRecord:
        return EventRecord(
            run_id=self.run_id,
            task_id=record.task_id,
            map_index=record.map_index,
            from_state=old,
            to_state=new,
            at=self.clock.now(),
            reason=reason,
        )

    def _set_run(self, state: RunState, **fields: Any) -> None:
        check_run_transition(self.run_state, state)
        self.changes.runs.append(
            RunChange(run_id=self.run_id, expected=self.run_state, state=state, **fields)
        )
        self.changes.events.append(
            EventRecord(
                run_id=self.run_id,
                task_id=None,
                map_index=None,
                from_state=self.run_state,
                to_state=state,
                at=self.clock.now(),
                reason=fields.get("reason"),
            )
        )
        self.run_state = state
        if "reason" in fields:
            self.reason = fields["reason"]

    def drain(self) -> Changes:
        """The changes collected since the last call, ready to write."""
        changes = self.changes
        changes.task_runs = list(self._touched.values())
        self.changes = Changes()
        self._touched = {}
        self._created = set()
        return changes
