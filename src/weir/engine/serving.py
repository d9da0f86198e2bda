"""Serving task runs from the cache within a run: a hit is recorded ``cached`` with the entry's
result, and task runs of the same run waiting for a key another one is computing are served
from its result when it ends (or look the key up again when it ended without one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from weir.engine import tries
from weir.states import TaskState

if TYPE_CHECKING:
    from weir.engine.run import RunEngine
    from weir.store.records import CacheEntry, TaskRunRecord


class CacheServing:
    """The part of a run's engine that serves cached results (see the module docstring)."""

    def __init__(self, run: RunEngine) -> None:
        self.run = run

    def look_up(self, record: TaskRunRecord, text: str, expires: float | None) -> None:
        """Serve ``record`` from the entry of key ``text`` when this run has it; otherwise ask the
        store, or wait for the task run of this run already computing it."""
        hit = self.run.cache.remembered(text)
        if hit is None:
            self.run.cache.probe(record.key, text, expires)
            return
        self.run.cache.serve(record.key, text, expires)
        self.serve(record, hit)

    def serve(self, record: TaskRunRecord, hit: CacheEntry) -> None:
        """Record ``record`` as ``cached`` with ``hit``'s result (no try: the task is not called)."""
        self.run.cache.remember(hit)
        self.run.results[record.key] = tries.ref_of(hit)
        if hit.result_length is not None:
            self.run.lengths[record.task_id] = hit.result_length
        record.started_at = record.ended_at = self.run.clock.now()
        record.cache_key = hit.key  # no try: the task was not called; the entry holds its result
        if self.run.graph.nodes[record.task_id].policy.branch:
            self.run.progress.followed[record.task_id] = tries.branch_choice(self.run.results[record.key])
        self.run.move(record, TaskState.CACHED, reason=f"cache hit from run {hit.run_id}")
        self.run.walk.task_done(record)

    def release_waiters(self, record: TaskRunRecord, entry: CacheEntry | None) -> None:
        """``record`` computed its cache key's result (``entry``) or ended without one: the task
        runs of this run waiting for the same key are served from it, or look the key up again."""
        for key in self.run.cache.finished(record.key):
            waiter = self.run.task_runs[key]
            if waiter.state != TaskState.SCHEDULED:
                continue
            if entry is not None:
                self.serve(waiter, entry)
            else:
                self.run.cache.forget(key)
                self.run.queue.push(key)
