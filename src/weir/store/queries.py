"""Store verbs. Each takes a connection and never commits: the caller owns the transaction."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from weir.errors import NotFoundError, StaleStateError
from weir.store.fastpath import Prepared
from weir.store.records import (
    CacheEntry,
    Changes,
    EventRecord,
    FlowRecord,
    FlowStateRecord,
    OwnerRecord,
    RunRecord,
    TaskRunRecord,
    TryRecord,
)
from weir.store.tables import (
    CacheRow,
    EventInRow,
    EventRow,
    FlowFileRow,
    FlowRow,
    FlowStateRow,
    OwnerRow,
    RunRow,
    TaskRunRow,
    TryRow,
)

flows_t = FlowRow.__table__
runs_t = RunRow.__table__
task_runs_t = TaskRunRow.__table__
tries_t = TryRow.__table__
events_t = EventRow.__table__

_TASK_RUN_FIELDS = [f.name for f in dataclasses.fields(TaskRunRecord)]
_TRY_FIELDS = [f.name for f in dataclasses.fields(TryRecord)]
_EVENT_FIELDS = [f.name for f in dataclasses.fields(EventRecord)]
_OWNER_FIELDS = [f.name for f in dataclasses.fields(OwnerRecord)]
_CACHE_FIELDS = [f.name for f in dataclasses.fields(CacheEntry)]


def _row(record: Any, fields: list[str]) -> dict[str, Any]:
    # dataclasses.asdict deep-copies every value; a flat read is all a row needs.
    return {name: getattr(record, name) for name in fields}


# Compare-and-set of a task run: the row changes only if it is still in the expected state.
_update_task_run = (
    update(task_runs_t)
    .where(
        task_runs_t.c.run_id == bindparam("b_run_id"),
        task_runs_t.c.task_id == bindparam("b_task_id"),
        task_runs_t.c.map_index == bindparam("b_map_index"),
        task_runs_t.c.state == bindparam("b_expected"),
    )
    .values(
        state=bindparam("state"),
        try_number=bindparam("try_number"),
        max_tries=bindparam("max_tries"),
        map_count=bindparam("map_count"),
        started_at=bindparam("started_at"),
        ended_at=bindparam("ended_at"),
    )
)


def _try_update_statement() -> Any:
    keys = ("run_id", "task_id", "map_index", "number")
    return (
        update(tries_t)
        .where(*(tries_t.c[k] == bindparam(f"b_{k}") for k in keys))
        .values({name: bindparam(name) for name in _TRY_FIELDS if name not in keys})
    )


_update_try = _try_update_statement()

# The statements of every scheduler step, compiled once per dialect (see fastpath.py).
_fast_update_task_run = Prepared(_update_task_run)
_fast_insert_try = Prepared(insert(tries_t).values({name: bindparam(name) for name in _TRY_FIELDS}))
_fast_update_try = Prepared(_update_try)
_fast_insert_event = Prepared(insert(events_t).values({name: bindparam(name) for name in _EVENT_FIELDS}))


def register_flow(
    conn: Connection,
    *,
    name: str,
    version: str,
    path: str | None,
    module: str | None,
    description: str | None,
    graph: dict[str, Any],
    now: datetime,
) -> bool:
    """Record a flow version unless it is already recorded; True when it was new."""
    exists = conn.execute(
        select(flows_t.c.name).where(flows_t.c.name == name, flows_t.c.version == version)
    ).first()
    if exists:
        return False
    conn.execute(
        insert(flows_t).values(
            name=name,
            version=version,
            path=path,
            module=module,
            description=description,
            graph=graph,
            created_at=now,
        )
    )
    return True


def create_run(
    conn: Connection,
    *,
    flow_name: str,
    flow_version: str,
    params: dict[str, Any],
    trigger: str,
    executor: str | None,
    now: datetime,
    task_runs: list[TaskRunRecord],
    run_key: str | None = None,
    logical_date: datetime | None = None,
    interval: tuple[datetime, datetime] | None = None,
    owner: str | None = None,
) -> int:
    """Insert a queued run and its pending task runs; returns the run id.

    With ``owner`` the run is created already claimed by that driver, so no scheduler can
    take it in between.

    A ``run_key`` that exists already raises the driver's IntegrityError: run creation for a
    (flow, logical date) or an event id is idempotent.
    """
    run_id = conn.execute(
        insert(runs_t)
        .values(
            flow_name=flow_name,
            flow_version=flow_version,
            state="queued",
            params=params,
            trigger=trigger,
            executor=executor,
            run_key=run_key,
            logical_date=logical_date,
            interval_start=interval[0] if interval else None,
            interval_end=interval[1] if interval else None,
            owner=owner,
            created_at=now,
        )
        .returning(runs_t.c.id)
    ).scalar_one()
    for record in task_runs:
        record.run_id = run_id
    insert_task_runs(conn, task_runs)
    conn.execute(insert(events_t).values(run_id=run_id, to_state="queued", at=now, reason=trigger))
    return run_id


def insert_task_runs(conn: Connection, records: list[TaskRunRecord]) -> None:
    if records:
        conn.execute(insert(task_runs_t), [_row(r, _TASK_RUN_FIELDS) for r in records])


def apply_changes(conn: Connection, changes: Changes) -> None:
    """Write one scheduler step. Every state change is a compare-and-set on the expected state.

    Raises:
        StaleStateError: a run or task run was not in the expected state (another writer moved
            it); the caller's transaction must be rolled back.
    """
    if changes.cache_entries:
        _store_cache(conn, changes.cache_entries)
    if changes.new_task_runs:
        insert_task_runs(conn, changes.new_task_runs)
    if changes.task_runs:
        params = []
        for change in changes.task_runs:
            row = {name: getattr(change.record, name) for name in _TASK_RUN_FIELDS}
            row["b_run_id"] = row.pop("run_id")
            row["b_task_id"] = row.pop("task_id")
            row["b_map_index"] = row.pop("map_index")
            row["b_expected"] = change.expected
            params.append(row)
        changed = _fast_update_task_run.execute(conn, params)
        if changed != len(params):
            raise StaleStateError(
                f"{len(params) - changed} of {len(params)} task run(s) were not in the expected state"
            )
    if changes.new_tries:
        _fast_insert_try.execute(conn, [_row(t, _TRY_FIELDS) for t in changes.new_tries])
    if changes.tries:
        params = []
        for record in changes.tries:
            row = _row(record, _TRY_FIELDS)
            for key in ("run_id", "task_id", "map_index", "number"):
                row[f"b_{key}"] = row.pop(key)
            params.append(row)
        _fast_update_try.execute(conn, params)
    for run in changes.runs:
        values: dict[str, Any] = {"state": run.state}
        for name in ("started_at", "ended_at", "reason", "result_data", "result_path"):
            value = getattr(run, name)
            if value is not None:
                values[name] = value
        result = conn.execute(
            update(runs_t).where(runs_t.c.id == run.run_id, runs_t.c.state == run.expected).values(**values)
        )
        if result.rowcount != 1:
            raise StaleStateError(f"run {run.run_id} was not {run.expected} any more")
    if changes.events:
        _fast_insert_event.execute(conn, [_row(e, _EVENT_FIELDS) for e in changes.events])


def _run(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id,
        flow_name=row.flow_name,
        flow_version=row.flow_version,
        state=row.state,
        params=row.params,
        trigger=row.trigger,
        executor=row.executor,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        reason=row.reason,
        logical_date=row.logical_date,
        interval_start=row.interval_start,
        interval_end=row.interval_end,
        result_data=row.result_data,
        result_path=row.result_path,
        cancel_requested=bool(row.cancel_requested),
        owner=row.owner,
    )


def get_run(conn: Connection, run_id: int) -> RunRecord:
    """Raises NotFoundError when there is no run ``run_id``."""
    row = conn.execute(select(runs_t).where(runs_t.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"there is no run {run_id}")
    return _run(row)


def list_runs(
    conn: Connection, *, flow: str | None = None, state: str | None = None, limit: int = 50, offset: int = 0
) -> list[RunRecord]:
    """Runs, newest first, optionally of one flow and in one state."""
    query = select(runs_t).order_by(runs_t.c.id.desc()).limit(limit).offset(offset)
    if flow:
        query = query.where(runs_t.c.flow_name == flow)
    if state:
        query = query.where(runs_t.c.state == state)
    return [_run(row) for row in conn.execute(query)]


def get_task_runs(conn: Connection, run_id: int) -> list[TaskRunRecord]:
    rows = conn.execute(select(task_runs_t).where(task_runs_t.c.run_id == run_id)).mappings()
    return [TaskRunRecord(**row) for row in rows]


def get_tries(conn: Connection, run_id: int, task_id: str | None = None) -> list[TryRecord]:
    query = select(tries_t).where(tries_t.c.run_id == run_id)
    if task_id is not None:
        query = query.where(tries_t.c.task_id == task_id)
    query = query.order_by(tries_t.c.task_id, tries_t.c.map_index, tries_t.c.number)
    return [TryRecord(**row) for row in conn.execute(query).mappings()]


def get_events(conn: Connection, run_id: int) -> list[EventRecord]:
    rows = conn.execute(
        select(*(events_t.c[name] for name in _EVENT_FIELDS))
        .where(events_t.c.run_id == run_id)
        .order_by(events_t.c.id)
    ).mappings()
    return [EventRecord(**row) for row in rows]


def _flow(row: Any) -> FlowRecord:
    return FlowRecord(**row)


def get_flow(conn: Connection, name: str, version: str | None = None) -> FlowRecord:
    """The given version of a flow, or its newest; raises NotFoundError."""
    query = select(flows_t).where(flows_t.c.name == name)
    if version is not None:
        query = query.where(flows_t.c.version == version)
    row = conn.execute(query.order_by(flows_t.c.created_at.desc()).limit(1)).mappings().first()
    if row is None:
        raise NotFoundError(f"there is no flow {name!r}" + (f" at version {version}" if version else ""))
    return _flow(row)


def newest_flows(conn: Connection) -> list[FlowRecord]:
    """The newest recorded version of each flow, by name."""
    newest = (
        select(flows_t.c.name, func.max(flows_t.c.created_at).label("created_at"))
        .group_by(flows_t.c.name)
        .subquery()
    )
    rows = conn.execute(
        select(flows_t)
        .join(newest, (flows_t.c.name == newest.c.name) & (flows_t.c.created_at == newest.c.created_at))
        .order_by(flows_t.c.name)
    ).mappings()
    return [_flow(row) for row in rows]


def list_flows(conn: Connection) -> list[tuple[FlowRecord, int, str | None]]:
    """The newest version of each flow, with its run count and last run state."""
    flows = newest_flows(conn)
    counts: dict[str, int] = dict(
        conn.execute(select(runs_t.c.flow_name, func.count()).group_by(runs_t.c.flow_name)).all()
    )
    last_ids = select(func.max(runs_t.c.id)).group_by(runs_t.c.flow_name).scalar_subquery()
    last_state = dict(
        conn.execute(select(runs_t.c.flow_name, runs_t.c.state).where(runs_t.c.id.in_(last_ids))).all()
    )
    return [(f, counts.get(f.name, 0), last_state.get(f.name)) for f in flows]


# -- owners: the processes driving runs ---------------------------------------------------------

owners_t = OwnerRow.__table__
cache_t = CacheRow.__table__


def register_owner(conn: Connection, owner: OwnerRecord) -> None:
    """Record ``owner`` (once: registering it again changes nothing)."""
    if conn.execute(select(owners_t.c.id).where(owners_t.c.id == owner.id)).first() is None:
        conn.execute(insert(owners_t).values(**_row(owner, _OWNER_FIELDS)))


def claim_run(conn: Connection, run_id: int, owner: str) -> bool:
    """Make ``owner`` the run's driver, if nobody (or ``owner`` itself) drives it."""
    result = conn.execute(
        update(runs_t)
        .where(runs_t.c.id == run_id, (runs_t.c.owner.is_(None)) | (runs_t.c.owner == owner))
        .values(owner=owner)
    )
    return result.rowcount == 1


