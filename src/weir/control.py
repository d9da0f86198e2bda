"""Acting on runs that exist: drive, cancel, retry, clear, resume.

The CLI and the API call these. Each checks what it is asked before it writes, and every
state change is a compare-and-set, so two processes acting on one run cannot both win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from weir.errors import NotFoundError, WeirError
from weir.scheduler.clock import Clock, SystemClock
from weir.settings import Settings
from weir.states import (
    RUN_TERMINAL,
    TASK_TERMINAL,
    RunState,
    TaskState,
    check_run_transition,
    check_task_transition,
)
from weir.store import queries
from weir.store.db import get_engine, write
from weir.store.records import (
    Changes,
    EventRecord,
    OwnerRecord,
    RunChange,
    RunRecord,
    TaskRunChange,
    TaskRunRecord,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from weir.executors.base import Executor
    from weir.scheduler.driver import Listener, RunDriver
    from weir.sdk.flow import Flow


class RunStateError(WeirError):
    """The run is not in a state that allows what was asked (cancel a finished run, ...)."""


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """What :func:`cancel_run` did: asked the run's live driver, or cancelled it in the store."""

    run_id: int
    requested: bool


def drive_in(
    flow: Flow,
    run: RunRecord,
    params: dict[str, Any],
    *,
    settings: Settings,
    clock: Clock,
    listener: Listener | None = None,
    restore: bool = False,
) -> RunDriver:
    """A driver for ``run``, set up from what the store holds (ready for a loop to add)."""
    from weir.scheduler.driver import RunDriver
    from weir.worker.flows import flow_ref_for, register

    engine = get_engine(settings.database_url)
    ref = flow_ref_for(flow)
    register(ref.key, flow)
    interval = (run.interval_start, run.interval_end) if run.interval_start and run.interval_end else None
    driver = RunDriver(
        started_at=run.started_at,
        logical_date=run.logical_date,
        data_interval=interval,
        graph=flow.graph,
        run_id=run.id,
        flow_ref=ref,
        params=params,
        settings=settings,
        clock=clock,
        listener=listener,
        flow_events=frozenset(
            e for e, cbs in (("success", flow.on_success), ("failure", flow.on_failure)) if cbs
        ),
        flow_timeout=flow.timeout,
    )
    # A new run and one taken up again start the same way: from what the store holds.
    with engine.connect() as conn:
        tries = queries.get_tries(conn, run.id) if restore else []
        driver.restore(run.state, queries.get_task_runs(conn, run.id), tries)
    return driver


def drive(
    flow: Flow,
    run_id: int,
    params: dict[str, Any],
    *,
    settings: Settings,
    executor: Executor,
    listener: Listener | None = None,
    restore: bool = False,
    clock: Clock | None = None,
    owner: OwnerRecord | None = None,
) -> None:
    """Drive one run in this process until it ends (the foreground path of ``weir run``).

    Raises:
        RunClaimedError: another live process drives the run.
    """
    from weir.scheduler.loop import Loop, new_owner

    clock = clock or SystemClock()
    engine = get_engine(settings.database_url)
    with engine.connect() as conn:
        run = queries.get_run(conn, run_id)
    driver = drive_in(flow, run, params, settings=settings, clock=clock, listener=listener, restore=restore)
    loop = Loop(engine, executor, owner or new_owner("run", clock), clock)
    try:
        loop.add(driver)
    except BaseException:
        loop.close()
        raise
    loop.run()


def load_run_flow(run_id: int, settings: Settings) -> tuple[Flow, dict[str, Any]]:
    """The flow of a recorded run, loaded from where it was recorded, and the run's params.

    Raises:
        NotFoundError: no such run.
        WeirError: the flow's code cannot be found from another process (it was defined in a
            script's ``__main__`` or inside a function), or its tasks no longer match the run.
    """
    from weir.worker.flows import flow_in

    engine = get_engine(settings.database_url)
    with engine.connect() as conn:
        run = queries.get_run(conn, run_id)
        record = queries.get_flow(conn, run.flow_name, run.flow_version)
        task_ids = {r.task_id for r in queries.get_task_runs(conn, run_id)}
    if record.path:
        from weir.sdk.loader import load_file

        flow = flow_in(vars(load_file(record.path)), run.flow_name, record.path)
    elif record.module:
        import importlib

        flow = flow_in(vars(importlib.import_module(record.module)), run.flow_name, record.module)
    else:
        raise WeirError(
            f"run {run_id}: flow {run.flow_name!r} was defined in a script's __main__ or inside a function, "
            "so another process cannot load it; put it in a flow file and run it with `weir run FILE.py:FLOW`"
        )
    if set(flow.graph.nodes) != task_ids:
        raise WeirError(
            f"run {run_id}: flow {run.flow_name!r} has changed since the run was made "
            f"(its tasks are now {sorted(flow.graph.nodes)}, the run has {sorted(task_ids)})"
        )
    return flow, flow.validate_params(run.params)


