"""The scheduler daemon: finds flows, creates the runs their schedules make due, watches
for files, and drives queued runs on the executor.

One :class:`Scheduler` owns a :class:`~weir.scheduler.loop.Loop`. Between loop steps it
does its own work, which is cheap when nothing is due: its wake-up is the next fire time
(or the next report, or a file-watch tick), not a fixed polling interval, so a run whose
time has come starts within a few milliseconds of it.

Creating a run for a (flow, logical date), an event or a file is idempotent (a unique run
key), so two schedulers, a restart in the middle, or a clock step never create it twice.
Taking a queued run is a compare-and-set on its owner, so two schedulers never drive one
run. (SQLite allows one writer at a time: run one scheduler per SQLite store.)
"""

from __future__ import annotations

import glob as globlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weir.control import drive_in
from weir.errors import WeirError
from weir.scheduler.clock import Clock, SystemClock
from weir.scheduler.loop import Loop, RunClaimedError, new_owner, owner_alive
from weir.settings import Settings
from weir.store import queries
from weir.store.db import get_engine, write

if TYPE_CHECKING:
    from weir.executors.base import Executor
    from weir.sdk.discovery import Discovery
    from weir.sdk.flow import Flow
    from weir.store.records import RunRecord

log = logging.getLogger("weir.scheduler")

#: Seconds between looks at the flow files and the watched file patterns.
REFRESH = 5.0
WATCH = 1.0
#: Seconds between looks for runs whose driving process died.
ORPHAN_CHECK = 5.0


@dataclass(frozen=True, slots=True)
class Created:
    """A run the scheduler made: which flow, why, and for which logical date."""

    run_id: int
    flow_name: str
    trigger: str
    logical_date: datetime | None


def run_key(flow_name: str, logical_date: datetime) -> str:
    """The key that makes a scheduled (or backfilled) interval's run unique."""
    return f"scheduled:{flow_name}:{logical_date.isoformat()}"


