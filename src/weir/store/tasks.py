"""Task runs, tries and events: the rows a run's engine writes at every step, and their reads.

:func:`apply_changes` writes one step: every state change is a compare-and-set on the state the
writer expects, so a row another writer moved is never overwritten (``StaleStateError``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, insert, select, update

from weir.errors import NotFoundError, StaleStateError
from weir.store.cache import store_entries
from weir.store.fastpath import Prepared
from weir.store.records import CallbackCallRecord, Changes, EventRecord, TaskRunRecord, TryRecord
from weir.store.tables import CallbackCallRow, EventRow, RunRow, TaskRunRow, TryRow

runs_t = RunRow.__table__
task_runs_t = TaskRunRow.__table__
tries_t = TryRow.__table__
events_t = EventRow.__table__
callback_calls_t = CallbackCallRow.__table__
CALLBACK_CALL_FIELDS = [f.name for f in dataclasses.fields(CallbackCallRecord)]

TASK_RUN_FIELDS = [f.name for f in dataclasses.fields(TaskRunRecord)]
TRY_FIELDS = [f.name for f in dataclasses.fields(TryRecord)]
EVENT_FIELDS = [f.name for f in dataclasses.fields(EventRecord)]
#: The columns reads of tries select when they do not need result bytes.
_TRY_COLUMNS = [tries_t.c[name] for name in TRY_FIELDS if name != "result_data"]
_TRY_KEYS = ("run_id", "task_id", "map_index", "number")


def row_of(record: Any, fields: list[str]) -> dict[str, Any]:
    """A record's values by column name (a flat read: ``dataclasses.asdict`` deep-copies)."""
    return {name: getattr(record, name) for name in fields}


# Compare-and-set of a task run: the row changes only if it is still in the expected state.
_update_task_run = Prepared(
    update(task_runs_t)
    .where(
        task_runs_t.c.run_id == bindparam("b_run_id"),
        task_runs_t.c.task_id == bindparam("b_task_id"),
        task_runs_t.c.map_index == bindparam("b_map_index"),
        task_runs_t.c.state == bindparam("b_expected"),
    )
    .values(
        {name: bindparam(name) for name in TASK_RUN_FIELDS if name not in ("run_id", "task_id", "map_index")}
    )
)
_insert_try = Prepared(insert(tries_t).values({name: bindparam(name) for name in TRY_FIELDS}))
_update_try = Prepared(
    update(tries_t)
    .where(*(tries_t.c[k] == bindparam(f"b_{k}") for k in _TRY_KEYS))
    .values({name: bindparam(name) for name in TRY_FIELDS if name not in _TRY_KEYS})
)
_insert_event = Prepared(insert(events_t).values({name: bindparam(name) for name in EVENT_FIELDS}))


def insert_task_runs(conn: Connection, records: list[TaskRunRecord]) -> None:
    if records:
        conn.execute(insert(task_runs_t), [row_of(r, TASK_RUN_FIELDS) for r in records])


def apply_changes(conn: Connection, changes: Changes) -> None:
    """Write one step. Every state change is a compare-and-set on the expected state.

    Raises:
        StaleStateError: a run or task run was not in the expected state (another writer moved
            it), naming the runs; the caller's transaction must be rolled back.
    """
    if changes.cache_entries:
        store_entries(conn, changes.cache_entries)
    if changes.new_task_runs:
        insert_task_runs(conn, changes.new_task_runs)
    if changes.task_runs:
        params = []
        for change in changes.task_runs:
            row = row_of(change.record, TASK_RUN_FIELDS)
            row["b_run_id"] = row.pop("run_id")
            row["b_task_id"] = row.pop("task_id")
            row["b_map_index"] = row.pop("map_index")
            row["b_expected"] = change.expected
            params.append(row)
        changed = _update_task_run.execute(conn, params)
        if changed != len(params):
            runs = sorted({c.record.run_id for c in changes.task_runs})
            raise StaleStateError(
                f"{len(params) - changed} of {len(params)} task run(s) were not in the expected state",
                run_ids=runs,
            )
    if changes.new_tries:
        _insert_try.execute(conn, [row_of(t, TRY_FIELDS) for t in changes.new_tries])
    if changes.tries:
        params = []
        for record in changes.tries:
            row = row_of(record, TRY_FIELDS)
            for key in _TRY_KEYS:
                row[f"b_{key}"] = row.pop(key)
            params.append(row)
        _update_try.execute(conn, params)
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
            raise StaleStateError(f"run {run.run_id} was not {run.expected} any more", run_ids=[run.run_id])
    if changes.events:
        _insert_event.execute(conn, [row_of(e, EVENT_FIELDS) for e in changes.events])
    if changes.callback_calls:
        conn.execute(
            insert(callback_calls_t), [row_of(c, CALLBACK_CALL_FIELDS) for c in changes.callback_calls]
        )