def heartbeat(conn: Connection, owner_id: str, now: datetime) -> None:
    conn.execute(update(owners_t).where(owners_t.c.id == owner_id).values(heartbeat_at=now))


def get_owner(conn: Connection, owner_id: str) -> OwnerRecord | None:
    row = conn.execute(select(owners_t).where(owners_t.c.id == owner_id)).mappings().first()
    return None if row is None else OwnerRecord(**row)


def set_run_owner(conn: Connection, run_id: int, owner: str | None, expected: str | None) -> bool:
    """Compare-and-set of a run's owner; True when this call took it."""
    condition = runs_t.c.owner.is_(None) if expected is None else runs_t.c.owner == expected
    result = conn.execute(update(runs_t).where(runs_t.c.id == run_id, condition).values(owner=owner))
    return result.rowcount == 1


def request_cancel(conn: Connection, run_id: int) -> None:
    conn.execute(update(runs_t).where(runs_t.c.id == run_id).values(cancel_requested=True))


def cancel_requests(conn: Connection, run_ids: list[int]) -> list[int]:
    """Which of ``run_ids`` someone asked to cancel."""
    if not run_ids:
        return []
    rows = conn.execute(
        select(runs_t.c.id).where(runs_t.c.id.in_(run_ids), runs_t.c.cancel_requested.is_(True))
    )
    return [row.id for row in rows]


