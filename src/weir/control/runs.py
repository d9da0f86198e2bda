"""Actions on runs: trigger one, cancel, retry, clear, and release one for another driver.

Each checks what it is asked before it writes, runs in one transaction with its audit row, and
every state change is a compare-and-set, so two processes acting on one run cannot both win.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from weir.control import flows as flow_actions
from weir.control.context import Context, record
from weir.control.liveness import reap_local
from weir.control.waiting import why_waiting
from weir.errors import ConflictError, NotFoundError, PausedError, PoolError, RunStateError
from weir.graph.model import Graph
from weir.graph.snapshot import CodeKind, FlowSnapshot
from weir.states import (
    RUN_TERMINAL,
    TASK_SUCCESSES,
    TASK_TERMINAL,
    RunState,
    TaskState,
    check_task_transition,
)
from weir.store import owners, pools, runs, tasks
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Triggered:
    """A run made: its id, the flow version it runs, and its params (JSON, defaults filled in)."""

    run_id: int
    flow_name: str
    version: str
    params: dict[str, Any]
    waiting: str | None = None  # why no driver will start it yet (see weir.control.waiting)


def trigger(
    ctx: Context,
    flow: str | FlowSnapshot,
    params: Mapping[str, Any] | None = None,
    *,
    version: str | None = None,
    trigger: str = "manual",
    run_key: str | None = None,
    logical_date: datetime | None = None,
    interval: tuple[datetime, datetime] | None = None,
    owner: OwnerRecord | None = None,
    refuse_paused: bool = False,
    check_pools: bool = True,
) -> Triggered:
    """Make a queued run of a stored flow (by name, newest version unless ``version``), or of a
    snapshot made in this process (registered in the same transaction).

    Everything that can be refused is checked before anything is written: the params against the
    stored schema, the flow's pools, a pause. With ``owner`` the run is made already claimed by
    that driver (``weir run``), so no scheduler can take it in between.

    Raises:
        NotFoundError: no such flow. ParamsError: invalid params, naming each.
        PoolError: a task uses a pool that does not exist. PausedError: ``refuse_paused`` and paused.
        ConflictError: a flow whose code only its own process has, made without an owner.
        DuplicateRunError: a run with ``run_key`` exists already (nothing is written).
    """
    if isinstance(flow, FlowSnapshot):
        snapshot = flow
    else:
        with ctx.store.read() as conn:
            snapshot = flow_actions.get_snapshot(conn, flow, version)
    plan = plan_run(ctx, snapshot, params, trigger=trigger, logical_date=logical_date, interval=interval)
    with ctx.store.transaction() as tx:
        if isinstance(flow, FlowSnapshot):
            flow_actions.register_snapshot(ctx, snapshot, tx)
        made = make_run(
            tx, ctx, plan, run_key=run_key, owner=owner, refuse_paused=refuse_paused, check_pools=check_pools
        )
        record(tx, ctx, "trigger", f"run {made.run_id}", flow=snapshot.name, trigger=trigger, run_key=run_key)
    if owner is not None:
        return made
    with ctx.store.read() as conn:
        waiting = why_waiting(conn, runs.get_run(conn, made.run_id, result=False), ctx.clock.now())
    return dataclasses.replace(made, waiting=waiting) if waiting else made


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPlan:
    """A run checked and ready to write: its flow version, params (JSON, defaults filled in),
    trigger, dates and task runs."""

    snapshot: FlowSnapshot
    params: dict[str, Any]
    trigger: str
    logical_date: datetime
    interval: tuple[datetime, datetime] | None
    task_runs: list[TaskRunRecord]


def plan_run(
    ctx: Context,
    snapshot: FlowSnapshot,
    params: Mapping[str, Any] | None,
    *,
    trigger: str,
    logical_date: datetime | None = None,
    interval: tuple[datetime, datetime] | None = None,
) -> RunPlan:
    """Check ``params`` against the snapshot and work out the run's dates (reads nothing).

    Raises:
        ParamsError: invalid params, naming each.
    """
    values = snapshot.validate_params(params or {})
    if logical_date is None:
        # As in Airflow: a run made by hand (or by an event) is dated now, and a flow on a
        # time schedule gets the data interval that ended last.
        logical_date, interval = manual_interval(snapshot, ctx.clock.now())
    task_runs = [
        TaskRunRecord(
            run_id=0,
            task_id=node.task_id,
            max_tries=node.policy.retry.retries + 1,
            # A mapped node's own row sums up its elements: only the elements take pool slots.
            pool=None if node.mapped else node.policy.pool,
        )
        for node in snapshot.graph.nodes.values()
    ]
    return RunPlan(
        snapshot=snapshot,
        params=values,
        trigger=trigger,
        logical_date=logical_date,
        interval=interval,
        task_runs=task_runs,
    )


def make_run(
    tx: Connection,
    ctx: Context,
    plan: RunPlan,
    *,
    run_key: str | None = None,
    owner: OwnerRecord | None = None,
    refuse_paused: bool = False,
    check_pools: bool = True,
) -> Triggered:
    """Write a planned run in the caller's transaction (which appends the audit row).

    Raises:
        PoolError, PausedError, ConflictError, DuplicateRunError: see :func:`trigger`.
    """
    snapshot = plan.snapshot
    if owner is None and snapshot.code.kind == CodeKind.PICKLE:
        raise ConflictError(
            f"flow {snapshot.name!r} was defined in a script's __main__ or inside a function: only the "
            "process that defined it can run it (flow.run()); put it in a flow file to trigger it"
        )
    if check_pools:
        _check_pools(tx, snapshot)
    if refuse_paused and flow_actions.is_paused(tx, snapshot):
        raise PausedError(
            f"flow {snapshot.name!r} is paused: nothing was queued (`weir unpause {snapshot.name}` first)"
        )
    if owner is not None:
        owners.register(tx, owner)
    run_id = runs.create_run(
        tx,
        flow_name=snapshot.name,
        flow_version=snapshot.version,
        params=plan.params,
        trigger=plan.trigger,
        executor=ctx.settings.executor,
        now=ctx.clock.now(),
        task_runs=[dataclasses.replace(r) for r in plan.task_runs],
        run_key=run_key,
        logical_date=plan.logical_date,
        interval=plan.interval,
        owner=owner.id if owner is not None else None,
    )
    return Triggered(run_id=run_id, flow_name=snapshot.name, version=snapshot.version, params=plan.params)


def _check_pools(conn: Connection, snapshot: FlowSnapshot) -> None:
    wanted = snapshot.pools
    if not wanted:
        return
    known = {p.name for p in pools.pools(conn, wanted)}
    for pool, task_ids in wanted.items():
        if pool not in known:
            raise PoolError(
                f"flow {snapshot.name!r}: task {task_ids[0]!r} uses pool {pool!r}, which does not exist: "
                f"create it with `weir pools set {pool} SLOTS`"
            )


def manual_interval(
    snapshot: FlowSnapshot, now: datetime
) -> tuple[datetime, tuple[datetime, datetime] | None]:
    """The logical date (and data interval) of a run made by hand at ``now``.

    As in Airflow: a flow on a time schedule gets the data interval that ended last, one ending
    exactly at ``now`` included, and its logical date is that interval's start; any other run is
    dated ``now`` and has no interval.
    """
    spec = snapshot.schedule_spec
    timetable = spec.timetable if spec is not None else None
    interval = timetable.latest_interval(now) if timetable is not None else None
    return (interval[0] if interval else now), interval


def dated_interval(
    snapshot: FlowSnapshot, logical_date: datetime
) -> tuple[datetime, tuple[datetime, datetime] | None]:
    """The logical date (in UTC) and data interval of a run asked for that date: for a flow on a
    time schedule, the schedule's interval that holds it (from the last fire time at or before
    it to the next one), as a scheduled run of that date has; no interval otherwise.

    Raises:
        ValueError: ``logical_date`` is naive.
    """
    if logical_date.tzinfo is None or logical_date.utcoffset() is None:
        raise ValueError(f"logical_date must be timezone-aware, got naive {logical_date.isoformat()}")
    when = logical_date.astimezone(UTC)
    spec = snapshot.schedule_spec
    timetable = spec.timetable if spec is not None else None
    if timetable is None:
        return when, None
    start = timetable.previous_before(when + timedelta(microseconds=1))
    end = timetable.next_after(when)
    return when, (start, end) if start is not None and end is not None else None


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """What :func:`cancel` did: asked the run's live driver, or cancelled it in the store."""

    run_id: int
    requested: bool


