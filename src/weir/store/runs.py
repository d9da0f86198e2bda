"""Runs: creating one with its task runs, reading and listing them, cancel requests, counts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, union_all, update

from weir.errors import DuplicateRunError, NotFoundError
from weir.store.records import RunRecord, TaskRunRecord
from weir.store.tables import EventRow, FlowTagRow, RunRow, TaskRunRow

runs_t = RunRow.__table__
events_t = EventRow.__table__
flow_tags_t = FlowTagRow.__table__
task_runs_t = TaskRunRow.__table__

#: The states of a run that has not ended.
ACTIVE_STATES = ("queued", "running")
_RUN_FIELDS = frozenset(f.name for f in dataclasses.fields(RunRecord))
#: The columns listings read: never the result bytes.
_BRIEF_COLUMNS = [
    c for c in runs_t.c if c.name in _RUN_FIELDS and c.name not in ("result_data", "result_path")
]


def run_of(row: Any) -> RunRecord:
    """A record from a row of ``runs`` (any subset of its columns)."""
    mapping = row._mapping
    values = {name: mapping[name] for name in _RUN_FIELDS if name in mapping}
    values["cancel_requested"] = bool(values.get("cancel_requested"))
    return RunRecord(**values)


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

    With ``owner`` the run is created already claimed by that driver, so no scheduler can take
    it in between.

    Raises:
        DuplicateRunError: a run with ``run_key`` exists already: run creation for a (flow,
            logical date) or an event id is idempotent (the transaction must be rolled back).
    """
    from sqlalchemy.exc import IntegrityError

    from weir.store.tasks import insert_task_runs

    statement = (
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
            fence=0,
            created_at=now,
        )
        .returning(runs_t.c.id)
    )
    try:
        run_id = conn.execute(statement).scalar_one()
    except IntegrityError:
        if run_key is None:
            raise
        raise DuplicateRunError(f"a run with key {run_key!r} exists already") from None
    for record in task_runs:
        record.run_id = run_id
    insert_task_runs(conn, task_runs)
    conn.execute(insert(events_t).values(run_id=run_id, to_state="queued", at=now, reason=trigger))
    return run_id


def get_run(conn: Connection, run_id: int, *, result: bool = True) -> RunRecord:
    """The run ``run_id`` (``result=False`` leaves its result bytes out); raises NotFoundError."""
    query = select(runs_t) if result else select(*_BRIEF_COLUMNS)
    row = conn.execute(query.where(runs_t.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"there is no run {run_id}")
    return run_of(row)


def find_by_key(conn: Connection, run_key: str) -> RunRecord | None:
    row = conn.execute(select(runs_t).where(runs_t.c.run_key == run_key)).first()
    return None if row is None else run_of(row)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPage:
    """One page of runs (newest first) and how many match the filters in all."""

    runs: list[RunRecord]
    total: int


def list_runs(
    conn: Connection,
    *,
    flow: str | None = None,
    state: str | None = None,
    trigger: str | None = None,
    tag: str | None = None,
    before: int | None = None,
    limit: int = 50,
    offset: int = 0,
    count: bool = True,
) -> RunPage:
    """Runs, newest first, filtered; ``before`` (a run id) is a cursor that stays fast on deep pages.
    ``tag`` keeps runs of flows with that tag. ``count=False`` skips counting them all (total -1)."""
    conditions: list[Any] = []
    if flow:
        conditions.append(runs_t.c.flow_name == flow)
    if state:
        conditions.append(runs_t.c.state == state)
    if trigger:
        conditions.append(runs_t.c.trigger == trigger)
    if tag:
        tagged = select(flow_tags_t.c.flow_name).where(flow_tags_t.c.tag == tag)
        conditions.append(runs_t.c.flow_name.in_(tagged))
    total = (
        conn.execute(select(func.count()).select_from(runs_t).where(*conditions)).scalar_one()
        if count
        else -1
    )
    if before is not None:
        conditions.append(runs_t.c.id < before)
    # Within one flow, creation order (the same as id order: ids are handed out at creation)
    # walks the (flow_name, created_at) index instead of sorting all of the flow's runs.
    order = [runs_t.c.created_at.desc(), runs_t.c.id.desc()] if flow else [runs_t.c.id.desc()]
    query = select(*_BRIEF_COLUMNS).where(*conditions).order_by(*order).limit(limit).offset(offset)
    return RunPage(runs=[run_of(row) for row in conn.execute(query)], total=total)


def recent_by_flow(
    conn: Connection, names: list[str], limit: int
) -> dict[str, list[tuple[int, str, datetime]]]:
    """The ``limit`` newest runs of each flow as ``(id, state, created_at)``, newest first, in one
    statement (one indexed range per flow)."""
    if limit <= 0 or not names:
        return {}
    parts = [
        select(runs_t.c.flow_name, runs_t.c.id, runs_t.c.state, runs_t.c.created_at)
        .where(runs_t.c.flow_name == name)
        .order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc())
        .limit(limit)
        .subquery()
        .select()
        for name in names
    ]
    out: dict[str, list[tuple[int, str, datetime]]] = {}
    for start in range(0, len(parts), 200):  # SQLite caps the terms of one compound SELECT at 500
        chunk = parts[start : start + 200]
        statement = chunk[0] if len(chunk) == 1 else union_all(*chunk)
        for row in conn.execute(statement):
            out.setdefault(row.flow_name, []).append((row.id, row.state, row.created_at))
    for briefs in out.values():
        briefs.sort(key=lambda b: (b[2], b[0]), reverse=True)
    return out


def request_cancel(conn: Connection, run_id: int) -> None:
    conn.execute(update(runs_t).where(runs_t.c.id == run_id).values(cancel_requested=True))


def cancel_requests(conn: Connection, run_ids: Iterable[int]) -> list[int]:
    """Which of ``run_ids`` someone asked to cancel."""
    ids = list(run_ids)
    if not ids:
        return []
    rows = conn.execute(select(runs_t.c.id).where(runs_t.c.id.in_(ids), runs_t.c.cancel_requested.is_(True)))
    return [row.id for row in rows]


def reset_for_rerun(conn: Connection, run_id: int) -> None:
    """A run cleared to run again: no cancel request, no end time."""
    conn.execute(update(runs_t).where(runs_t.c.id == run_id).values(cancel_requested=False, ended_at=None))


def set_owner(conn: Connection, run_id: int, owner: str | None, expected: str | None) -> bool:
    """Compare-and-set of a run's owner; True when this call changed it."""
    condition = runs_t.c.owner.is_(None) if expected is None else runs_t.c.owner == expected
    return (
        conn.execute(update(runs_t).where(runs_t.c.id == run_id, condition).values(owner=owner)).rowcount == 1
    )


def count_by_flow(conn: Connection) -> dict[str, int]:
    """How many runs each flow has."""
    return dict(conn.execute(select(runs_t.c.flow_name, func.count()).group_by(runs_t.c.flow_name)).all())


def by_flow_and_state(conn: Connection) -> list[tuple[str, str, int]]:
    rows = conn.execute(
        select(runs_t.c.flow_name, runs_t.c.state, func.count()).group_by(runs_t.c.flow_name, runs_t.c.state)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def in_state(conn: Connection, state: str) -> int:
    return conn.execute(select(func.count()).select_from(runs_t).where(runs_t.c.state == state)).scalar_one()
