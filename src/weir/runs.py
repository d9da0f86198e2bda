"""Runs as users see them from Python: run a flow here (``flow.run``), read a run back (``Run``),
and take one up again (resume, retry, clear) in this process.

``flow.run()`` and ``weir run FILE:FLOW`` are the one place where the process that drives a run
has imported the flow's code (it is the user's own process): the flow's snapshot is made and
stored here, and the run is driven from the snapshot like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from weir.control import runs as run_actions
from weir.control.context import Context
from weir.control.flows import get_snapshot
from weir.errors import RunFailedError
from weir.executors.registry import executor_for, release
from weir.graph.model import ParamValue, TaskOutput, resolve
from weir.io import results
from weir.io.results import ResultRef
from weir.scheduler import faults
from weir.scheduler.leases import new_owner
from weir.settings import Settings
from weir.states import TASK_SUCCESSES, RunState
from weir.store import runs, tasks
from weir.store.records import CacheEntry, OwnerRecord, RunRecord, TaskRunRecord, TryRecord
from weir.store.store import Store, open_store

if TYPE_CHECKING:
    from datetime import datetime

    from weir.engine.changes import Listener
    from weir.executors.base import Executor
    from weir.sdk.flow import Flow


class Run:
    """A recorded run: its state, its task runs and tries, and its result.

    The values are read from the store, so a ``Run`` works in any process, long after the
    one that made the run is gone. :meth:`refresh` reads them again.
    """

    def __init__(self, store: Store, record: RunRecord, logs_url: str | None = None) -> None:
        self._store = store
        self.record = record
        self._logs_url = logs_url

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
        with self._store.read() as conn:
            self.record = runs.get_run(conn, self.id)
        return self

    @property
    def task_runs(self) -> list[TaskRunRecord]:
        """Every task run of this run (mapped elements included), by task and map index."""
        with self._store.read() as conn:
            return tasks.get_task_runs(conn, self.id)

    def task_run(self, task_id: str, map_index: int = -1) -> TaskRunRecord:
        for record in self.task_runs:
            if record.task_id == task_id and record.map_index == map_index:
                return record
        raise KeyError(f"run {self.id} has no task run {task_id!r}")

    def tries(self, task_id: str | None = None) -> list[TryRecord]:
        with self._store.read() as conn:
            return tasks.get_tries(conn, self.id, task_id)

    def result(self) -> Any:
        """The flow's return value (a task's result, a structure of them, or a param).

        Raises:
            RunFailedError: the run did not succeed (the message says why).
        """
        if self.record.state != RunState.SUCCESS:
            self.refresh()
        if self.record.state != RunState.SUCCESS:
            raise RunFailedError(
                f"run {self.id} of flow {self.flow_name!r} is {self.record.state}: {self.record.reason or ''}"
            )
        if self.record.result_data is not None or self.record.result_path is not None:
            return results.load(ResultRef(data=self.record.result_data, url=self.record.result_path))
        with self._store.read() as conn:
            output = get_snapshot(conn, self.flow_name, self.record.flow_version).graph.output
            if output is None:
                return None
            done = {
                (t.task_id, t.map_index): t
                for t in tasks.get_tries(conn, self.id)
                if t.state in TASK_SUCCESSES
            }
            counts = {r.task_id: r.map_count for r in tasks.get_task_runs(conn, self.id) if r.map_index < 0}

        def value_of(marker: Any) -> Any:
            if isinstance(marker, ParamValue):
                return self.params.get(marker.name)
            if not isinstance(marker, TaskOutput):
                return marker
            count = counts.get(marker.task_id)
            if count is not None:
                return [_load(done.get((marker.task_id, i))) for i in range(count)]
            return _load(done.get((marker.task_id, -1)))

        return resolve(output, value_of)

    def log(self, task_id: str, map_index: int = -1, try_number: int | None = None) -> str:
        """The log of one try of a task run (the latest, unless ``try_number``); empty when the
        try wrote nothing.

        Raises:
            KeyError: the task run has no such try.
        """
        from weir.io.logs import log_store

        tried = [t for t in self.tries(task_id) if t.map_index == map_index]
        if try_number is not None:
            tried = [t for t in tried if t.number == try_number]
        if not tried:
            raise KeyError(f"run {self.id}: task {task_id!r} has no try {try_number or ''}".rstrip())
        chosen = tried[-1]
        if not chosen.log_path:
            return ""
        logs = log_store(self._logs_url or Settings.from_env().logs)
        text, offset = [], 0
        while True:
            chunk = logs.read(chosen.log_path, offset, final=True)
            text.append(chunk.text)
            if chunk.next_offset >= chunk.size or chunk.next_offset == offset:
                return "".join(text)
            offset = chunk.next_offset

    def task_result(self, task_id: str, map_index: int = -1) -> Any:
        """The stored result of one task run's successful try."""
        for t in self.tries(task_id):
            if t.map_index == map_index and t.state in TASK_SUCCESSES:
                return _load(t)
        raise KeyError(f"run {self.id}: task {task_id!r} has no successful try")


