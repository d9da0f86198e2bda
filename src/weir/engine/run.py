"""One run's state machine: it takes reports and the passing of time, and gives state changes
and work items. It does no I/O: the loop that owns it writes what it changed (one transaction
per step) before the work items it gave leave for the executor.

What runs next is decided the moment an upstream task finishes (no polling). Every state change
is checked against the transition table, recorded as an event, and written as a compare-and-set.
The rules live in their own modules: :mod:`~weir.engine.progress` (what a node waits for),
:mod:`~weir.engine.outcomes` (what a try's end makes of a task run), :mod:`~weir.engine.mapping`,
:mod:`~weir.engine.timers`, :mod:`~weir.engine.cache`, :mod:`~weir.engine.items`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from weir.clock import Clock
from weir.engine import outcomes, tries
from weir.engine.cache import CacheBook, CacheProbe, cache_key, key_fn_key
from weir.engine.callbacks import CallbackQueue
from weir.engine.changes import ChangeLog, Listener
from weir.engine.items import ItemMaker, inputs_of
from weir.engine.mapping import sources_of_lengths
from weir.engine.outcomes import StopReason, TryEnd, Verdict
from weir.engine.progress import Progress
from weir.engine.queue import PoolGate, ReadyQueue
from weir.engine.serving import CacheServing
from weir.engine.timers import Timers
from weir.engine.walk import Walk
from weir.executors.base import (
    CodeSource,
    Finished,
    Outcome,
    Report,
    Started,
    Storage,
    TryKey,
    WorkItem,
    WorkKind,
    is_side_call,
)
from weir.graph.model import Node
from weir.graph.snapshot import FlowSnapshot
from weir.io.results import ResultRef
from weir.states import TASK_SUCCESSES, RunState, TaskState
from weir.store.records import CacheEntry, Changes, TaskRunRecord, TryRecord

TaskKey = tuple[str, int]


class RunEngine:
    """Drives one run of a flow snapshot from queued (or wherever it stopped) to a final state.

    Args:
        snapshot: the flow version the run was made of.
        run_id: the run, created ``queued`` with ``pending`` task runs.
        code, storage: where workers find the code and put results and logs.
        params: the run's params (JSON values).
        listener: called with a task run each time its state changes (progress views).
        rand: the source of retry jitter.
        started_at: when the run first started (a run's timeout counts from it).

    What the loop reads: ``run_state``, ``inflight`` (the keys of the work items handed out and
    not yet finished), ``finished``, ``wake_at()``, ``cache_probes``; everything else is the
    engine's own.
    """

    def __init__(
        self,
        *,
        snapshot: FlowSnapshot,
        run_id: int,
        code: CodeSource,
        storage: Storage,
        params: dict[str, Any],
        clock: Clock,
        listener: Listener | None = None,
        rand: Callable[[], float] = random.random,
        logical_date: datetime | None = None,
        data_interval: tuple[datetime, datetime] | None = None,
        started_at: datetime | None = None,
    ) -> None:
        self.graph = graph = snapshot.graph
        self.flow_name = snapshot.name
        self.flow_timeout = snapshot.timeout
        self.run_id = run_id
        self.params = params
        self.clock = clock
        self.rand = rand
        self.started_at = started_at
        self.run_state = RunState.QUEUED
        self.reason: str | None = None
        self.task_runs: dict[TaskKey, TaskRunRecord] = {}
        self.results: dict[TaskKey, ResultRef] = {}
        self.lengths: dict[str, int] = {}
        self.tries: dict[TryKey, TryRecord] = {}
        self.inflight: set[TryKey] = set()
        self.progress = Progress(graph)
        self.timers = Timers()
        self.log = ChangeLog(run_id, clock, listener)
        self.items = ItemMaker(
            run_id=run_id,
            code=code,
            storage=storage,
            params=params,
            logical_date=logical_date,
            data_interval=data_interval,
        )
        self.callbacks = CallbackQueue(graph, self.items, snapshot.flow_events)
        self.queue = ReadyQueue(graph)
        self.cache = CacheBook()
        self._stopping: dict[TryKey, StopReason] = {}
        self.final: RunState | None = None  # set when the run is being stopped
        self.walk = Walk(self)
        self.serving = CacheServing(self)
        #: The pools this run's tasks use.
        self.pools = frozenset(n.policy.pool for n in graph.nodes.values() if n.policy.pool)
        self._length_sources = sources_of_lengths(graph)

    # -- what the loop asks -------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """The run reached a final state and its callbacks have been called."""
        return (
            self.run_state not in (RunState.QUEUED, RunState.RUNNING)
            and not self.callbacks
            and not self.inflight
        )

    @property
    def has_ready_work(self) -> bool:
        """Whether task runs wait to be dispatched now."""
        return bool(self.queue)

    @property
    def waiting_for_pools(self) -> bool:
        return bool(self.queue.pool_waiting)

    @property
    def cache_probes(self) -> list[CacheProbe]:
        """Cache keys to look up in the store before their tasks run."""
        return self.cache.probes

    def take_cache_probes(self) -> list[CacheProbe]:
        """The cache keys to look up now (each is answered with :meth:`on_cache`)."""
        return self.cache.take_probes()

    def restore(
        self,
        run_state: str,
        task_runs: list[TaskRunRecord],
        tried: list[TryRecord],
        cached: Mapping[str, CacheEntry] | None = None,
    ) -> None:
        """Take up a run from the store: a new one, one whose driver died, or one cleared to run again."""
        self.run_state = RunState(run_state)
        for record in task_runs:
            self.task_runs[record.key] = record
        self.progress.restore(task_runs)
        restored = tries.restore(self.run_id, self.task_runs, tried, cached or {})
        self.results, self.lengths, self.tries = restored.results, restored.lengths, restored.running
        for task_id, node in self.graph.nodes.items():
            parent = self.task_runs[(task_id, -1)]
            if node.policy.branch and parent.state in TASK_SUCCESSES and parent.key in self.results:
                self.progress.followed[task_id] = tries.branch_choice(self.results[parent.key])

    def begin(self) -> None:
        """Start the run (or take it up again) and decide what can run now."""
        self.walk.begin()

    def take(self, free: int, pools: PoolGate | None = None) -> list[WorkItem]:
        """Up to ``free`` work items to hand to the executor now: callbacks, then due retries, then
        ready tasks by priority. Each try gets its next try number here; the loop records it
        before the item leaves. A pooled task goes only when ``pools`` gives it a slot."""
        items = self.callbacks.take(free)
        if self.queue.holding:
            free = len(items)
        while len(items) < free and (key := self.queue.pop_due()) is not None:
            record = self.task_runs[key]
            if record.state == TaskState.UP_FOR_RETRY and self._admit(record, pools):
                items.append(self._dispatch(record))
        while len(items) < free and (key := self.queue.pop()) is not None:
            record = self.task_runs[key]
            if record.state != TaskState.SCHEDULED:
                continue
            node = self.graph.nodes[record.task_id]
            if node.policy.cache.enabled and not self.cache.known(key):
                if node.policy.cache.key_fn is not None:
                    item = self._work_item(record, kind=WorkKind.CACHE_KEY)
                    self.cache.calls[item.key] = key
                    items.append(item)
                else:
                    text = cache_key(node, record, self.graph, self.task_runs, self.results, self.params)
                    self.serving.look_up(record, text, node.policy.cache.expires)
                continue
            if self._admit(record, pools):
                items.append(self._dispatch(record))
        for item in items:
            self.inflight.add(item.key)
        return items

    def hold(self) -> None:
        """Dispatch nothing more: the run is being handed back (its next driver dispatches it)."""
        self.queue.holding = True
        self.callbacks.clear()

    def retry_pool_waiters(self) -> None:
        """Give the task runs that wait for a pool slot another chance at the next :meth:`take`."""
        waiting, self.queue.pool_waiting = self.queue.pool_waiting, []
        for key in waiting:
            state = self.task_runs[key].state
            if state == TaskState.SCHEDULED:
                self.queue.push(key)
            elif state == TaskState.UP_FOR_RETRY:
                self.queue.due.append(key)

    def on_cache(self, probe: CacheProbe, hit: CacheEntry | None) -> None:
        """The answer to a cache probe: reuse ``hit`` (recorded as a ``cached`` task run, as are
        the task runs of this run that waited for the same key), or run the task."""
        record = self.task_runs[probe.task]
        if record.state != TaskState.SCHEDULED:
            self.serving.release_waiters(record, None)
            return
        if hit is None:
            self.queue.push(probe.task)
            return
        self.serving.serve(record, hit)
        self.serving.release_waiters(record, hit)

    def wake_at(self) -> float | None:
        """The monotonic time of the next timer (a retry, a timeout), if any."""
        return self.timers.next_time(include_run=self.run_state == RunState.RUNNING)

    def on_tick(self) -> list[TryKey]:
        """Let time pass: due retries become ready; returns the tries to stop (timed out)."""
        now = self.clock.monotonic()
        for key in self.timers.due_retries(now):
            if self.task_runs[key].state == TaskState.UP_FOR_RETRY:
                self.queue.due.append(key)
        to_stop: list[TryKey] = []
        for try_key in self.timers.due_deadlines(now):
            if try_key in self.inflight and try_key not in self._stopping:
                self._stopping[try_key] = StopReason.TIMEOUT
                to_stop.append(try_key)
        if self.run_state == RunState.RUNNING and self.timers.run_overdue(now):
            to_stop.extend(self.cancel("timed out", final=RunState.FAILED))
        return to_stop

    def cancel(self, reason: str, final: RunState = RunState.CANCELLED) -> list[TryKey]:
        """Stop the run: waiting task runs end cancelled now, running ones once stopped.

        Returns the tries the executor must stop.
        """
        if self.run_state not in (RunState.QUEUED, RunState.RUNNING):
            return []
        self.reason = reason
        self.final = final
        now = self.clock.now()
        waiting = (TaskState.PENDING, TaskState.SCHEDULED, TaskState.UP_FOR_RETRY)
        for record in list(self.task_runs.values()):
            if record.state in waiting:
                record.ended_at = now
                self.move(record, TaskState.CANCELLED, reason=reason)
                if record.map_index >= 0:
                    self.walk.task_done(record)
        self.queue.clear()
        self.cache.probes.clear()
        self.timers.clear_retries()
        stop = [k for k in self.inflight if k not in self._stopping and not is_side_call(k)]
        for key in stop:
            self._stopping[key] = StopReason.CANCEL
        self.walk.maybe_finish()
        return stop

    @property
    def has_changes(self) -> bool:
        """Whether changes wait to be written (see :meth:`drain`)."""
        return self.log.pending

    def drain(self) -> Changes:
        """The changes made since the last call, ready to write."""
        return self.log.drain()

    # -- reports from the executor -------------------------------------------------------------

    def on_report(self, report: Report) -> None:
        """Apply one executor report; late reports of older tries are ignored."""
        run_id, task_id, map_index, number = report.key
        if run_id != self.run_id:
            return
        if is_side_call(report.key):
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
            self.on_finished(record, report)

    def _on_started(self, record: TaskRunRecord, report: Started) -> None:
        if record.state != TaskState.QUEUED:
            return
        record.started_at = report.at
        self.move(record, TaskState.RUNNING)
        try_record = tries.started(self.run_id, record, report.at, report.worker, self.items.log_key(record))
        self.tries[report.key] = try_record
        self.log.new_try(try_record)
        timeout = self.graph.nodes[record.task_id].policy.timeout
        if timeout:
            self.timers.deadline_at(self.clock.monotonic() + timeout, report.key)

    def on_finished(self, record: TaskRunRecord, report: Finished) -> None:
        self.inflight.discard(report.key)
        stopped_for = self._stopping.pop(report.key, None)
        if record.state == TaskState.QUEUED:  # ended before its start was seen (lost, cancelled)
            self._on_started(record, Started(key=report.key, at=report.started_at, worker=report.worker))
        if record.state != TaskState.RUNNING:
            return
        node = self.graph.nodes[record.task_id]
        policy = node.policy
        try_record = self.tries.pop(report.key, None)
        if try_record is None:  # a running task run taken up again whose try was never recorded
            try_record = tries.started(
                self.run_id, record, report.started_at, report.worker, self.items.log_key(record)
            )
            self.log.new_try(try_record)
        tries.ended(try_record, report)
        retryable = report.retryable
        if stopped_for == StopReason.TIMEOUT:
            try_record.error = f"TaskTimeoutError: timed out after {policy.timeout:g} s; the try was stopped"
            retryable = policy.retry.on_timeout  # the worker was killed: its retry rules are read here
        record.interruptions = 0  # the try ended where it ran: the run of interruptions is over
        verdict = outcomes.judge(
            TryEnd(
                outcome=report.outcome if report.result is not None or not report.ok else Outcome.FAILED,
                stopped_for=stopped_for,
                retryable=retryable,
                tries_left=record.try_number < record.max_tries,
                run_stopping=self.final is not None,
            )
        )
        if verdict == Verdict.SUCCEEDED:
            self._succeeded(record, node, try_record, report)
            return
        if verdict == Verdict.CANCELLED:
            try_record.state = TaskState.CANCELLED
            self.log.track_try(try_record)
            record.ended_at = report.ended_at
            self.move(record, TaskState.CANCELLED, reason=self.reason)
            self.walk.task_done(record)
            self.serving.release_waiters(record, None)
        elif verdict == Verdict.RETRY:
            try_record.state = TaskState.UP_FOR_RETRY
            self.log.track_try(try_record)
            self.move(record, TaskState.UP_FOR_RETRY, reason=try_record.error)
            wait = policy.retry.wait(record.try_number, self.rand())
            self.timers.retry_at(self.clock.monotonic() + wait, record.key)
            self.callbacks.task(record, "retry", TaskState.UP_FOR_RETRY, try_record)
        else:
            try_record.state = TaskState.FAILED
            self.log.track_try(try_record)
            record.ended_at = report.ended_at
            self.move(record, TaskState.FAILED, reason=try_record.error)
            self.callbacks.task(record, "failure", TaskState.FAILED, try_record)
            self.walk.task_done(record)
            self.serving.release_waiters(record, None)

    def _succeeded(self, record: TaskRunRecord, node: Node, try_record: TryRecord, report: Finished) -> None:
        assert report.result is not None
        final = TaskState.CACHED if report.complete else TaskState.SUCCESS
        try_record.state = final
        tries.keep_result(try_record, report.result, report.length)
        self.results[record.key] = report.result
        if report.length is not None:
            self.lengths[record.task_id] = report.length
        if node.policy.branch:
            self.progress.followed[record.task_id] = frozenset(report.branch or ())
        self.log.track_try(try_record)
        record.ended_at = report.ended_at
        self.move(record, final, reason="complete() was true" if report.complete else None)
        entry = self.cache.entry(
            record.key,
            flow_name=self.flow_name,
            run_id=self.run_id,
            result=report.result,
            length=report.length,
            at=report.ended_at,
        )
        if entry is not None and not report.complete:
            self.log.cache_entry(entry)
            self.cache.remember(entry)
        self.callbacks.task(record, "success", final, try_record)
        self.walk.task_done(record)
        self.serving.release_waiters(record, None if report.complete else entry)

    def _on_side_call(self, report: Finished) -> None:
        task_key = self.cache.calls.pop(report.key, None)
        if task_key is None:
            self.log.callback_call(self.callbacks.done(report))  # beside the run; its outcome stays
            return
        record = self.task_runs[task_key]
        if record.state != TaskState.SCHEDULED:
            return  # cancelled while its key was computed: nothing to look up or run
        node = self.graph.nodes[record.task_id]
        if report.ok and report.cache_key is not None:
            self.serving.look_up(record, key_fn_key(node, report.cache_key), node.policy.cache.expires)
            return
        # cache_key_fn failed: run the task without the cache, and say why in its events.
        self.cache.give_up(task_key)
        self.log.add_event(
            self.log.event(record, record.state, record.state, f"cache_key_fn: {report.error}")
        )
        self.queue.push(task_key)

    # -- deciding what comes next ------------------------------------------------------------

    def interrupted(self, record: TaskRunRecord, now: datetime) -> None:
        """The current try of ``record`` was queued or running when the process driving the run
        stopped: record it interrupted and run the task again, without spending a retry; after
        :data:`~weir.engine.tries.MAX_INTERRUPTIONS` in a row the task run fails."""
        key = (self.run_id, record.task_id, record.map_index, record.try_number)
        running = self.tries.pop(key, None)
        error = tries.INTERRUPTED if running is not None else tries.LOST_IN_QUEUE
        if running is not None:
            running.state, running.ended_at, running.error = TaskState.INTERRUPTED, now, error
            self.log.track_try(running)
            ended = running
        else:
            ended = tries.lost(self.run_id, record, now, error)
            self.log.new_try(ended)
        record.interruptions += 1
        if record.interruptions >= tries.MAX_INTERRUPTIONS:
            record.ended_at = now
            reason = f"interrupted too often ({record.interruptions} times in a row): {error}"
            self.move(record, TaskState.FAILED, reason=reason)
            self.callbacks.task(record, "failure", TaskState.FAILED, ended)
            self.walk.task_done(record)
            self.serving.release_waiters(record, None)
            return
        record.max_tries += 1
        self.move(record, TaskState.SCHEDULED, reason=error)
        self.queue.push(record.key)

    def _admit(self, record: TaskRunRecord, pools: PoolGate | None) -> bool:
        pool = self.graph.nodes[record.task_id].policy.pool
        if pool is None:
            return True
        why = (
            pools.acquire(pool)
            if pools is not None
            else f"waiting for the slots of pool {pool!r} to be counted"
        )
        if why is None:
            record.note = None
            return True
        if record.note != why:
            self.log.touch(record)
            record.note = why
        self.queue.pool_waiting.append(record.key)
        return False

    def _dispatch(self, record: TaskRunRecord) -> WorkItem:
        record.try_number += 1
        self.move(record, TaskState.QUEUED)
        return self._work_item(record)

    def _work_item(self, record: TaskRunRecord, kind: WorkKind = WorkKind.TASK) -> WorkItem:
        node = self.graph.nodes[record.task_id]
        return self.items.task(
            record,
            node,
            inputs_of(node, self.graph, self.task_runs, self.results),
            # A mapped node's length is its element count; only a plain node reports len().
            report_length=record.map_index < 0 and record.task_id in self._length_sources,
            kind=kind,
        )

    # -- state changes -----------------------------------------------------------------------------

    def move(self, record: TaskRunRecord, new: TaskState, reason: str | None = None) -> None:
        old = self.log.move(record, new, reason)
        self.progress.moved(record, old, new)

    def set_run(self, state: RunState, **fields: Any) -> None:
        self.log.set_run(self.run_state, state, self.clock.now(), **fields)
        self.run_state = state
        if "reason" in fields:
            self.reason = fields["reason"]
