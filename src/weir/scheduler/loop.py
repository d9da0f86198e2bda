"""The loop that drives runs: one executor, any number of :class:`RunDriver` s, one store.

Each step hands ready work to the executor, takes the reports that are already there,
and writes everything the step changed in one transaction before it waits. A finished
task wakes the loop at once; the loop also wakes for timers (retries, timeouts) and,
a few times a second while runs are active, to look for cancel requests and to beat its
owner heartbeat, by which other processes tell a live driver from a dead one.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import TYPE_CHECKING

from weir.errors import WeirError
from weir.scheduler import faults
from weir.scheduler.clock import Clock, SystemClock
from weir.scheduler.driver import RunDriver
from weir.states import RunState
from weir.store import queries
from weir.store.records import Changes, OwnerRecord

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from weir.executors.base import Executor, Report, TryKey


class RunClaimedError(WeirError):
    """A run that another live process drives."""


#: Seconds between looks for cancel requests while runs are active.
CANCEL_CHECK = 0.25
#: Seconds between owner heartbeats; an owner silent for STALE_AFTER is taken for dead.
HEARTBEAT = 1.0
STALE_AFTER = 10.0


def new_owner(kind: str, clock: Clock) -> OwnerRecord:
    now = clock.now()
    host = socket.gethostname()
    return OwnerRecord(
        id=f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
        host=host,
        pid=os.getpid(),
        kind=kind,
        started_at=now,
        heartbeat_at=now,
    )


def owner_alive(owner: OwnerRecord | None, clock: Clock) -> bool:
    """Whether the process behind ``owner`` still drives its runs."""
    if owner is None:
        return False
    if owner.host == socket.gethostname():
        try:
            os.kill(owner.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
    return (clock.now() - owner.heartbeat_at).total_seconds() < STALE_AFTER


class Loop:
    """Drives the runs added to it until each has ended.

    Args:
        engine: the store.
        executor: a started executor.
        owner: this process's owner record (see :func:`new_owner`), registered by :meth:`run`.
    """

    def __init__(
        self, engine: Engine, executor: Executor, owner: OwnerRecord, clock: Clock | None = None
    ) -> None:
        self.engine = engine
        self.executor = executor
        self.owner = owner
        self.clock = clock or SystemClock()
        self.drivers: dict[int, RunDriver] = {}
        #: Seconds the last :meth:`step` spent waiting for reports (real time, for the metrics).
        self.waited = 0.0
        self._conn = engine.connect().execution_options(weir_write=True)
        self._registered = False
        self._next_cancel_check = 0.0
        self._next_heartbeat = 0.0

    def add(self, driver: RunDriver) -> None:
        """Claim ``driver``'s run for this owner, take it into the loop and start it.

        Raises:
            RunClaimedError: another live process drives the run.
        """
        self.register()
        with self._conn.begin():
            claimed = queries.claim_run(self._conn, driver.run_id, self.owner.id)
        if not claimed:
            raise RunClaimedError(f"run {driver.run_id} is driven by another process")
        self.drivers[driver.run_id] = driver
        driver.begin()

    def run(self) -> None:
        """Drive until every run has ended. On an interrupt, stop the runs first, then re-raise."""
        try:
            while self.drivers:
                self.step(None)
        except BaseException:
            self._abort("interrupted")
            raise
        finally:
            self.close()

    def step(self, max_wait: float | None) -> None:
        """One step: hand out work, take reports (waiting up to ``max_wait`` s when there are
        none yet; None: until a report or a timer), write the step, retire ended runs."""
        self.waited = 0.0
        self.register()
        self._dispatch()
        reports = self.executor.poll(0)
        if not reports:
            self._flush()
            self._retire()
            self._housekeeping()
            if not self.drivers and max_wait is None:
                return
            wait = self._wait()
            if max_wait is not None:
                wait = max_wait if wait is None else min(wait, max_wait)
            waiting = time.perf_counter()
            reports = self.executor.poll(wait) if self.drivers else self._sleep(wait)
            self.waited = time.perf_counter() - waiting
        for report in reports:
            driver = self.drivers.get(report.key[0])
            if driver is not None:
                driver.on_report(report)
        self._tick()

    def _sleep(self, seconds: float | None) -> list[Report]:
        if seconds:
            self.clock.sleep(seconds)
        return []

    def close(self) -> None:
        """Write what is left and release the store connection."""
        try:
            self._flush()
            self._retire()
        finally:
            self._conn.close()

    # -- one step -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while True:
            free = self.executor.slots - sum(len(d.inflight) for d in self.drivers.values())
            for driver in self.drivers.values():
                if free <= 0:
                    break
                for item in driver.take(free):
                    self.executor.submit(item)
                    free -= 1
            if not self._answer_cache_probes():
                return

    def _answer_cache_probes(self) -> bool:
        probing = [d for d in self.drivers.values() if d.cache_probes]
        if not probing:
            return False
        keys = [p.key for d in probing for p in d.cache_probes]
        with self._conn.begin():
            found = queries.cache_lookup(self._conn, keys, self.clock.now())
        for driver in probing:
            probes, driver.cache_probes = driver.cache_probes, []
            for probe in probes:
                driver.on_cache(probe, found.get(probe.key))
        return True

    def _tick(self) -> None:
        for driver in self.drivers.values():
            for key in driver.on_tick():
                self.executor.cancel(key)

    def _wait(self) -> float | None:
        now = self.clock.monotonic()
        times = [t for t in (d.wake_at() for d in self.drivers.values()) if t is not None]
        if self.drivers:
            times.append(min(self._next_cancel_check, self._next_heartbeat))
        return max(0.0, min(times) - now) if times else None

    def _housekeeping(self) -> None:
        now = self.clock.monotonic()
        if now >= self._next_cancel_check:
            self._next_cancel_check = now + CANCEL_CHECK
            active = [
                rid for rid, d in self.drivers.items() if d.run_state in (RunState.QUEUED, RunState.RUNNING)
            ]
            if active:
                with self._conn.begin():
                    requested = queries.cancel_requests(self._conn, active)
                for run_id in requested:
                    self._stop(self.drivers[run_id].cancel("cancelled on request"))
        self.beat()

    def beat(self) -> None:
        """Say this owner is alive, at most once a :data:`HEARTBEAT`."""
        now = self.clock.monotonic()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + HEARTBEAT
            with self._conn.begin():
                queries.heartbeat(self._conn, self.owner.id, self.clock.now())

    def _stop(self, keys: list[TryKey]) -> None:
        for key in keys:
            self.executor.cancel(key)

    def _flush(self) -> None:
        changes = Changes()
        for driver in self.drivers.values():
            changes.extend(driver.drain())
        if changes:
            with self._conn.begin():
                queries.apply_changes(self._conn, changes)
            if faults.armed():
                _crash_points(changes)

    def _retire(self) -> None:
        done = [rid for rid, d in self.drivers.items() if d.finished]
        if not done:
            return
        with self._conn.begin():
            for run_id in done:
                queries.set_run_owner(self._conn, run_id, None, self.owner.id)
        for run_id in done:
            del self.drivers[run_id]

    def register(self) -> None:
        """Record this process as an owner (before it takes any run)."""
        if self._registered:
            return
        with self._conn.begin():
            queries.register_owner(self._conn, self.owner)
        self._registered = True

    def _abort(self, reason: str) -> None:
        """Stop every run after an interruption so the store never shows a run nobody drives."""
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
            for driver in self.drivers.values():
                self._stop(driver.cancel(reason))
            deadline = self.clock.monotonic() + 3.0
            while any(d.inflight for d in self.drivers.values()) and self.clock.monotonic() < deadline:
                for report in self.executor.poll(0.1):
                    target = self.drivers.get(report.key[0])
                    if target is not None:
                        target.on_report(report)
            for driver in self.drivers.values():
                driver.callbacks.clear()
            self._flush()
            self._retire()
        except Exception:
            pass


def _crash_points(changes: Changes) -> None:
    states = {e.to_state for e in changes.events if e.task_id}
    if "queued" in states:
        faults.crash_at("task_queued")
    if "running" in states:
        faults.crash_at("task_running")
    if "success" in states:
        faults.crash_at("success_written")