def _load(stored: TryRecord | CacheEntry | None) -> Any:
    if stored is None:
        return None
    return results.load(ResultRef(data=stored.result_data, url=stored.result_path))


def get_run(run_id: int, settings: Settings | None = None) -> Run:
    """The run ``run_id`` from the store. Raises NotFoundError."""
    settings = settings or Settings.from_env()
    store = open_store(settings.database_url)
    with store.read() as conn:
        return Run(store, runs.get_run(conn, run_id), settings.logs)


def run_flow(
    flow: Flow,
    params: Mapping[str, Any],
    *,
    executor: str | None = None,
    settings: Settings | None = None,
    listener: Listener | None = None,
    on_created: Any = None,
    logical_date: datetime | None = None,
) -> Run:
    """Make a run of ``flow`` and drive it to the end in this process; see :meth:`Flow.run`.

    Raises:
        ParamsError: bad params. ValueError: ``logical_date`` is naive.
    """
    from weir.graph.snapshot import CodeKind
    from weir.sdk.snapshot import snapshot_of
    from weir.worker.flows import register

    settings = _settings(settings, executor)
    values = flow.validate_params(params)  # definition errors and bad params before anything starts
    snapshot = snapshot_of(flow, settings.project_root)
    ctx = Context.of(settings, via="python")
    payloads: dict[str, bytes] = {}
    if snapshot.code.kind == CodeKind.PICKLE:
        import cloudpickle

        payloads[snapshot.version] = cloudpickle.dumps(flow)
    from weir.executors.base import CodeSource

    register(CodeSource(ref=snapshot.code, flow_name=flow.name, version=snapshot.version).key, flow)
    owner = new_owner("run", ctx.clock)  # the run is made claimed: no scheduler can take it meanwhile
    interval = None
    if logical_date is not None:
        logical_date, interval = run_actions.dated_interval(snapshot, logical_date)
    made = run_actions.trigger(
        ctx, snapshot, flow.params_json(values), owner=owner, logical_date=logical_date, interval=interval
    )
    faults.crash_at("run_created")
    if on_created is not None:
        on_created(made.run_id)
    pool = executor_for(settings)
    try:
        drive(ctx, made.run_id, pool, owner=owner, listener=listener, payloads=payloads)
    finally:
        release(pool)
    return get_run(made.run_id, settings)


def drive(
    ctx: Context,
    run_id: int,
    executor: Executor,
    *,
    owner: OwnerRecord | None = None,
    listener: Listener | None = None,
    payloads: Mapping[str, bytes] | None = None,
) -> None:
    """Drive one run in this process until it ends (the foreground path of ``weir run``).

    Raises:
        RunClaimedError: another live process drives the run.
    """
    from weir.scheduler.loop import Loop

    loop = Loop(
        ctx.store,
        executor,
        owner or new_owner("run", ctx.clock),
        ctx.settings,
        ctx.clock,
        code_payloads=payloads,
    )
    try:
        loop.add(run_id, listener)
    except BaseException:
        loop.close()
        raise
    loop.run()


def _settings(settings: Settings | None, executor: str | None) -> Settings:
    settings = settings or Settings.from_env()
    if executor is not None:
        from dataclasses import replace

        settings = replace(settings, executor=executor)
        settings.validate()
    return settings


def _drive_existing(run_id: int, settings: Settings, listener: Listener | None, ctx: Context) -> Run:
    pool = executor_for(settings)
    try:
        drive(ctx, run_id, pool, listener=listener)
    finally:
        release(pool)
    return get_run(run_id, settings)


def resume_run(
    run_id: int,
    *,
    executor: str | None = None,
    settings: Settings | None = None,
    listener: Listener | None = None,
) -> Run:
    """Take up a run whose driving process died, and drive it to the end here.

    Task runs that succeeded are not run again; a try that was running is recorded as
    interrupted, and its task runs again without spending a retry.

    Raises:
        RunStateError: the run has ended, or a live process still drives it.
    """
    settings = _settings(settings, executor)
    ctx = Context.of(settings, via="python")
    run_actions.release(ctx, run_id)
    return _drive_existing(run_id, settings, listener, ctx)


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
    settings = _settings(settings, executor)
    ctx = Context.of(settings, via="python")
    run_actions.retry(ctx, run_id)
    return _drive_existing(run_id, settings, listener, ctx)


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
    settings = _settings(settings, executor)
    ctx = Context.of(settings, via="python")
    run_actions.clear(ctx, run_id, task_ids, downstream=downstream, upstream=upstream)
    return _drive_existing(run_id, settings, listener, ctx)


def cancel_run(run_id: int, *, settings: Settings | None = None) -> run_actions.CancelOutcome:
    """Cancel a queued or running run; see :func:`weir.control.runs.cancel`."""
    return run_actions.cancel(Context.of(settings or Settings.from_env(), via="python"), run_id)


def shutdown_executors() -> None:
    """Stop the process's shared worker pools (they also stop at interpreter exit)."""
    from weir.executors.registry import shutdown_shared

    shutdown_shared()