def cancel(ctx: Context, run_id: int) -> CancelOutcome:
    """Cancel a queued or running run.

    A run whose driver holds its lease is asked (that driver stops its tries within a second or
    two); a run nobody drives is cancelled here, in the store, and its fencing token is raised so
    a driver that comes back can never write to it.

    Raises:
        NotFoundError: no such run. RunStateError: the run has already ended.
    """
    reap_local(ctx.store, ctx.clock)
    now = ctx.clock.now()
    with ctx.store.transaction() as tx:
        run = runs.get_run(tx, run_id, result=False)
        if run.state in RUN_TERMINAL:
            raise RunStateError(f"run {run_id} has already ended ({run.state}); there is nothing to cancel")
        driver = owners.get(tx, run.owner) if run.owner else None
        requested = driver is not None and driver.holds_lease(now)
        if requested:
            runs.request_cancel(tx, run_id)
        else:
            end_in_store(tx, run, RunState.CANCELLED, "cancelled on request (no live driver)", now)
        record(tx, ctx, "cancel", f"run {run_id}", requested=requested)
    return CancelOutcome(run_id=run_id, requested=requested)


def end_in_store(tx: Connection, run: RunRecord, final: RunState, reason: str, now: datetime) -> None:
    """End a run nobody drives (its open task runs and tries are cancelled) and take it from any
    former driver (owner none, fencing token raised)."""
    changes = Changes()
    for task_run in tasks.get_task_runs(tx, run.id):
        if task_run.state in TASK_TERMINAL:
            continue
        old = task_run.state
        task_run.state = TaskState.CANCELLED
        task_run.ended_at = now
        changes.task_runs.append(TaskRunChange(expected=old, record=task_run))
        changes.events.append(_event(run.id, task_run, old, TaskState.CANCELLED, now, reason))
    for t in tasks.get_tries(tx, run.id):
        if t.state in (TaskState.RUNNING, TaskState.QUEUED):
            t.state, t.ended_at, t.error = TaskState.CANCELLED, now, reason
            changes.tries.append(t)
    changes.runs.append(
        RunChange(run_id=run.id, expected=run.state, state=final, ended_at=now, reason=reason)
    )
    changes.events.append(_run_event(run.id, run.state, final, now, reason))
    owners.take_over(tx, run.id, now)
    tasks.apply_changes(tx, changes)


