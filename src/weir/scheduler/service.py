"""The scheduler daemon: keeps the project's flows registered, creates the runs their schedules
make due, watches for files, and drives queued runs on the executor.

It works from flow snapshots only and never imports user code: flow files are read by the
registrar, a process of its own. One :class:`Scheduler` owns a :class:`~weir.scheduler.loop.Loop`.
Between loop steps it does its own work, which is cheap when nothing is due: its wake-up is the
next fire time (or the next report, or a file-watch tick), not a fixed polling interval, so a run
whose time has come starts within a few milliseconds of it.

Creating a run for a (flow, logical date), an event or a file is idempotent (a unique run key),
so two schedulers, a restart in the middle, or a clock step never create it twice. Runs are
claimed under a lease, in id order, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (one write lock
on SQLite: run one scheduler per SQLite store); a run whose driver's lease ran out is adopted.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from weir.clock import Clock, SystemClock
from weir.control import flows as flow_actions
from weir.control import runs as run_actions
from weir.control.backfill import scheduled_key
from weir.control.context import Context
from weir.control.files import FlowFiles
from weir.control.liveness import reap_local
from weir.control.retention import clean
from weir.errors import DuplicateRunError, WeirError
from weir.scheduler.leases import new_owner
from weir.scheduler.loop import Loop
from weir.scheduler.sensors import FileSensor
from weir.settings import Settings
from weir.states import RunState
from weir.store import flows, owners, runs

if TYPE_CHECKING:
    from weir.executors.base import Executor
    from weir.graph.snapshot import FlowSnapshot
    from weir.worker.registrar import Registrar

log = logging.getLogger("weir.scheduler")

#: Seconds between looks at the flow files and the watched file patterns.
REFRESH = 5.0
WATCH = 1.0
#: Seconds between looks for owners on this host whose process is gone.
REAP = 5.0
#: Seconds between cleans of old runs (with ``retention_days`` set), and the most runs one
#: clean deletes so that a pass stays short; a clean that stops there goes on a minute later.
RETAIN = 3600.0
RETAIN_LIMIT = 2000
RETAIN_AGAIN = 60.0


@dataclass(frozen=True, slots=True)
class Created:
    """A run the scheduler made: which flow, why, and for which logical date."""

    run_id: int
    flow_name: str
    trigger: str
    logical_date: datetime | None


class Scheduler:
    """Creates and drives runs until :meth:`stop` is called.

    Args:
        settings: where the store is, which flow folders to keep registered.
        executor: a started executor.
        clock: the time source (a :class:`weir.testing.FakeClock` in tests).
        registrar: reads the flow files (default: the process's shared registrar).
    """

    def __init__(
        self,
        settings: Settings,
        executor: Executor,
        *,
        clock: Clock | None = None,
        registrar: Registrar | None = None,
    ) -> None:
        from weir import metrics  # prometheus-client, loaded only where a scheduler runs

        self.metrics = metrics
        self.settings = settings
        self.clock = clock or SystemClock()
        self.owner = new_owner("scheduler", self.clock)
        base = Context.of(settings, via="scheduler", name=f"scheduler {self.owner.id}", clock=self.clock)
        self.ctx = base
        self.store = base.store
        self.executor = executor
        self.files = FlowFiles(settings.flows_dirs)
        self._registrar = registrar
        self.loop = Loop(self.store, executor, self.owner, settings, self.clock)
        self.flows: dict[str, FlowSnapshot] = {}
        self.created: list[Created] = []
        self._stopping = threading.Event()
        self._next_refresh = 0.0
        self._next_watch = 0.0
        self._next_reap = 0.0
        self._next_retain = 0.0
        self._next_fire: dict[str, datetime | None] = {}
        self.sensor = FileSensor()

    @property
    def registrar(self) -> Registrar:
        if self._registrar is None:
            from weir.worker.registrar import shared_registrar

            self._registrar = shared_registrar(self.settings.project_root, self.settings.registrar_timeout)
        return self._registrar

    # -- running --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`serve` to end after the current step (safe from a signal handler)."""
        self._stopping.set()

    def serve(self, *, grace: float = 30.0) -> None:
        """Schedule and drive until stopped; then let running tries finish (up to ``grace`` s)
        and hand the unfinished runs back for the next scheduler to take up."""
        try:
            while not self._stopping.is_set():
                self.step()
        finally:
            self._hand_back(grace)

    def step(self) -> None:
        """One pass: refresh flows, create due runs, take queued runs, one loop step."""
        self.tick()
        started = time.perf_counter()
        self.loop.step(self._wait())
        self.metrics.LOOP_STEP_SECONDS.observe(max(time.perf_counter() - started - self.loop.waited, 0.0))

    def tick(self) -> list[Created]:
        """The scheduling work of one pass (no waiting); returns the runs it created."""
        # Durations are measured on the real counter, not self.clock: they describe this machine's
        # work, and a fake clock (which moves only when told) would make every one zero.
        started = time.perf_counter()
        made_before = len(self.created)
        mono = self.clock.monotonic()
        if mono >= self._next_refresh:
            self._next_refresh = mono + REFRESH
            self.refresh()
        self.fire_schedules()
        if mono >= self._next_watch:
            self._next_watch = mono + WATCH
            self.watch_files()
        self.take_runs()
        # Real time, as for reaping: a fake clock would never move the hourly clean along.
        if self.settings.retention_days > 0 and time.monotonic() >= self._next_retain:
            self._next_retain = time.monotonic() + self.apply_retention()
        self.metrics.PASS_SECONDS.observe(time.perf_counter() - started)
        return self.created[made_before:]

    def _wait(self) -> float:
        now = self.clock.now()
        mono = self.clock.monotonic()
        waits = [self._next_refresh - mono, self._next_watch - mono]
        for fire in self._next_fire.values():
            if fire is not None:
                waits.append((fire - now).total_seconds())
        return max(0.0, min(waits))

    # -- flows ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Register new and changed flow files (through the registrar), then take the project's
        flows (their newest snapshots) from the store."""
        registered = None
        if self.settings.flows_dirs:
            registered = flow_actions.sync(self.ctx, self.registrar, self.files)
        # Paused flows (next fire None) are looked at again: someone may have unpaused them.
        self._next_fire = {name: t for name, t in self._next_fire.items() if t is not None}
        if registered is None and self.flows:
            return
        with self.store.read() as conn:
            files = flows.files(conn)
            names = sorted({name for f in files for name in f.flows})
            records = flows.newest(conn, names=names)
        before = self.flows
        self.flows = {}
        for record in records:
            try:
                self.flows[record.name] = flow_actions.snapshot_of_record(record)
            except WeirError as exc:
                log.warning("flow %s: %s", record.name, exc)
        for name, snapshot in self.flows.items():
            old = before.get(name)
            if old is None or old.version != snapshot.version:
                self._next_fire.pop(name, None)  # new or changed: its schedule is read again
        if registered is not None:
            for path, error in registered.errors.items():
                log.warning("flow file %s: %s", path, error)

    # -- time-based schedules --------------------------------------------------------------------

    def fire_schedules(self) -> None:
        """Create the runs whose intervals have ended, for every unpaused scheduled flow."""
        from weir.schedules import due_runs, next_fire_time

        now = self.clock.now()
        due_names = []
        for name, snapshot in self.flows.items():
            spec = snapshot.schedule_spec
            if spec is None or spec.timetable is None:
                continue
            upcoming = self._next_fire.get(name, now)
            if upcoming is not None and upcoming <= now:
                due_names.append(name)
        if not due_names:
            return
        with self.store.read() as conn:
            states = flows.states(conn, due_names)
        fires: list[tuple[str, datetime | None, datetime | None]] = []
        for name in due_names:
            snapshot = self.flows[name]
            spec = snapshot.schedule_spec
            state = states.get(name)
            if spec is None or state is None or state.paused:
                self._next_fire[name] = None  # looked at again at the next refresh (unpaused?)
                continue
            last = state.last_fire
            for due in due_runs(spec, last, now):
                made = self._create(
                    snapshot,
                    trigger="schedule",
                    key=scheduled_key(name, due.logical_date),
                    logical_date=due.logical_date,
                    interval=(due.interval_start, due.interval_end),
                )
                if made is not None:
                    # How late the fire time was handled (catch-up runs count, and show as late).
                    self.metrics.LAG_SECONDS.observe(
                        max((self.clock.now() - due.interval_end).total_seconds(), 0.0)
                    )
                last = due.interval_end
            upcoming = next_fire_time(spec, now)
            fires.append((name, last if last != state.last_fire else None, upcoming))
            self._next_fire[name] = upcoming
        if fires:
            with self.store.transaction() as tx:
                for name, last_fire, upcoming in fires:
                    flows.set_fire(tx, name, last_fire=last_fire, next_fire=upcoming)

    # -- file sensors -------------------------------------------------------------------------------

    def watch_files(self) -> None:
        """One run per new file matching a flow's ``on_file`` pattern (relative to the project
        root) once it has settled, with the path as a param (see :mod:`weir.scheduler.sensors`)."""
        watching = {
            n: s for n, s in self.flows.items() if s.schedule_spec is not None and s.schedule_spec.files
        }
        if not watching:
            return
        with self.store.read() as conn:
            states = flows.states(conn, list(watching))
        for name, snapshot in watching.items():
            spec = snapshot.schedule_spec
            state = states.get(name)
            if spec is None or state is None or state.paused:
                continue
            takes_path = any(p.name == "path" for p in snapshot.params)
            for watch in spec.files:
                for file in self.sensor.settled(
                    name, watch, self.settings.project_root, self.clock.monotonic()
                ):
                    params = {"path": str(file.path)} if takes_path else {}
                    key = f"file:{name}:{file.path}:{file.digest}"
                    self._create(snapshot, trigger="file", key=key, params=params)

    # -- retention ------------------------------------------------------------------------------------

    def apply_retention(self) -> float:
        """Delete the ended runs older than ``retention_days`` (as ``weir db clean``, recorded
        for this scheduler); returns the seconds until the next clean. Never raises: a failed
        clean is logged, and tried again at the next hour."""
        try:
            report = clean(self.ctx, timedelta(days=self.settings.retention_days), limit=RETAIN_LIMIT)
        except Exception:
            log.exception("retention: cleaning runs older than %s days failed", self.settings.retention_days)
            return RETAIN
        if report.runs:
            log.info(
                "retention: removed %d runs that ended before %s (%d tries, %d log files, %d result files)",
                report.runs,
                report.cutoff.isoformat(timespec="seconds"),
                report.tries,
                report.log_files,
                report.result_files,
            )
        return RETAIN_AGAIN if report.limited else RETAIN

    # -- taking queued runs -------------------------------------------------------------------------------

    def take_runs(self) -> None:
        """Adopt runs whose driver's lease ran out, and start queued runs nobody drives, within each
        flow's ``max_active_runs``; claimed in id order, skipping rows another scheduler holds."""
        self.loop.register()  # others must see this owner alive before it owns anything
        # Real time, not the scheduler's clock: it is about this machine's processes.
        if time.monotonic() >= self._next_reap:
            self._next_reap = time.monotonic() + REAP
            reap_local(self.store, self.clock)
        now = self.clock.now()
        with self.store.read() as conn:
            if not owners.any_claimable(conn, self.owner.id, now):
                return  # the usual pass: nothing waits, and no write lock is taken
        claimed: list[tuple[int, int]] = []
        with self.store.transaction() as tx:
            active = owners.active_by_flow(tx, now)
            # Runs a dead driver had taken are adopted whatever the flows' limits (they count already).
            for run in owners.candidates(tx, self.owner.id, now, started_only=True):
                fence = owners.claim(tx, run.id, self.owner.id, now)
                if fence is not None:
                    claimed.append((run.id, fence))
            # Flows at their limit are left out of the query, and it is asked again after a flow
            # fills up, so one flow's long backlog never hides another flow's runs; queued runs of
            # a paused flow wait for the unpause.
            paused = flows.paused_names(tx)
            for _ in range(10):
                full = [name for name, count in active.items() if count >= self._limit(tx, name)]
                found = owners.candidates(tx, self.owner.id, now, exclude_flows=full + paused)
                took = 0
                for run in found:
                    if active.get(run.flow_name, 0) >= self._limit(tx, run.flow_name):
                        continue
                    fence = owners.claim(tx, run.id, self.owner.id, now)
                    if fence is not None:
                        active[run.flow_name] = active.get(run.flow_name, 0) + 1
                        claimed.append((run.id, fence))
                        took += 1
                if not took or len(found) < 100:
                    break
        for run_id, fence in claimed:
            try:
                self.loop.adopt(run_id, fence)
            except WeirError as exc:  # its snapshot cannot be read: the run can never start
                log.error("run %s: cannot start: %s", run_id, exc)
                with self.store.transaction() as tx:
                    run = runs.get_run(tx, run_id, result=False)
                    run_actions.end_in_store(tx, run, RunState.FAILED, f"cannot start: {exc}", now)

    def _limit(self, conn: Any, flow_name: str) -> int:
        snapshot = self.flows.get(flow_name)
        if snapshot is None:
            try:
                snapshot = flow_actions.get_snapshot(conn, flow_name)
            except WeirError:
                return 1_000_000
        spec = snapshot.schedule_spec
        return spec.max_active_runs if spec is not None else 1_000_000

    def _create(
        self,
        snapshot: FlowSnapshot,
        *,
        trigger: str,
        key: str,
        params: dict[str, Any] | None = None,
        logical_date: datetime | None = None,
        interval: tuple[datetime, datetime] | None = None,
    ) -> Created | None:
        try:
            made = run_actions.trigger(
                self.ctx,
                snapshot.name,
                params or {},
                version=snapshot.version,
                trigger=trigger,
                run_key=key,
                logical_date=logical_date,
                interval=interval,
                check_pools=False,  # a missing pool holds the tasks (and says so); it loses no interval
            )
        except DuplicateRunError:
            return None
        except WeirError as exc:
            log.error("flow %s: cannot create a %s run: %s", snapshot.name, trigger, exc)
            return None
        created = Created(
            run_id=made.run_id, flow_name=snapshot.name, trigger=trigger, logical_date=logical_date
        )
        self.created.append(created)
        return created

    def _hand_back(self, grace: float) -> None:
        """Stop taking work, let running tries end (up to ``grace`` s), and give the runs still
        unfinished back for the next scheduler to take up."""
        deadline = self.clock.monotonic() + grace
        try:
            for engine in self.loop.engines.values():
                engine.hold()
            while any(e.inflight for e in self.loop.engines.values()) and self.clock.monotonic() < deadline:
                self.loop.step(0.2)
            self.loop.hand_back()
        finally:
            self.loop.close()