# -- the task cache -----------------------------------------------------------------------------


def cache_lookup(conn: Connection, keys: list[str], now: datetime) -> dict[str, CacheEntry]:
    """Unexpired cache entries for ``keys``."""
    if not keys:
        return {}
    rows = conn.execute(select(cache_t).where(cache_t.c.key.in_(keys))).mappings()
    found = {}
    for row in rows:
        entry = CacheEntry(**row)
        if entry.expires_at is None or entry.expires_at > now:
            found[entry.key] = entry
    return found


def _store_cache(conn: Connection, entries: list[CacheEntry]) -> None:
    keys = [e.key for e in entries]
    conn.execute(delete(cache_t).where(cache_t.c.key.in_(keys)))
    latest = {e.key: e for e in entries}
    conn.execute(insert(cache_t), [_row(e, _CACHE_FIELDS) for e in latest.values()])


# -- clearing task runs to run again (retry, clear) -----------------------------------------------------


def delete_task_runs(conn: Connection, run_id: int, task_id: str, *, elements_only: bool) -> None:
    """Forget a mapped node's elements (and their tries), so it fans out anew."""
    conditions = [task_runs_t.c.run_id == run_id, task_runs_t.c.task_id == task_id]
    try_conditions = [tries_t.c.run_id == run_id, tries_t.c.task_id == task_id]
    if elements_only:
        conditions.append(task_runs_t.c.map_index >= 0)
        try_conditions.append(tries_t.c.map_index >= 0)
    conn.execute(delete(task_runs_t).where(*conditions))
    conn.execute(delete(tries_t).where(*try_conditions))