def retry(ctx: Context, run_id: int) -> list[str]:
    """Clear the failed, cancelled and upstream-failed task runs of an ended run so they run again
    (the run is queued; succeeded task runs keep their results). Returns the cleared ids.

    Raises:
        RunStateError: the run has not ended, or nothing in it failed.
    """

    def chosen(records: list[TaskRunRecord], graph: Graph) -> set[str]:
        bad = {TaskState.FAILED, TaskState.CANCELLED, TaskState.UPSTREAM_FAILED}
        return {r.task_id for r in records if r.state in bad}

    return _clear(ctx, run_id, chosen, what="retry")


def clear(
    ctx: Context, run_id: int, task_ids: Iterable[str], *, downstream: bool = False, upstream: bool = False
) -> list[str]:
    """Clear the chosen task runs of an ended run (and those downstream or upstream, if asked) to
    run again; the run is queued. Returns the cleared ids.

    Raises:
        RunStateError: the run has not ended. NotFoundError: a task id that is not in the run.
    """
    wanted = list(task_ids)

    def chosen(records: list[TaskRunRecord], graph: Graph) -> set[str]:
        known = {r.task_id for r in records}
        unknown = [t for t in wanted if t not in known]
        if unknown:
            raise NotFoundError(
                f"run {run_id} has no task {', '.join(map(repr, unknown))}",
                fields=[("task_ids", "not in the run")],
            )
        picked = set(wanted)
        if downstream:
            picked |= _reach(wanted, lambda n: graph.downstream[n])
        if upstream:
            picked |= _reach(wanted, lambda n: graph.nodes[n].upstream)
        return picked

    return _clear(
        ctx, run_id, chosen, what="clear", detail={"tasks": wanted, "downstream": downstream or None}
    )