def cancel_run(run_id: int, settings: Settings, clock: Clock | None = None) -> CancelOutcome:
    """Cancel a queued or running run.

    A run driven by a live process is asked (that process stops its tries, within 2 s on the
    local executor); a run nobody drives is cancelled here, in the store.

    Raises:
        NotFoundError: no such run.
        RunStateError: the run has already ended.
    """
    from weir.scheduler.loop import owner_alive

    clock = clock or SystemClock()
    engine = get_engine(settings.database_url)
    with write(engine) as conn:
        run = queries.get_run(conn, run_id)
        if run.state in RUN_TERMINAL:
            raise RunStateError(f"run {run_id} has already ended ({run.state}); there is nothing to cancel")
        owner = queries.get_owner(conn, run.owner) if run.owner else None
        if owner_alive(owner, clock):
            queries.request_cancel(conn, run_id)
            return CancelOutcome(run_id=run_id, requested=True)
        _cancel_in_store(conn, run_id, RunState(run.state), clock)
        queries.set_run_owner(conn, run_id, None, run.owner)
    return CancelOutcome(run_id=run_id, requested=False)


def _cancel_in_store(conn: Connection, run_id: int, state: RunState, clock: Clock) -> None:
    _end_in_store(conn, run_id, state, RunState.CANCELLED, "cancelled on request (no live driver)", clock)


def fail_in_store(conn: Connection, run_id: int, state: str, reason: str, clock: Clock) -> None:
    """End a run nobody can drive as failed, with ``reason`` (its open task runs are cancelled)."""
    _end_in_store(conn, run_id, RunState(state), RunState.FAILED, reason, clock)


def _end_in_store(
    conn: Connection, run_id: int, state: RunState, final: RunState, reason: str, clock: Clock
) -> None:
    now = clock.now()
    changes = Changes()
    for record in queries.get_task_runs(conn, run_id):
        if record.state in TASK_TERMINAL:
            continue
        old = record.state
        record.state = TaskState.CANCELLED
        record.ended_at = now
        changes.task_runs.append(TaskRunChange(expected=old, record=record))
        changes.events.append(_event(run_id, record, old, TaskState.CANCELLED, now, reason))
    for t in queries.get_tries(conn, run_id):
        if t.state in (TaskState.RUNNING, TaskState.QUEUED):
            t.state = TaskState.CANCELLED
            t.ended_at = now
            t.error = reason
            changes.tries.append(t)
    check_run_transition(state, final)
    changes.runs.append(RunChange(run_id=run_id, expected=state, state=final, ended_at=now, reason=reason))
    changes.events.append(
        EventRecord(
            run_id=run_id,
            task_id=None,
            map_index=None,
            from_state=state,
            to_state=final,
            at=now,
            reason=reason,
        )
    )
    queries.apply_changes(conn, changes)


def retry_run(run_id: int, settings: Settings, clock: Clock | None = None) -> list[str]:
    """Clear the failed, cancelled and upstream-failed task runs of an ended run, so they run again.

    Succeeded task runs keep their results and are not run again. Returns the cleared ids.

    Raises:
        RunStateError: the run has not ended, or nothing in it failed.
    """

    def chosen(records: list[TaskRunRecord], graph: Any) -> set[str]:
        bad = {TaskState.FAILED, TaskState.CANCELLED, TaskState.UPSTREAM_FAILED}
        return {r.task_id for r in records if r.state in bad}

    return _clear(run_id, settings, clock or SystemClock(), chosen, what="retry")