# -- scheduling ---------------------------------------------------------------------------------

flow_state_t = FlowStateRow.__table__
flow_files_t = FlowFileRow.__table__
events_in_t = EventInRow.__table__


def upsert_flow_state(
    conn: Connection,
    *,
    name: str,
    path: str | None,
    schedule: dict[str, Any] | None,
    paused: bool,
    now: datetime,
) -> FlowStateRecord:
    """Record where a flow lives and its schedule; ``paused`` applies only when it is new."""
    row = conn.execute(select(flow_state_t).where(flow_state_t.c.name == name)).mappings().first()
    if row is None:
        values: dict[str, Any] = {
            "name": name,
            "path": path,
            "schedule": schedule,
            "paused": paused,
            "last_fire": None,
            "next_fire": None,
            "updated_at": now,
        }
        conn.execute(insert(flow_state_t).values(**values))
        return FlowStateRecord(**values)
    if row["path"] != path or row["schedule"] != schedule:
        conn.execute(
            update(flow_state_t)
            .where(flow_state_t.c.name == name)
            .values(path=path, schedule=schedule, updated_at=now)
        )
    return FlowStateRecord(**{**row, "path": path, "schedule": schedule})


def get_flow_states(conn: Connection) -> dict[str, FlowStateRecord]:
    return {row["name"]: FlowStateRecord(**row) for row in conn.execute(select(flow_state_t)).mappings()}


def paused_flows(conn: Connection) -> list[str]:
    """Names of the paused flows (cheap: no schedule JSON is read)."""
    return [
        row.name for row in conn.execute(select(flow_state_t.c.name).where(flow_state_t.c.paused.is_(True)))
    ]


