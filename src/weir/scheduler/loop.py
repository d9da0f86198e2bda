"""The loop that drives runs: one executor, any number of run engines, one store.

Each step takes the work the engines have ready and, when any leaves, writes what the engines
changed in one transaction *before* the work items go to the executor (so every try number handed
out is recorded); then it takes the reports that are there, or, when there are none, writes what
is still unwritten and waits for one (or for a timer). So reports that arrive together share a
transaction, and nothing is ever waited on unwritten. A pooled task is taken in the transaction
that records it (pool slots are counted from the store). A finished task wakes the loop at once;
the loop also wakes for timers (retries, timeouts) and, a few times a second while runs are
active, to look for cancel requests.

Every write for a run carries the fencing token this owner got when it claimed the run; a run
whose token changed (another owner adopted it after this one's lease ran out), or whose rows
another writer moved, is dropped from the loop on its own: its tries are stopped, its changes
discarded, and the other runs' changes are written as if nothing happened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from weir.clock import Clock, SystemClock
from weir.control.flows import get_snapshot
from weir.engine.changes import Listener
from weir.engine.run import RunEngine
from weir.errors import LeaseLostError, RunClaimedError, StaleStateError
from weir.executors.base import CodeSource, Storage
from weir.scheduler import faults
from weir.scheduler.leases import LeaseKeeper
from weir.scheduler.pooling import gate_for
from weir.states import RUN_ACTIVE
from weir.store import cache, owners, runs, tasks
from weir.store.records import Changes, OwnerRecord
from weir.store.store import Store

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from weir.executors.base import Executor, Report, WorkItem
    from weir.settings import Settings

log = logging.getLogger("weir.scheduler")

#: Seconds between looks for cancel requests while runs are active.
CANCEL_CHECK = 0.25
#: Seconds between looks at pools while tasks wait for a slot (other processes free them too).
POOL_CHECK = 1.0
#: Seconds at most that an engine's changes stay unwritten while reports keep coming.
WRITE_WITHIN = 0.1


class Loop:
    """Drives the runs added to it until each has ended.

    Args:
        store: the store.
        executor: a started executor.
        owner: this process as an owner (see :func:`~weir.scheduler.leases.new_owner`).
        settings: the result and log stores, the lease length.
        code_payloads: cloudpickled flows by version, for flows only this process has.
    """

    def __init__(
        self,
        store: Store,
        executor: Executor,
        owner: OwnerRecord,
        settings: Settings,
        clock: Clock | None = None,
        *,
        code_payloads: Mapping[str, bytes] | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.owner = owner
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engines: dict[int, RunEngine] = {}
        self.fences: dict[int, int] = {}
        self.code_payloads = dict(code_payloads or {})
        #: Called with a run id when its engine leaves the loop because another owner has it.
        self.on_lost: Callable[[int], None] | None = None
        #: Seconds the last :meth:`step` spent waiting for reports (real time, for the metrics).
        self.waited = 0.0
        self.lease = LeaseKeeper(store, owner, settings.lease_seconds, self.clock)
        self._conn = store.connect()
        self._next_cancel_check = 0.0
        self._next_pool_check = 0.0
        self._write_by = 0.0

    def register(self) -> None:
        """Record this owner with a lease, kept by heartbeat (before it claims any run)."""
        self.lease.start()

    def add(self, run_id: int, listener: Listener | None = None) -> RunEngine:
        """Claim run ``run_id`` for this owner, take it into the loop and start it.

        Raises:
            RunClaimedError: another live owner drives the run (or it has ended).
            SnapshotError: its flow version cannot be read by this weir.
        """
        self.register()
        with self._conn.begin():
            fence = owners.claim(self._conn, run_id, self.owner.id, self.clock.now())
        if fence is None:
            raise RunClaimedError(f"run {run_id} is driven by another process")
        return self.adopt(run_id, fence, listener)

    def adopt(self, run_id: int, fence: int, listener: Listener | None = None) -> RunEngine:
        """Take into the loop a run this owner has claimed (with token ``fence``), and start it.

        Raises:
            SnapshotError: its flow version cannot be read by this weir (the run is not taken).
        """
        with self._conn.begin():
            run = runs.get_run(self._conn, run_id, result=False)
            snapshot = get_snapshot(self._conn, run.flow_name, run.flow_version)
            task_runs = tasks.get_task_runs(self._conn, run_id)
            tried = tasks.get_tries(self._conn, run_id)
            hits = cache.entries(self._conn, [r.cache_key for r in task_runs if r.cache_key])
        interval = (run.interval_start, run.interval_end) if run.interval_start and run.interval_end else None
        engine = RunEngine(
            snapshot=snapshot,
            run_id=run_id,
            code=CodeSource(
                ref=snapshot.code,
                flow_name=snapshot.name,
                version=snapshot.version,
                payload=self.code_payloads.get(snapshot.version),
            ),
            storage=Storage(
                results_url=self.settings.results,
                logs_url=self.settings.logs,
                inline_max=self.settings.result_inline_max,
            ),
            params=run.params,
            clock=self.clock,
            listener=listener,
            logical_date=run.logical_date,
            data_interval=interval,
            started_at=run.started_at,
        )
        engine.restore(run.state, task_runs, tried, hits)
        engine.begin()
        self.engines[run_id] = engine
        self.fences[run_id] = fence
        return engine

    def run(self) -> None:
        """Drive until every run has ended. On an interrupt, stop the runs first, then re-raise."""
        try:
            while self.engines:
                self.step(None)
        except BaseException:
            self._abort("interrupted")
            raise
        finally:
            self.close()

    def step(self, max_wait: float | None) -> None:
        """One step: write the changes and take ready work (one transaction), hand the work out,
        take reports (waiting up to ``max_wait`` s when there are none yet; None: until a report
        or a timer), retire ended runs."""
        self.waited = 0.0
        for item in self._write_and_take():
            self.executor.submit(item)
        reports = self.executor.poll(0)
        if not reports or self.clock.monotonic() >= self._write_by:
            self._write_and_take(take=False)
        if not reports:
            self._housekeeping()
            self._retire()
            if not self.engines and max_wait is None:
                return
            wait = self._wait()
            if max_wait is not None:
                wait = max_wait if wait is None else min(wait, max_wait)
            waiting = time.perf_counter()
            reports = self.executor.poll(wait) if self.engines else self._sleep(wait)
            self.waited = time.perf_counter() - waiting
        for report in reports:
            engine = self.engines.get(report.key[0])
            if engine is not None:
                engine.on_report(report)
        for engine in self.engines.values():
            for key in engine.on_tick():
                self.executor.cancel(key)

    def close(self) -> None:
        """Write what is left, give the ended runs back, stop the lease and release the connection
        (once: closing again does nothing)."""
        if self._conn.closed:
            return
        try:
            for item in self._write_and_take(take=False):
                self.executor.submit(item)
            self._retire()
        finally:
            self._conn.close()
            self.lease.stop(expire=not self.engines)

    def hand_back(self) -> None:
        """Write what is left, then give every unfinished run back (owner none) for another
        driver to take up."""
        self._write_and_take(take=False)
        self._retire()
        with self._conn.begin():
            for run_id in list(self.engines):
                owners.release(self._conn, run_id, self.owner.id, self.fences.pop(run_id))
                del self.engines[run_id]

    # -- one step -------------------------------------------------------------------------------

    def _write_and_take(self, *, take: bool = True) -> list[WorkItem]:
        """Take ready work (``take``) and write every engine's changes; with ``take``, the write
        happens only when work leaves (or a pooled run needs the store to take it)."""
        if not self.engines:
            return []
        items: list[WorkItem] | None = None
        if take and not any(e.pools for e in self.engines.values()):
            items = self._take(None)  # in memory: nothing to write unless work leaves
            if not items or self.executor.capabilities.runs_in_poll:
                return items  # nothing runs before the write that precedes the next wait
        elif not take and not any(e.has_changes for e in self.engines.values()):
            return []
        writes: dict[int, Changes] = {}
        try:
            with self._conn.begin():
                if take and items is None:
                    items = self._take(self._conn)
                writes = {rid: e.drain() for rid, e in self.engines.items()}
                writes = {rid: c for rid, c in writes.items() if c}
                if writes:
                    self._apply(self._conn, writes)
        except StaleStateError as exc:
            return self._isolate(writes, items or [], exc)
        self._write_by = self.clock.monotonic() + WRITE_WITHIN
        if writes and faults.armed():
            _crash_points(writes.values())
        return items or []

    def _take(self, conn: Connection | None) -> list[WorkItem]:
        """Ready work for the free slots; ``conn`` (the step's transaction) is needed only when a
        run has pooled tasks (without it, cache keys are looked up in a read of their own)."""
        pooled = [e for e in self.engines.values() if e.pools]
        gate = None
        mono = self.clock.monotonic()
        if (
            conn is not None
            and pooled
            and (mono >= self._next_pool_check or any(e.has_ready_work for e in pooled))
        ):
            self._next_pool_check = mono + POOL_CHECK
            gate = gate_for(conn, {p for e in pooled for p in e.pools})
            for engine in pooled:
                engine.retry_pool_waiters()
        items: list[WorkItem] = []
        while True:
            free = self.executor.slots - sum(len(e.inflight) for e in self.engines.values())
            for engine in self.engines.values():
                if free <= len(items):
                    break
                items.extend(engine.take(free - len(items), gate))
            probing = [e for e in self.engines.values() if e.cache_probes]
            if not probing:
                return items
            keys = [p.key for e in probing for p in e.cache_probes]
            if conn is not None:
                found = cache.lookup(conn, keys, self.clock.now())
            else:
                with self._conn.begin():
                    found = cache.lookup(self._conn, keys, self.clock.now())
            for engine in probing:
                for probe in engine.take_cache_probes():
                    engine.on_cache(probe, found.get(probe.key))

    def _apply(self, conn: Connection, writes: dict[int, Changes]) -> None:
        stale = owners.stale_fences(conn, self.owner.id, {rid: self.fences[rid] for rid in writes})
        if stale:
            raise LeaseLostError(f"run(s) {stale} were adopted by another owner", run_ids=stale)
        for changes in writes.values():
            tasks.apply_changes(conn, changes)

    def _isolate(
        self, writes: dict[int, Changes], items: list[WorkItem], error: StaleStateError
    ) -> list[WorkItem]:
        """A step's write failed for some run(s): write each run's changes on its own, drop the runs
        that fail, and hand out the work of the others."""
        log.warning("a step's write failed (%s): writing each run on its own", error)
        lost: dict[int, bool] = {}  # run id -> still held by this owner (give it back)
        for run_id, changes in writes.items():
            try:
                with self._conn.begin():
                    self._apply(self._conn, {run_id: changes})
            except StaleStateError as exc:
                log.warning("run %s: %s; it leaves this loop", run_id, exc)
                lost[run_id] = not isinstance(exc, LeaseLostError)
        for run_id, held in lost.items():
            self._drop(run_id, released=held)
        return [item for item in items if item.key[0] not in lost]

    def _drop(self, run_id: int, *, released: bool) -> None:
        """Let go of a run another writer moved: stop its tries here, and give it back when this
        owner still holds it (its next driver reads it again from the store)."""
        engine = self.engines.pop(run_id)
        fence = self.fences.pop(run_id)
        for key in list(engine.inflight):
            self.executor.cancel(key)
        if released:
            try:
                with self._conn.begin():
                    owners.release(self._conn, run_id, self.owner.id, fence)
            except Exception as exc:
                log.warning("run %s could not be given back: %s", run_id, exc)
        if self.on_lost is not None:
            self.on_lost(run_id)

    def _wait(self) -> float | None:
        now = self.clock.monotonic()
        times = [t for t in (e.wake_at() for e in self.engines.values()) if t is not None]
        if self.engines:
            times.append(self._next_cancel_check)
            if any(e.waiting_for_pools for e in self.engines.values()):
                times.append(self._next_pool_check)
        return max(0.0, min(times) - now) if times else None

    def _housekeeping(self) -> None:
        now = self.clock.monotonic()
        if now < self._next_cancel_check:
            return
        self._next_cancel_check = now + CANCEL_CHECK
        active = [rid for rid, e in self.engines.items() if e.run_state in RUN_ACTIVE]
        if active:
            with self._conn.begin():
                requested = runs.cancel_requests(self._conn, active)
            for run_id in requested:
                for key in self.engines[run_id].cancel("cancelled on request"):
                    self.executor.cancel(key)

    def _sleep(self, seconds: float | None) -> list[Report]:
        if seconds:
            self.clock.sleep(seconds)
        return []

    def _retire(self) -> None:
        if not any(e.finished for e in self.engines.values()):
            return
        self._write_and_take(take=False)  # an ended run's last changes are written first
        done = [rid for rid, e in self.engines.items() if e.finished]
        with self._conn.begin():
            for run_id in done:
                owners.release(self._conn, run_id, self.owner.id, self.fences[run_id])
        for run_id in done:
            del self.engines[run_id]
            del self.fences[run_id]

    def _abort(self, reason: str) -> None:
        """Stop every run after an interruption so the store never shows a run nobody drives."""
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
            for engine in self.engines.values():
                for key in engine.cancel(reason):
                    self.executor.cancel(key)
            deadline = self.clock.monotonic() + 3.0
            while any(e.inflight for e in self.engines.values()) and self.clock.monotonic() < deadline:
                for report in self.executor.poll(0.1):
                    target = self.engines.get(report.key[0])
                    if target is not None:
                        target.on_report(report)
            for engine in self.engines.values():
                engine.hold()  # no callbacks of an interrupted run
            self._write_and_take(take=False)
            self._retire()
        except Exception:
            pass


def _crash_points(writes: Iterable[Changes]) -> None:
    states = {e.to_state for changes in writes for e in changes.events if e.task_id}
    if "queued" in states:
        faults.crash_at("task_queued")
    if "running" in states:
        faults.crash_at("task_running")
    if "success" in states:
        faults.crash_at("success_written")