def _reach(start: list[str], step: Callable[[str], Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for nxt in step(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _clear(
    ctx: Context,
    run_id: int,
    choose: Callable[[list[TaskRunRecord], Graph], set[str]],
    *,
    what: str,
    detail: dict[str, Any] | None = None,
) -> list[str]:
    now = ctx.clock.now()
    with ctx.store.transaction() as tx:
        run = runs.get_run(tx, run_id, result=False)
        if run.state not in RUN_TERMINAL:
            raise RunStateError(f"run {run_id} is {run.state}; {what} works on a run that has ended")
        graph = flow_actions.get_snapshot(tx, run.flow_name, run.flow_version).graph
        records = tasks.get_task_runs(tx, run_id)
        picked = choose([r for r in records if r.map_index < 0], graph)
        if not picked:
            raise RunStateError(f"run {run_id} has no failed, cancelled or upstream-failed task to {what}")
        changes = Changes()
        reason = f"cleared by {what}"
        for task_run in records:
            if task_run.task_id not in picked or task_run.state not in TASK_TERMINAL:
                continue
            node = graph.nodes[task_run.task_id]
            refans = any(u in picked for u in node.upstream)  # its upstream runs again: it fans out anew
            if task_run.map_index >= 0 and (refans or (what == "retry" and task_run.state in TASK_SUCCESSES)):
                continue  # dropped below, or kept: a mapped node keeps the elements that succeeded
            old = task_run.state
            check_task_transition(TaskState(old), TaskState.PENDING)
            task_run.state = TaskState.PENDING
            task_run.max_tries = task_run.try_number + node.policy.retry.retries + 1
            task_run.started_at = task_run.ended_at = None
            task_run.note = None
            if task_run.map_index < 0 and node.mapped and refans:
                task_run.map_count = None
            changes.task_runs.append(TaskRunChange(expected=old, record=task_run))
            changes.events.append(_event(run_id, task_run, old, TaskState.PENDING, now, reason))
        for task_id in picked:
            node = graph.nodes[task_id]
            if node.mapped and any(u in picked for u in node.upstream):
                tasks.delete_elements(tx, run_id, task_id)
        changes.runs.append(
            RunChange(run_id=run_id, expected=run.state, state=RunState.QUEUED, reason=reason)
        )
        changes.events.append(_run_event(run_id, run.state, RunState.QUEUED, now, reason))
        tasks.apply_changes(tx, changes)
        runs.reset_for_rerun(tx, run_id)
        owners.take_over(tx, run_id, now)
        record(tx, ctx, what, f"run {run_id}", cleared=sorted(picked), **(detail or {}))
    return sorted(picked)


def release(ctx: Context, run_id: int) -> RunRecord:
    """Free an unfinished run whose driver is gone (its lease ended), for this process or a
    scheduler to take up (``weir runs resume``).

    Raises:
        RunStateError: the run has ended, or a driver still holds its lease.
    """
    reap_local(ctx.store, ctx.clock)
    now = ctx.clock.now()
    with ctx.store.transaction() as tx:
        run = runs.get_run(tx, run_id, result=False)
        if run.state in RUN_TERMINAL:
            raise RunStateError(
                f"run {run_id} has already ended ({run.state}); use `weir runs retry` to run it again"
            )
        driver = owners.get(tx, run.owner) if run.owner else None
        if driver is not None and driver.holds_lease(now):
            raise RunStateError(f"run {run_id} is being driven by a live process ({run.owner})")
        owners.take_over(tx, run_id, now)
        record(tx, ctx, "resume", f"run {run_id}")
    return run


def _event(
    run_id: int, task_run: TaskRunRecord, old: str, new: str, at: datetime, reason: str
) -> EventRecord:
    return EventRecord(
        run_id=run_id,
        task_id=task_run.task_id,
        map_index=task_run.map_index,
        from_state=old,
        to_state=new,
        at=at,
        reason=reason,
    )


def _run_event(run_id: int, old: str, new: str, at: datetime, reason: str) -> EventRecord:
    return EventRecord(
        run_id=run_id, task_id=None, map_index=None, from_state=old, to_state=new, at=at, reason=reason
    )
