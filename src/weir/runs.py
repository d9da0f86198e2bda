"""Runs as users see them: create and drive one (``flow.run``), and read one back (``Run``)."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from weir import results
from weir.errors import WeirError
from weir.executors import create_executor
from weir.results import ResultRef
from weir.scheduler import faults
from weir.scheduler.clock import SystemClock
from weir.scheduler.loop import new_owner
from weir.settings import Settings
from weir.states import RunState
from weir.store import queries
from weir.store.db import get_engine, write
from weir.store.records import OwnerRecord, RunRecord, TaskRunRecord, TryRecord

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from weir.executors.base import Executor
    from weir.scheduler.driver import Listener
    from weir.sdk.flow import Flow


class DuplicateRunError(WeirError):
    """A run with the same key (flow and logical date, or event id) exists already."""


class RunFailedError(WeirError):
    """``run.result()`` of a run that did not succeed."""


class Run:
    """A recorded run: its state, its task runs and tries, and its result.

    The values are read from the store, so a ``Run`` works in any process, long after the
    one that made the run is gone. :meth:`refresh` reads them again.
    """

    def __init__(self, engine: Engine, record: RunRecord) -> None:
        self._engine = engine
        self.record = record

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.flow_name} {self.state}>"

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def flow_name(self) -> str:
        return self.record.flow_name

    @property
    def state(self) -> RunState:
        return RunState(self.record.state)

    @property
    def params(self) -> dict[str, Any]:
        return self.record.params

    @property
    def reason(self) -> str | None:
        return self.record.reason

    def refresh(self) -> Run:
        with self._engine.connect() as conn:
            self.record = queries.get_run(conn, self.id)
        return self

    @property
    def task_runs(self) -> list[TaskRunRecord]:
        """Every task run of this run (mapped elements included), in no particular order."""
        with self._engine.connect() as conn:
            return queries.get_task_runs(conn, self.id)

    def task_run(self, task_id: str, map_index: int = -1) -> TaskRunRecord:
        for record in self.task_runs:
            if record.task_id == task_id and record.map_index == map_index:
                return record
        raise KeyError(f"run {self.id} has no task run {task_id!r}")

    def tries(self, task_id: str | None = None) -> list[TryRecord]:
        with self._engine.connect() as conn:
            return queries.get_tries(conn, self.id, task_id)

    def result(self) -> Any:
        """The flow's return value.

        Raises:
            RunFailedError: the run did not succeed (the message says why).
        """
        if self.record.state != RunState.SUCCESS:
            self.refresh()
        if self.record.state != RunState.SUCCESS:
            raise RunFailedError(
                f"run {self.id} of flow {self.flow_name!r} is {self.record.state}: {self.record.reason or ''}"
            )
        if self.record.result_data is None and self.record.result_path is None:
            return None
        return results.load(ResultRef(data=self.record.result_data, path=self.record.result_path))

    def task_result(self, task_id: str, map_index: int = -1) -> Any:
        """The stored result of one task run's successful try."""
        for t in self.tries(task_id):
            if t.map_index == map_index and t.state == "success":
                return results.load(ResultRef(data=t.result_data, path=t.result_path))
        raise KeyError(f"run {self.id}: task {task_id!r} has no successful try")


def get_run(run_id: int, settings: Settings | None = None) -> Run:
    """The run ``run_id`` from the store. Raises NotFoundError."""
    settings = settings or Settings.from_env()
    engine = get_engine(settings.database_url)
    with engine.connect() as conn:
        return Run(engine, queries.get_run(conn, run_id))


def create_run(
    flow: Flow,
    params: Mapping[str, Any],
    *,
    settings: Settings,
    trigger: str = "manual",
    run_key: str | None = None,
    logical_date: datetime | None = None,
    interval: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
    owner: OwnerRecord | None = None,
) -> tuple[Engine, int, dict[str, Any]]:
    """Validate, then record a queued run of ``flow``; returns (engine, run id, param values).

    Everything that can be refused (the graph, the params) is checked before anything is
    written, so bad input leaves no half-made run. With a ``run_key`` that exists already
    (a scheduled interval or an event made twice) nothing is written and
    :class:`DuplicateRunError` is raised.
    """
    from weir.worker.flows import flow_ref_for

    graph = flow.graph
    values = flow.validate_params(params)
    params_json = flow.params_json(values)
    engine = get_engine(settings.database_url)
    ref = flow_ref_for(flow)
    now = now or _now()
    if logical_date is None:
        # As in Airflow: a run made by hand (or by an event) is dated now, and a flow on a
        # time schedule gets the data interval that ended last.
        logical_date, interval = _manual_interval(flow, now)
    task_runs = [
        TaskRunRecord(run_id=0, task_id=node.task_id, max_tries=node.policy.retries + 1)
        for node in graph.nodes.values()
    ]
    from sqlalchemy.exc import IntegrityError

    try:
        with write(engine) as conn:
            if owner is not None:
                queries.register_owner(conn, owner)
            run_id = _record(
                conn,
                flow,
                ref,
                graph,
                params_json,
                settings,
                now,
                task_runs,
                trigger,
                run_key,
                logical_date,
                interval,
                owner.id if owner is not None else None,
            )
    except IntegrityError:
        if run_key is None:
            raise
        raise DuplicateRunError(f"a run with key {run_key!r} exists already") from None
    return engine, run_id, values


def _manual_interval(flow: Flow, now: datetime) -> tuple[datetime, tuple[datetime, datetime] | None]:
    spec = flow.schedule_spec
    timetable = spec.timetable if spec is not None else None
    if timetable is None:
        return now, None
    last = timetable.previous_before(now)
    try:
        interval = timetable.interval_for(last) if last is not None else None
    except ValueError:
        interval = None
    return (interval[0] if interval else now), interval