def clear_run(
    run_id: int,
    task_ids: Iterable[str],
    settings: Settings,
    *,
    downstream: bool = False,
    upstream: bool = False,
    clock: Clock | None = None,
) -> list[str]:
    """Clear the chosen task runs (and, if asked, those downstream or upstream of them) to run again.

    Raises:
        RunStateError: the run has not ended.
        NotFoundError: a task id that is not in the run.
    """
    wanted = list(task_ids)

    def chosen(records: list[TaskRunRecord], graph: Any) -> set[str]:
        known = {r.task_id for r in records}
        unknown = [t for t in wanted if t not in known]
        if unknown:
            raise NotFoundError(f"run {run_id} has no task {', '.join(map(repr, unknown))}")
        picked = set(wanted)
        if downstream:
            picked |= _reach(graph, wanted, lambda n: graph.downstream[n])
        if upstream:
            picked |= _reach(graph, wanted, lambda n: graph.nodes[n].upstream)
        return picked

    return _clear(run_id, settings, clock or SystemClock(), chosen, what="clear")


def _reach(graph: Any, start: list[str], step: Any) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for nxt in step(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _clear(run_id: int, settings: Settings, clock: Clock, choose: Any, *, what: str) -> list[str]:
    flow, _ = load_run_flow(run_id, settings)
    graph = flow.graph
    engine = get_engine(settings.database_url)
    now = clock.now()
    with write(engine) as conn:
        run = queries.get_run(conn, run_id)
        if run.state not in RUN_TERMINAL:
            raise RunStateError(f"run {run_id} is {run.state}; {what} works on a run that has ended")
        records = queries.get_task_runs(conn, run_id)
        parents = [r for r in records if r.map_index < 0]
        picked = choose(parents, graph)
        if not picked:
            raise RunStateError(f"run {run_id} has no failed, cancelled or upstream-failed task to {what}")
        changes = Changes()
        reason = f"cleared by {what}"
        for record in records:
            if record.task_id not in picked:
                continue
            node = graph.nodes[record.task_id]
            if (
                record.map_index >= 0
                and record.state in (TaskState.SUCCESS, TaskState.CACHED)
                and what == "retry"
            ):
                continue  # a mapped node keeps the results of its elements that succeeded
            if record.map_index >= 0 and any(u in picked for u in node.upstream):
                continue  # its upstream runs again: the node fans out anew (elements dropped below)
            if record.state not in TASK_TERMINAL:
                continue
            old = record.state
            check_task_transition(TaskState(old), TaskState.PENDING)
            record.state = TaskState.PENDING
            record.max_tries = record.try_number + node.policy.retries + 1
            record.started_at = record.ended_at = None
            if record.map_index < 0 and node.mapped and any(u in picked for u in node.upstream):
                record.map_count = None
            changes.task_runs.append(TaskRunChange(expected=old, record=record))
            changes.events.append(_event(run_id, record, old, TaskState.PENDING, now, reason))
        for task_id in picked:
            node = graph.nodes[task_id]
            if node.mapped and any(u in picked for u in node.upstream):
                queries.delete_task_runs(conn, run_id, task_id, elements_only=True)
        check_run_transition(RunState(run.state), RunState.QUEUED)
        changes.runs.append(
            RunChange(run_id=run_id, expected=run.state, state=RunState.QUEUED, reason=reason)
        )
        changes.events.append(
            EventRecord(
                run_id=run_id,
                task_id=None,
                map_index=None,
                from_state=run.state,
                to_state="queued",
                at=now,
                reason=reason,
            )
        )
        queries.apply_changes(conn, changes)
        conn.execute(
            queries.runs_t.update()
            .where(queries.runs_t.c.id == run_id)
            .values(cancel_requested=False, ended_at=None)
        )
    return sorted(picked)


def claim_for_resume(run_id: int, settings: Settings, clock: Clock | None = None) -> None:
    """Check that ``run_id`` can be taken up by this process: unfinished, and no live driver.

    Raises:
        RunStateError: the run has ended, or a live process drives it.
    """
    from weir.scheduler.loop import owner_alive

    clock = clock or SystemClock()
    engine = get_engine(settings.database_url)
    with write(engine) as conn:
        run = queries.get_run(conn, run_id)
        if run.state in RUN_TERMINAL:
            raise RunStateError(
                f"run {run_id} has already ended ({run.state}); use `weir runs retry` to run it again"
            )
        owner = queries.get_owner(conn, run.owner) if run.owner else None
        if owner_alive(owner, clock):
            raise RunStateError(f"run {run_id} is being driven by a live process ({run.owner})")
        queries.set_run_owner(conn, run_id, None, run.owner)


def _event(run_id: int, record: TaskRunRecord, old: str, new: str, at: Any, reason: str) -> EventRecord:
    return EventRecord(
        run_id=run_id,
        task_id=record.task_id,
        map_index=record.map_index,
        from_state=old,
        to_state=new,
        at=at,
        reason=reason,
    )
