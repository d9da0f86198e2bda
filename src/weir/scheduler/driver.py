"""The run driver: takes one run from queued to a final state.

It keeps the run's task runs in memory, decides what runs next the moment an upstream
task finishes (no polling), hands tries to the executor, and writes each step's
changes in one transaction. Each state change is checked against the transition
table, recorded as an event, and written as a compare-and-set on the old state.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from weir import results
from weir.executors.base import Executor, Finished, FlowRef, Report, Started, TryKey, WorkItem
from weir.graph.model import Graph, Node, ParamValue, TaskOutput, resolve
from weir.graph.triggers import Decision, decide
from weir.results import ResultRef
from weir.scheduler.clock import Clock
from weir.settings import Settings
from weir.states import (
    TASK_FAILURES,
    TASK_TERMINAL,
    RunState,
    TaskState,
    check_run_transition,
    check_task_transition,
)
from weir.store import queries
from weir.store.records import Changes, EventRecord, RunChange, TaskRunChange, TaskRunRecord, TryRecord

Listener = Callable[[TaskRunRecord], None]
TaskKey = tuple[str, int]


class RunDriver:
    """Drives one run of ``graph`` on ``executor`` to its end.

    Args:
        engine: the store.
        graph: the flow's graph.
        run_id: a run created in state ``queued`` with its task runs ``pending``.
        flow_ref: how workers find the flow's code.
        params: the run's validated params.
        listener: called with a task run each time its state changes (progress views).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        graph: Graph,
        run_id: int,
        flow_ref: FlowRef,
        params: dict[str, Any],
        executor: Executor,
        settings: Settings,
        clock: Clock | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.engine = engine
        self.graph = graph
        self.run_id = run_id
        self.flow_ref = flow_ref
        self.params = params
        self.executor = executor
        self.settings = settings
        self.clock = clock or Clock()
        self.listener = listener
        self.run_state = RunState.QUEUED
        self.reason: str | None = None
        self.task_runs: dict[TaskKey, TaskRunRecord] = {}
        self.results: dict[TaskKey, ResultRef] = {}
        self.lengths: dict[str, int] = {}
        self.followed: dict[str, frozenset[str]] = {}  # branch task -> the downstream ids it chose
        self.upstream_done: dict[str, dict[str, TaskState]] = {tid: {} for tid in graph.nodes}
        self.children_left: dict[str, int] = {}
        self.tries: dict[TryKey, TryRecord] = {}
        self.inflight: set[TryKey] = set()
        self.ready: list[tuple[int, int, TaskKey]] = []
        self.retry_at: list[tuple[float, TaskKey]] = []
        self.changes = Changes()
        self._touched: dict[TaskKey, TaskRunChange] = {}
        self._created: set[TaskKey] = set()
        self._order = {tid: i for i, tid in enumerate(graph.nodes)}
        self._mapped_over = {
            n.map_over.task_id
            for n in graph.nodes.values()
            if n.mapped and isinstance(n.map_over, TaskOutput)
        }
        self._logs_dir = str(settings.logs_dir / str(run_id))
        self._results_dir = str(settings.results_dir / str(run_id))
        self._conn = engine.connect().execution_options(weir_write=True)

    # -- the loop -------------------------------------------------------------------------

    def drive(self) -> RunState:
        """Run to the end and return the run's final state."""
        try:
            self._load()
            self._set_run(RunState.RUNNING, started_at=self.clock.now())
            for node in self.graph.nodes.values():
                if not node.upstream:
                    self._apply(node, Decision.RUN)
            while True:
                self._dispatch()
                if not self.inflight and not self.ready and not self.retry_at:
                    break
                # Take what is already there without waiting; write the step only before
                # waiting (or before the inline executor runs a task), so fast tasks share
                # one transaction and `running` is recorded before a task's code starts.
                reports = self.executor.poll(0)
                if not reports:
                    self._flush()
                    reports = self.executor.poll(self._wait_time())
                for report in reports:
                    self._on_report(report)
                self._due_retries()
            self._finish()
        except BaseException:
            self._abort("interrupted")
            raise
        finally:
            self._conn.close()
        return self.run_state

    def _load(self) -> None:
        with self._conn.begin():
            records = queries.get_task_runs(self._conn, self.run_id)
        for record in records:
            self.task_runs[record.key] = record

    def _wait_time(self) -> float | None:
        if self.retry_at:
            return max(0.0, self.retry_at[0][0] - self.clock.monotonic())
        return None

    def _due_retries(self) -> None:
        now = self.clock.monotonic()
        while self.retry_at and self.retry_at[0][0] <= now:
            _, key = heapq.heappop(self.retry_at)
            self._push_ready(key)

    def _dispatch(self) -> None:
        free = self.executor.slots - len(self.inflight)
        while free > 0 and self.ready:
            _, _, key = heapq.heappop(self.ready)
            record = self.task_runs[key]
            record.try_number += 1
            self._move(record, TaskState.QUEUED)
            item = self._work_item(record)
            self.inflight.add(item.key)
            self.executor.submit(item)
            free -= 1

    def _work_item(self, record: TaskRunRecord) -> WorkItem:
        node = self.graph.nodes[record.task_id]
        inputs: dict[str, ResultRef | list[ResultRef]] = {}
        for up in node.data_upstream:
            if self.graph.nodes[up].mapped:
                parent = self.task_runs[(up, -1)]
                if parent.state == TaskState.SUCCESS:
                    inputs[up] = [self.results[(up, i)] for i in range(parent.map_count or 0)]
            elif (up, -1) in self.results:
                inputs[up] = self.results[(up, -1)]
        name = self._file_stem(record)
        return WorkItem(
            run_id=self.run_id,
            task_id=record.task_id,
            map_index=record.map_index,
            try_number=record.try_number,
            flow=self.flow_ref,
            inputs=inputs,
            params=self.params,
            log_path=f"{self._logs_dir}/{name}.log",
            result_path=f"{self._results_dir}/{name}.pkl",
            result_inline_max=self.settings.result_inline_max,
            report_length=record.task_id in self._mapped_over,
        )

    # -- reports from the executor ----------------------------------------------------------

    def _on_report(self, report: Report) -> None:
        run_id, task_id, map_index, number = report.key
        record = self.task_runs.get((task_id, map_index))
        if record is None or record.try_number != number or run_id != self.run_id:
            return  # a late report of an older try: state moves only forward
        if isinstance(report, Started):
            if record.state != TaskState.QUEUED:
                return
            record.started_at = report.at
            self._move(record, TaskState.RUNNING)
            try_record = TryRecord(
                run_id=self.run_id,
                task_id=task_id,
                map_index=map_index,
                number=number,
                state=TaskState.RUNNING,
                started_at=report.at,
                worker=report.worker,
                log_path=self._log_path(record),
            )
            self.tries[report.key] = try_record
            self.changes.new_tries.append(try_record)
            return
        self._on_finished(record, report)

    def _file_stem(self, record: TaskRunRecord) -> str:
        """``task.try-N`` or ``task.INDEX.try-N``: one file per try, in one folder per run."""
        if record.map_index >= 0:
            return f"{record.task_id}.{record.map_index}.try-{record.try_number}"
        return f"{record.task_id}.try-{record.try_number}"

    def _log_path(self, record: TaskRunRecord) -> str:
        return f"{self._logs_dir}/{self._file_stem(record)}.log"

    def _on_finished(self, record: TaskRunRecord, report: Finished) -> None:
        self.inflight.discard(report.key)
        if record.state == TaskState.QUEUED:  # finished before its start was seen (lost, cancelled)
            record.started_at = report.started_at
            self._on_report(Started(key=report.key, at=report.started_at, worker=report.worker))
        if record.state != TaskState.RUNNING:
            return
        try_record = self.tries[report.key]
        try_record.ended_at = report.ended_at
        try_record.error = report.error
        try_record.traceback = report.traceback
        if report.worker:
            try_record.worker = report.worker
        if report.ok and report.result is not None:
            try_record.state = TaskState.SUCCESS
            try_record.result_data = report.result.data
            try_record.result_path = report.result.path
            try_record.result_size = report.result.size
            self.results[record.key] = report.result
            if report.length is not None:
                self.lengths[record.task_id] = report.length
            node = self.graph.nodes[record.task_id]
            if node.policy.branch:
                self.followed[record.task_id] = frozenset(results.load(report.result))
            self._track_try(try_record)
            record.ended_at = report.ended_at
            self._move(record, TaskState.SUCCESS)
            self._task_done(record)
            return
        if record.try_number < record.max_tries and report.error != "cancelled":
            try_record.state = TaskState.UP_FOR_RETRY
            self._track_try(try_record)
            self._move(record, TaskState.UP_FOR_RETRY)
            delay = self.graph.nodes[record.task_id].policy.retry_delay
            heapq.heappush(self.retry_at, (self.clock.monotonic() + delay, record.key))
            return
        final = TaskState.CANCELLED if report.error == "cancelled" else TaskState.FAILED
        try_record.state = final
        self._track_try(try_record)
        record.ended_at = report.ended_at
        self._move(record, final)
        self._task_done(record)

    def _track_try(self, try_record: TryRecord) -> None:
        # A try started in this step is inserted with its final values; an older one is updated.
        if not any(t is try_record for t in self.changes.new_tries):
            self.changes.tries.append(try_record)

    # -- deciding what comes next ---------------------------------------------------------

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
        if any(s == TaskState.CANCELLED for s in states):
            final = TaskState.CANCELLED
        elif any(s in TASK_FAILURES for s in states):
            final = TaskState.FAILED
        else:
            final = TaskState.SUCCESS
        parent.ended_at = self.clock.now()
        self._move(parent, final)
        self._node_done(task_id, final)

    def _node_done(self, task_id: str, state: TaskState) -> None:
        followed = self.followed.get(task_id)
        for child_id in self.graph.downstream[task_id]:
            child = self.task_runs[(child_id, -1)]
            if child.state != TaskState.PENDING:
                continue
            if followed is not None and child_id not in followed:
                self._apply(self.graph.nodes[child_id], Decision.SKIP)
                continue
            seen = self.upstream_done[child_id]
            seen[task_id] = state
            node = self.graph.nodes[child_id]
            decision = decide(node.policy.trigger, list(seen.values()), len(node.upstream))
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

    # -- state changes -------------------------------------------------------------------------

    def _move(self, record: TaskRunRecord, new: TaskState, reason: str | None = None) -> None:
        old = TaskState(record.state)
        check_task_transition(old, new)
        # One compare-and-set per task run per step: from the state the store has (the first
        # old state seen in this step) to the newest. Task runs created in this step are
        # inserted with their newest state instead.
        if record.key not in self._touched and record.key not in self._created:
            self._touched[record.key] = TaskRunChange(expected=old, record=record)
        record.state = new
        self.changes.events.append(
            EventRecord(
                run_id=self.run_id,
                task_id=record.task_id,
                map_index=record.map_index,
                from_state=old,
                to_state=new,
                at=self.clock.now(),
                reason=reason,
            )
        )
        if self.listener is not None:
            self.listener(record)

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

    def _flush(self) -> None:
        changes = self.changes
        changes.task_runs = list(self._touched.values())
        if not changes:
            return
        with self._conn.begin():
            queries.apply_changes(self._conn, changes)
        self.changes = Changes()
        self._touched.clear()
        self._created.clear()

    # -- the end -----------------------------------------------------------------------------

    def _finish(self) -> None:
        parents = [r for r in self.task_runs.values() if r.map_index < 0]
        stuck = [r.task_id for r in parents if r.state not in TASK_TERMINAL]
        if stuck:
            raise AssertionError(f"run {self.run_id} ended with task runs not done: {stuck}")
        failed = [r.task_id for r in parents if r.state in TASK_FAILURES]
        cancelled = [r.task_id for r in parents if r.state == TaskState.CANCELLED]
        now = self.clock.now()
        if failed:
            self._set_run(RunState.FAILED, ended_at=now, reason=f"task(s) failed: {', '.join(failed)}")
        elif cancelled:
            self._set_run(
                RunState.CANCELLED, ended_at=now, reason=f"task(s) cancelled: {', '.join(cancelled)}"
            )
        else:
            data, path = self._output()
            self._set_run(RunState.SUCCESS, ended_at=now, result_data=data, result_path=path)
        self._flush()

    def _output(self) -> tuple[bytes | None, str | None]:
        output = self.graph.output
        if isinstance(output, TaskOutput) and not self.graph.nodes[output.task_id].mapped:
            ref = self.results.get((output.task_id, -1))
            if ref is not None:
                return ref.data, ref.path
        value = resolve(output, self._value_of)
        ref = results.store(
            value,
            what=f"flow {self.graph.flow_name!r}",
            inline_max=self.settings.result_inline_max,
            path=self.settings.results_dir / str(self.run_id) / "run-result.pkl",
        )
        return ref.data, ref.path

    def _value_of(self, marker: Any) -> Any:
        if isinstance(marker, ParamValue):
            return self.params.get(marker.name)
        node = self.graph.nodes[marker.task_id]
        if node.mapped:
            count = self.task_runs[(node.task_id, -1)].map_count or 0
            return [results.load(self.results[(node.task_id, i)]) for i in range(count)]
        ref = self.results.get((node.task_id, -1))
        return None if ref is None else results.load(ref)

    def _abort(self, reason: str) -> None:
        """Cancel what is left after an interruption, so the store never shows a live run."""
        for key in list(self.inflight):
            self.executor.cancel(key)
        self.inflight.clear()
        try:
            self.changes = Changes()
            self._touched.clear()
            self._created.clear()
            if self._conn.in_transaction():
                self._conn.rollback()
            with self._conn.begin():
                fresh = {r.key: r for r in queries.get_task_runs(self._conn, self.run_id)}
            now = self.clock.now()
            for key, stored in fresh.items():
                if stored.state not in TASK_TERMINAL:
                    record = self.task_runs.get(key, stored)
                    record.state = stored.state
                    record.ended_at = now
                    self._move(record, TaskState.CANCELLED, reason=reason)
            if self.run_state in (RunState.QUEUED, RunState.RUNNING):
                self._set_run(RunState.CANCELLED, ended_at=now, reason=reason)
            self._flush()
        except Exception:
            pass