class Scheduler:
    """Creates and drives runs until :meth:`stop` is called.

    Args:
        settings: where the store is, which flow folders to read.
        executor: a started executor.
        clock: the time source (a :class:`weir.testing.FakeClock` in tests).
        discovery: the flow files to watch (default: ``settings.flows_dirs``).
    """

    def __init__(
        self,
        settings: Settings,
        executor: Executor,
        *,
        clock: Clock | None = None,
        discovery: Discovery | None = None,
    ) -> None:
        from weir import metrics  # prometheus-client, loaded only where a scheduler runs
        from weir.sdk.discovery import Discovery

        self.metrics = metrics
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine = get_engine(settings.database_url)
        self.executor = executor
        self.discovery = discovery or Discovery(settings.flows_dirs)
        self.owner = new_owner("scheduler", self.clock)
        self.loop = Loop(self.engine, executor, self.owner, self.clock)
        self.flows: dict[str, Flow] = {}
        self.created: list[Created] = []
        self._stopping = threading.Event()
        self._next_refresh = 0.0
        self._next_watch = 0.0
        self._next_fire: dict[str, datetime | None] = {}
        self._next_orphan_check = 0.0

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
        """Read new and changed flow files and record flows, schedules and file errors."""
        changed = self.discovery.refresh()
        # Paused flows (next fire None) are looked at again: someone may have unpaused them.
        self._next_fire = {name: t for name, t in self._next_fire.items() if t is not None}
        if not changed and self.flows:
            return
        now = self.clock.now()
        before = self.flows
        self.flows = dict(self.discovery.flows)
        for name, flow in self.flows.items():
            if before.get(name) is not flow:
                self._next_fire.pop(name, None)  # new or changed: its schedule is read again
        with write(self.engine) as conn:
            for file in self.discovery.files.values():
                queries.record_flow_file(
                    conn,
                    path=str(file.path),
                    digest=file.digest,
                    flows=[f.name for f in file.flows],
                    error=file.error,
                    now=now,
                )
            queries.forget_flow_files(conn, [str(p) for p in self.discovery.files])
            for name, flow in self.flows.items():
                spec = flow.schedule_spec
                queries.upsert_flow_state(
                    conn,
                    name=name,
                    path=_path_of(flow),
                    schedule=spec.to_dict() if spec else None,
                    paused=bool(spec and spec.paused),
                    now=now,
                )
        for path, error in self.discovery.errors.items():
            log.warning("flow file %s: %s", path, error)

    # -- time-based schedules --------------------------------------------------------------------

    def fire_schedules(self) -> None:
        """Create the runs whose intervals have ended, for every unpaused scheduled flow."""
        from weir.schedules import due_runs, next_fire_time

        now = self.clock.now()
        due_names = []
        for name, flow in self.flows.items():
            if flow.schedule_spec is None or flow.schedule_spec.timetable is None:
                continue
            upcoming = self._next_fire.get(name, now)
            if upcoming is not None and upcoming <= now:
                due_names.append(name)
        if not due_names:
            return
        with self.engine.connect() as conn:
            states = queries.get_flow_states(conn)
        fires: list[tuple[str, datetime | None, datetime | None]] = []
        for name in due_names:
            flow = self.flows[name]
            spec = flow.schedule_spec
            state = states.get(name)
            if spec is None or spec.timetable is None or state is None:
                self._next_fire[name] = None
                continue
            if state.paused:
                self._next_fire[name] = None  # looked at again when unpaused (refresh)
                continue
            last = state.last_fire
            for due in due_runs(spec, last, now):
                made = self._create(
                    flow,
                    trigger="schedule",
                    key=run_key(name, due.logical_date),
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
            with write(self.engine) as conn:
                for name, last_fire, upcoming in fires:
                    queries.set_fire(conn, name, last_fire=last_fire, next_fire=upcoming)

    # -- file sensors -------------------------------------------------------------------------------

    def watch_files(self) -> None:
        """One run per new file matching a flow's ``on_file`` pattern, with the path as a param."""
        watching = {
            n: f for n, f in self.flows.items() if f.schedule_spec is not None and f.schedule_spec.files
        }
        if not watching:
            return
        with self.engine.connect() as conn:
            states = queries.get_flow_states(conn)
        for name, flow in watching.items():
            spec = flow.schedule_spec
            state = states.get(name)
            if spec is None or state is None or state.paused:
                continue
            for watch in spec.files:
                pattern = watch.glob
                base = Path(_path_of(flow) or ".").parent if not Path(pattern).is_absolute() else None
                full = str(base / pattern) if base else pattern
                for match in sorted(globlib.glob(full, recursive=True)):
                    path = Path(match).resolve()
                    try:
                        mtime = path.stat().st_mtime_ns
                    except OSError:
                        continue
                    params = {"path": str(path)} if "path" in flow.signature.parameters else {}
                    self._create(flow, trigger="file", key=f"file:{name}:{path}:{mtime}", params=params)

    # -- taking queued runs -------------------------------------------------------------------------------

    def take_runs(self) -> None:
        """Start queued runs nobody drives (and take up runs whose driver died), within each
        flow's ``max_active_runs``."""
        self.loop.register()  # others must see this owner alive before it owns anything
        self.loop.beat()
        with self.engine.connect() as conn:
            active = queries.active_runs_by_flow(conn)
            paused = queries.paused_flows(conn)
            orphans: list[RunRecord] = []
            if self.clock.monotonic() >= self._next_orphan_check:
                self._next_orphan_check = self.clock.monotonic() + ORPHAN_CHECK
                owned = queries.owned_active_runs(conn, exclude_owner=self.owner.id)
                owners = {r.owner: queries.get_owner(conn, r.owner) for r in owned if r.owner}
                orphans = [
                    r for r in owned if not owner_alive(owners.get(r.owner) if r.owner else None, self.clock)
                ]
        for run in orphans:
            self._take(run, active, orphan=True)
        # Flows at their limit are left out of the query, and it is asked again after a flow
        # fills up, so one flow's long backlog never hides another flow's runs.
        for _ in range(10):
            # Queued runs of a paused flow wait for the unpause (runs already going continue).
            full = [name for name, count in active.items() if count >= self._limit(name)] + paused
            with self.engine.connect() as conn:
                candidates = queries.runs_to_start(conn, exclude_flows=full)
            took = [run for run in candidates if self._take(run, active, orphan=False)]
            if not took or len(candidates) < 100:
                return

    def _take(self, run: RunRecord, active: dict[str, int], *, orphan: bool) -> bool:
        if run.id in self.loop.drivers:
            return False
        flow = self.flows.get(run.flow_name)
        if flow is None:
            return False  # a flow this scheduler does not know (another project, or a script)
        if not orphan and active.get(run.flow_name, 0) >= self._limit(run.flow_name):
            return False
        with write(self.engine) as conn:
            if not queries.set_run_owner(conn, run.id, self.owner.id, run.owner):
                return False  # another scheduler took it
            try:
                values = flow.validate_params(run.params)
            except WeirError as exc:
                from weir.control import fail_in_store

                fail_in_store(conn, run.id, run.state, f"cannot start: {exc}", self.clock)
                queries.set_run_owner(conn, run.id, None, self.owner.id)
                log.error("run %s: %s", run.id, exc)
                return False
        if not orphan:
            active[run.flow_name] = active.get(run.flow_name, 0) + 1
        try:
            self.loop.add(drive_in(flow, run, values, settings=self.settings, clock=self.clock, restore=True))
        except RunClaimedError:
            return False
        return True

    def _limit(self, flow_name: str) -> int:
        flow = self.flows.get(flow_name)
        spec = flow.schedule_spec if flow is not None else None
        return spec.max_active_runs if spec is not None else 1_000_000

    def _create(
        self,
        flow: Flow,
        *,
        trigger: str,
        key: str,
        params: dict[str, Any] | None = None,
        logical_date: datetime | None = None,
        interval: tuple[datetime, datetime] | None = None,
    ) -> Created | None:
        from weir.runs import DuplicateRunError, create_run

        try:
            _, run_id, _ = create_run(
                flow,
                params or {},
                settings=self.settings,
                trigger=trigger,
                run_key=key,
                logical_date=logical_date,
                interval=interval,
                now=self.clock.now(),
            )
        except DuplicateRunError:
            return None
        except WeirError as exc:
            log.error("flow %s: cannot create a %s run: %s", flow.name, trigger, exc)
            return None
        created = Created(run_id=run_id, flow_name=flow.name, trigger=trigger, logical_date=logical_date)
        self.created.append(created)
        return created

    def _hand_back(self, grace: float) -> None:
        """Stop taking work, let running tries end, and release the runs still unfinished."""
        deadline = self.clock.monotonic() + grace
        while True:
            for driver in self.loop.drivers.values():
                # Tries ending now make downstream tasks ready: none of them starts either.
                driver.ready.clear()
                driver.resubmit.clear()
                driver.callbacks.clear()
            if not any(d.inflight for d in self.loop.drivers.values()) or self.clock.monotonic() >= deadline:
                break
            self.loop.step(0.2)
        self.loop.close()
        with write(self.engine) as conn:
            for run_id in list(self.loop.drivers):
                queries.set_run_owner(conn, run_id, None, self.owner.id)


def _path_of(flow: Flow) -> str | None:
    import sys

    module = sys.modules.get(flow.fn.__module__)
    return getattr(module, "__weir_flow_file__", None) or getattr(module, "__file__", None)