def callback_calls(conn: Connection, run_id: int) -> list[CallbackCallRecord]:
    """Every callback call of a run, oldest first."""
    rows = conn.execute(
        select(*(callback_calls_t.c[n] for n in CALLBACK_CALL_FIELDS))
        .where(callback_calls_t.c.run_id == run_id)
        .order_by(callback_calls_t.c.id)
    )
    return [CallbackCallRecord(**row._mapping) for row in rows]


def failed_callback_calls(conn: Connection) -> int:
    """How many callback calls have failed (a notification not delivered, a callback that raised)."""
    return int(
        conn.execute(
            select(func.count()).select_from(callback_calls_t).where(callback_calls_t.c.ok.is_(False))
        ).scalar_one()
    )


def get_task_runs(
    conn: Connection,
    run_id: int,
    task_id: str | None = None,
    *,
    order: Sequence[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[TaskRunRecord]:
    """A run's task runs (or one task's: its node and its elements), by task and map index.

    With ``order`` (task ids, in graph order) the tasks come in that order instead, those it does
    not name last; ``limit`` and ``offset`` page them in the database.
    """
    query = select(task_runs_t).where(task_runs_t.c.run_id == run_id)
    if task_id is not None:
        query = query.where(task_runs_t.c.task_id == task_id)
    if order:
        position = case({t: i for i, t in enumerate(order)}, value=task_runs_t.c.task_id, else_=len(order))
        query = query.order_by(position, task_runs_t.c.task_id, task_runs_t.c.map_index)
    else:
        query = query.order_by(task_runs_t.c.task_id, task_runs_t.c.map_index)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [TaskRunRecord(**row) for row in conn.execute(query).mappings()]


def count_task_runs(conn: Connection, run_id: int, task_id: str | None = None) -> int:
    """How many task runs (nodes and mapped elements) a run has, or one of its tasks has."""
    query = select(func.count()).select_from(task_runs_t).where(task_runs_t.c.run_id == run_id)
    if task_id is not None:
        query = query.where(task_runs_t.c.task_id == task_id)
    return int(conn.execute(query).scalar_one())


def get_tries(
    conn: Connection,
    run_id: int,
    task_id: str | None = None,
    map_index: int | None = None,
    *,
    results: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> list[TryRecord]:
    """Tries of a run (or of one task, or one task run); ``results=False`` leaves result bytes out;
    ``limit`` and ``offset`` page them in the database."""
    query = select(*(tries_t.c if results else _TRY_COLUMNS)).where(*_tries_of(run_id, task_id, map_index))
    query = query.order_by(tries_t.c.task_id, tries_t.c.map_index, tries_t.c.number)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [TryRecord(**row) for row in conn.execute(query).mappings()]


def count_tries(
    conn: Connection, run_id: int, task_id: str | None = None, map_index: int | None = None
) -> int:
    """How many tries :func:`get_tries` finds with the same arguments."""
    query = select(func.count()).select_from(tries_t).where(*_tries_of(run_id, task_id, map_index))
    return int(conn.execute(query).scalar_one())


def _tries_of(run_id: int, task_id: str | None, map_index: int | None) -> list[Any]:
    conditions: list[Any] = [tries_t.c.run_id == run_id]
    if task_id is not None:
        conditions.append(tries_t.c.task_id == task_id)
    if map_index is not None:
        conditions.append(tries_t.c.map_index == map_index)
    return conditions


def get_try(conn: Connection, run_id: int, task_id: str, map_index: int, number: int) -> TryRecord:
    """One try, without its result bytes; raises NotFoundError."""
    row = (
        conn.execute(select(*_TRY_COLUMNS).where(*_try_is(run_id, task_id, map_index, number)))
        .mappings()
        .first()
    )
    if row is None:
        element = "" if map_index < 0 else f"[{map_index}]"
        raise NotFoundError(f"task {task_id}{element} of run {run_id} has no try {number}")
    return TryRecord(**row)


def try_state(conn: Connection, run_id: int, task_id: str, map_index: int, number: int) -> str | None:
    """The current state of one try (None when it does not exist): cheap, for log tailing."""
    return conn.execute(select(tries_t.c.state).where(*_try_is(run_id, task_id, map_index, number))).scalar()


def _try_is(run_id: int, task_id: str, map_index: int, number: int) -> list[Any]:
    return [
        tries_t.c.run_id == run_id,
        tries_t.c.task_id == task_id,
        tries_t.c.map_index == map_index,
        tries_t.c.number == number,
    ]


def get_events(
    conn: Connection, run_id: int, *, after: int = 0, limit: int | None = None, offset: int = 0
) -> list[EventRecord]:
    """A run's state changes, oldest first; ``limit`` and ``offset`` page them in the database."""
    query = (
        select(*(events_t.c[name] for name in EVENT_FIELDS))
        .where(events_t.c.run_id == run_id, events_t.c.id > after)
        .order_by(events_t.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [EventRecord(**row) for row in conn.execute(query).mappings()]


def count_events(conn: Connection, run_id: int) -> int:
    """How many state changes a run (and its task runs) has recorded."""
    query = select(func.count()).select_from(events_t).where(events_t.c.run_id == run_id)
    return int(conn.execute(query).scalar_one())


def delete_elements(conn: Connection, run_id: int, task_id: str) -> None:
    """Forget a mapped node's elements (and their tries), so it fans out anew."""
    conn.execute(
        delete(task_runs_t).where(
            task_runs_t.c.run_id == run_id, task_runs_t.c.task_id == task_id, task_runs_t.c.map_index >= 0
        )
    )
    conn.execute(
        delete(tries_t).where(
            tries_t.c.run_id == run_id, tries_t.c.task_id == task_id, tries_t.c.map_index >= 0
        )
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Grid:
    """Recent runs of a flow (oldest first) and the state of each task in each: Airflow's grid view."""

    runs: list[tuple[int, str, datetime]]
    cells: dict[tuple[int, str], TaskRunRecord] = field(default_factory=dict)


def grid(conn: Connection, flow_name: str, *, runs: int = 25) -> Grid:
    """The ``runs`` latest runs of a flow (oldest first) and their nodes' task runs (no elements)."""
    rows = conn.execute(
        select(runs_t.c.id, runs_t.c.state, runs_t.c.created_at)
        .where(runs_t.c.flow_name == flow_name)
        .order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc())
        .limit(runs)
    ).all()
    briefs = [(r.id, r.state, r.created_at) for r in reversed(rows)]
    if not briefs:
        return Grid(runs=[])
    records = conn.execute(
        select(task_runs_t).where(
            task_runs_t.c.run_id.in_([b[0] for b in briefs]), task_runs_t.c.map_index == -1
        )
    ).mappings()
    cells = {}
    for row in records:
        record = TaskRunRecord(**row)
        cells[(record.run_id, record.task_id)] = record
    return Grid(runs=briefs, cells=cells)


# -- figures for /metrics --------------------------------------------------------------------------


def task_runs_by_flow_and_state(conn: Connection) -> list[tuple[str, str, int]]:
    """Task runs (plain nodes and mapped elements, not a mapped node's own row) per flow and state."""
    mapped_node = (task_runs_t.c.map_index == -1) & task_runs_t.c.map_count.is_not(None)
    rows = conn.execute(
        select(runs_t.c.flow_name, task_runs_t.c.state, func.count())
        .join(runs_t, runs_t.c.id == task_runs_t.c.run_id)
        .where(~mapped_node)
        .group_by(runs_t.c.flow_name, task_runs_t.c.state)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def finished_try_times(conn: Connection) -> Iterable[tuple[str, str, datetime, datetime]]:
    """(flow, state, started_at, ended_at) of every try that started and ended, streamed."""
    result = conn.execution_options(yield_per=5000).execute(
        select(runs_t.c.flow_name, tries_t.c.state, tries_t.c.started_at, tries_t.c.ended_at)
        .join(runs_t, runs_t.c.id == tries_t.c.run_id)
        .where(tries_t.c.started_at.is_not(None), tries_t.c.ended_at.is_not(None))
    )
    for row in result:
        yield row[0], row[1], row[2], row[3]


def task_runs_in_states(conn: Connection, states: Iterable[str]) -> int:
    return conn.execute(
        select(func.count()).select_from(task_runs_t).where(task_runs_t.c.state.in_(list(states)))
    ).scalar_one()