def _record(
    conn: Any,
    flow: Flow,
    ref: Any,
    graph: Any,
    params_json: dict[str, Any],
    settings: Settings,
    now: datetime,
    task_runs: list[TaskRunRecord],
    trigger: str,
    run_key: str | None,
    logical_date: datetime | None,
    interval: tuple[datetime, datetime] | None,
    owner: str | None,
) -> int:
    queries.register_flow(
        conn,
        name=flow.name,
        version=flow.version,
        path=ref.target if ref.kind == "path" else None,
        module=ref.target if ref.kind == "module" else None,
        description=flow.description,
        graph=graph.to_dict(),
        now=now,
    )
    return queries.create_run(
        conn,
        flow_name=flow.name,
        flow_version=flow.version,
        params=params_json,
        trigger=trigger,
        executor=settings.executor,
        now=now,
        task_runs=task_runs,
        run_key=run_key,
        logical_date=logical_date,
        interval=interval,
        owner=owner,
    )


def run_flow(
    flow: Flow,
    params: Mapping[str, Any],
    *,
    executor: str | None = None,
    settings: Settings | None = None,
    listener: Listener | None = None,
    on_created: Any = None,
) -> Run:
    """Create a run of ``flow`` and drive it to the end in this process; see :meth:`Flow.run`."""
    from weir.control import drive

    settings = settings or Settings.from_env()
    if executor is not None:
        settings = (
            Settings.from_env(executor=executor) if settings is None else _with_executor(settings, executor)
        )
    flow.graph  # noqa: B018 - definition errors before anything is written
    flow.validate_params(params)  # and invalid params before a worker pool starts
    pool = _executor_for(settings)
    clock = SystemClock()
    owner = new_owner("run", clock)  # the run is created claimed: no scheduler can take it meanwhile
    engine, run_id, values = create_run(flow, params, settings=settings, owner=owner)
    faults.crash_at("run_created")
    if on_created is not None:
        on_created(run_id)
    try:
        drive(
            flow,
            run_id,
            values,
            settings=settings,
            executor=pool,
            listener=listener,
            owner=owner,
            clock=clock,
        )
    finally:
        if settings.executor != "local":
            pool.shutdown()
    with engine.connect() as conn:
        return Run(engine, queries.get_run(conn, run_id))


def _with_executor(settings: Settings, executor: str) -> Settings:
    from dataclasses import replace

    updated = replace(settings, executor=executor)
    updated.validate()
    return updated


_pools: dict[tuple[str, int], Executor] = {}
_pools_lock = threading.Lock()


def _executor_for(settings: Settings) -> Executor:
    """The executor for ``settings``: the local pool is started once per process and reused."""
    if settings.executor != "local":
        executor = create_executor(settings.executor, settings)
        executor.start()
        return executor
    key = (settings.executor, settings.pool_size)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = create_executor(settings.executor, settings)
            pool.start()
            _pools[key] = pool
            atexit.register(pool.shutdown)
    return pool


def shutdown_executors() -> None:
    """Stop the process's shared worker pools (they also stop at interpreter exit)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.shutdown()
        _pools.clear()


def _now() -> datetime:
    return datetime.now(UTC)


def resume_run(
    run_id: int,
    *,
    executor: str | None = None,
    settings: Settings | None = None,
    listener: Listener | None = None,
) -> Run:
    """Take up a run whose driving process died, and drive it to the end here.

    Task runs that succeeded are not run again; a try that was running gets a new try
    (counted against the task's retries) with the reason "worker lost".

    Raises:
        RunStateError: the run has ended, or a live process still drives it.
    """
    return _drive_existing(run_id, executor=executor, settings=settings, listener=listener, claim=True)


def _drive_existing(
    run_id: int,
    *,
    executor: str | None,
    settings: Settings | None,
    listener: Listener | None,
    claim: bool,
) -> Run:
    from weir import control

    settings = settings or Settings.from_env()
    if executor is not None:
        settings = _with_executor(settings, executor)
    if claim:
        control.claim_for_resume(run_id, settings)
    flow, values = control.load_run_flow(run_id, settings)
    pool = _executor_for(settings)
    try:
        control.drive(flow, run_id, values, settings=settings, executor=pool, listener=listener, restore=True)
    finally:
        if settings.executor != "local":
            pool.shutdown()
    return get_run(run_id, settings)


def retry_run(
    run_id: int,
    *,
    executor: str | None = None,
    settings: Settings | None = None,
    listener: Listener | None = None,
) -> Run:
    """Run again the failed, cancelled and upstream-failed task runs of an ended run, in this process.

    Succeeded task runs keep their results and are not run again; the run keeps its id.
    """
    from weir import control

    settings = settings or Settings.from_env()
    control.retry_run(run_id, settings)
    return _drive_existing(run_id, executor=executor, settings=settings, listener=listener, claim=False)


def clear_run(
    run_id: int,
    task_ids: list[str],
    *,
    downstream: bool = False,
    upstream: bool = False,
    executor: str | None = None,
    settings: Settings | None = None,
    listener: Listener | None = None,
) -> Run:
    """Run again the chosen task runs of an ended run (and those downstream/upstream, if asked)."""
    from weir import control

    settings = settings or Settings.from_env()
    control.clear_run(run_id, task_ids, settings, downstream=downstream, upstream=upstream)
    return _drive_existing(run_id, executor=executor, settings=settings, listener=listener, claim=False)


def cancel_run(run_id: int, *, settings: Settings | None = None) -> Any:
    """Cancel a queued or running run; see :func:`weir.control.cancel_run`."""
    from weir import control

    return control.cancel_run(run_id, settings or Settings.from_env())