def get_flow_state(conn: Connection, name: str) -> FlowStateRecord | None:
    row = conn.execute(select(flow_state_t).where(flow_state_t.c.name == name)).mappings().first()
    return None if row is None else FlowStateRecord(**row)


def set_fire(conn: Connection, name: str, *, last_fire: datetime | None, next_fire: datetime | None) -> None:
    values: dict[str, Any] = {"next_fire": next_fire}
    if last_fire is not None:
        values["last_fire"] = last_fire
    conn.execute(update(flow_state_t).where(flow_state_t.c.name == name).values(**values))


def set_paused(conn: Connection, name: str, paused: bool, now: datetime, *, reset_fire: bool = False) -> bool:
    """Pause or unpause; True when the flow is known. ``reset_fire`` forgets the last fire
    (an unpaused flow without catchup starts from now, with no flood of missed runs)."""
    values: dict[str, Any] = {"paused": paused, "updated_at": now}
    if reset_fire:
        values["last_fire"] = now
    result = conn.execute(update(flow_state_t).where(flow_state_t.c.name == name).values(**values))
    return result.rowcount == 1


def record_flow_file(
    conn: Connection, *, path: str, digest: str, flows: list[str], error: str | None, now: datetime
) -> None:
    conn.execute(delete(flow_files_t).where(flow_files_t.c.path == path))
    conn.execute(
        insert(flow_files_t).values(path=path, digest=digest, flows=flows, error=error, loaded_at=now)
    )


def forget_flow_files(conn: Connection, keep: list[str]) -> None:
    conn.execute(delete(flow_files_t).where(flow_files_t.c.path.not_in(keep)))


def flow_file_errors(conn: Connection) -> list[tuple[str, str, datetime]]:
    rows = conn.execute(
        select(flow_files_t.c.path, flow_files_t.c.error, flow_files_t.c.loaded_at)
        .where(flow_files_t.c.error.is_not(None))
        .order_by(flow_files_t.c.path)
    )
    return [(r.path, r.error, r.loaded_at) for r in rows]


def runs_to_start(
    conn: Connection, *, exclude_flows: list[str] | None = None, limit: int = 100
) -> list[RunRecord]:
    """Queued or running runs nobody drives, oldest first, leaving out flows at their limit
    (so one flow's backlog never hides another flow's runs)."""
    query = (
        select(runs_t)
        .where(runs_t.c.state.in_(["queued", "running"]), runs_t.c.owner.is_(None))
        .order_by(runs_t.c.id)
        .limit(limit)
    )
    if exclude_flows:
        query = query.where(runs_t.c.flow_name.not_in(exclude_flows))
    return [_run(row) for row in conn.execute(query)]


def owned_active_runs(conn: Connection, *, exclude_owner: str) -> list[RunRecord]:
    """Queued or running runs that some other process says it drives (to find orphans)."""
    query = select(runs_t).where(
        runs_t.c.state.in_(["queued", "running"]),
        runs_t.c.owner.is_not(None),
        runs_t.c.owner != exclude_owner,
    )
    return [_run(row) for row in conn.execute(query)]


def active_runs_by_flow(conn: Connection) -> dict[str, int]:
    """Runs being driven (owned, queued or running), per flow."""
    rows = conn.execute(
        select(runs_t.c.flow_name, func.count())
        .where(runs_t.c.state.in_(["queued", "running"]), runs_t.c.owner.is_not(None))
        .group_by(runs_t.c.flow_name)
    )
    return dict(rows.all())


def find_run_by_key(conn: Connection, run_key: str) -> RunRecord | None:
    row = conn.execute(select(runs_t).where(runs_t.c.run_key == run_key)).first()
    return None if row is None else _run(row)


def insert_event(conn: Connection, *, event_id: str, name: str, payload: Any, now: datetime) -> bool:
    """Record an event; False when one with this id was already received."""
    exists = conn.execute(select(events_in_t.c.id).where(events_in_t.c.id == event_id)).first()
    if exists:
        return False
    conn.execute(insert(events_in_t).values(id=event_id, name=name, payload=payload, received_at=now))
    return True
