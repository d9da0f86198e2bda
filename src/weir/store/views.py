"""Read-only queries for the API and the web UI: lists, pages and figures, shaped for display.

Every function takes a connection and only reads. Listing queries select the columns they show
(never result blobs), page with ``LIMIT``, and fetch the rows of many runs in one query, so a page
costs a handful of indexed statements however many runs the store holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select, text, union_all

from weir.errors import NotFoundError
from weir.store import queries
from weir.store.queries import events_t, flows_t, owners_t, runs_t, task_runs_t, tries_t
from weir.store.records import EventRecord, FlowRecord, OwnerRecord, RunRecord, TaskRunRecord, TryRecord

_RUN_FIELDS = frozenset(f.name for f in dataclasses.fields(RunRecord))
_TRY_FIELDS = frozenset(f.name for f in dataclasses.fields(TryRecord))
_TASK_RUN_FIELDS = frozenset(f.name for f in dataclasses.fields(TaskRunRecord))
#: The columns listings read: those the records hold, never result blobs.
_RUN_COLUMNS = [c for c in runs_t.c if c.name in _RUN_FIELDS and c.name not in ("result_data", "result_path")]
_TRY_COLUMNS = [c for c in tries_t.c if c.name in _TRY_FIELDS and c.name != "result_data"]
_TASK_RUN_COLUMNS = [c for c in task_runs_t.c if c.name in _TASK_RUN_FIELDS]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunBrief:
    """A run as a coloured square: id, state, when."""

    id: int
    state: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowOverview:
    """The newest version of a flow with its run count, last run and most recent runs (newest first)."""

    flow: FlowRecord
    run_count: int
    recent: list[RunBrief]

    @property
    def last_run(self) -> RunBrief | None:
        return self.recent[0] if self.recent else None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPage:
    """One page of runs (newest first) and how many match the filters in all."""

    runs: list[RunRecord]
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Grid:
    """Recent runs of a flow (oldest first) and the state of each task in each: Airflow's grid view."""

    runs: list[RunBrief]
    cells: dict[tuple[int, str], TaskRunRecord] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunView:
    """Everything the run page shows: the run, its graph, task runs and tries."""

    run: RunRecord
    graph: dict[str, Any]
    task_runs: list[TaskRunRecord]
    tries: list[TryRecord]


def _pick(cls: Any, row: Any) -> Any:
    """A record from the row's columns that ``cls`` has (columns added later are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in row.items() if k in names})


def _run(row: Any) -> RunRecord:
    mapping = row._mapping
    values = {name: mapping[name] for name in _RUN_FIELDS if name in mapping}
    values["cancel_requested"] = bool(values.get("cancel_requested"))
    return RunRecord(**values)


def flow_overviews(conn: Connection, *, recent: int = 20) -> list[FlowOverview]:
    """Every flow (newest version), by name, with its run count and its ``recent`` latest runs."""
    flows: dict[str, FlowRecord] = {}
    for flow in queries.newest_flows(conn):
        flows.setdefault(flow.name, flow)
    if not flows:
        return []
    counts: dict[str, int] = dict(
        conn.execute(select(runs_t.c.flow_name, func.count()).group_by(runs_t.c.flow_name)).all()
    )
    by_flow = _recent_runs(conn, list(flows), recent)
    return [
        FlowOverview(flow=flow, run_count=counts.get(name, 0), recent=by_flow.get(name, []))
        for name, flow in flows.items()
    ]


def _recent_runs(conn: Connection, names: list[str], limit: int) -> dict[str, list[RunBrief]]:
    """The ``limit`` newest runs of each flow, in one statement (one indexed range per flow)."""
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
    out: dict[str, list[RunBrief]] = {}
    for chunk in _chunks(parts, 200):  # SQLite caps the terms of one compound SELECT at 500
        statement = chunk[0] if len(chunk) == 1 else union_all(*chunk)
        for row in conn.execute(statement):
            out.setdefault(row.flow_name, []).append(
                RunBrief(id=row.id, state=row.state, created_at=row.created_at)
            )
    for briefs in out.values():
        briefs.sort(key=lambda b: (b.created_at, b.id), reverse=True)
    return out


_T = TypeVar("_T")


def _chunks(items: list[_T], size: int) -> Iterable[list[_T]]:
    # Generic rather than list[Any] on purpose: with an Any first branch, the conditional
    # ``chunk[0] if ... else union_all(*chunk)`` above crashes mypy 2.4 (INTERNAL ERROR).
    for start in range(0, len(items), size):
        yield items[start : start + size]


def get_flow(conn: Connection, name: str) -> FlowRecord:
    """The newest version of flow ``name``; raises NotFoundError."""
    row = (
        conn.execute(
            select(flows_t).where(flows_t.c.name == name).order_by(flows_t.c.created_at.desc()).limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"there is no flow {name!r}")
    return _pick(FlowRecord, row)


def flow_run_count(conn: Connection, name: str) -> int:
    return conn.execute(select(func.count()).where(runs_t.c.flow_name == name)).scalar_one()


def list_runs(
    conn: Connection,
    *,
    flow: str | None = None,
    state: str | None = None,
    trigger: str | None = None,
    before: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RunPage:
    """Runs, newest first, filtered; ``before`` (a run id) is a cursor that stays fast on deep pages."""
    conditions = []
    if flow:
        conditions.append(runs_t.c.flow_name == flow)
    if state:
        conditions.append(runs_t.c.state == state)
    if trigger:
        conditions.append(runs_t.c.trigger == trigger)
    counted = conn.execute(select(func.count()).select_from(runs_t).where(*conditions)).scalar_one()
    if before is not None:
        conditions.append(runs_t.c.id < before)
    # Within one flow, creation order (the same as id order: ids are handed out at creation)
    # walks the (flow_name, created_at) index instead of sorting all of the flow's runs.
    order = [runs_t.c.created_at.desc(), runs_t.c.id.desc()] if flow else [runs_t.c.id.desc()]
    query = select(*_RUN_COLUMNS).where(*conditions).order_by(*order).limit(limit).offset(offset)
    return RunPage(runs=[_run(row) for row in conn.execute(query)], total=counted)


def get_run(conn: Connection, run_id: int) -> RunRecord:
    """Raises NotFoundError when there is no run ``run_id``."""
    row = conn.execute(select(*_RUN_COLUMNS).where(runs_t.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"there is no run {run_id}")
    return _run(row)


def flow_graph(conn: Connection, name: str, version: str) -> dict[str, Any]:
    """The stored graph of one flow version ({} when that version is not recorded)."""
    graph = conn.execute(
        select(flows_t.c.graph).where(flows_t.c.name == name, flows_t.c.version == version)
    ).scalar()
    return graph or {}


def get_task_runs(conn: Connection, run_id: int, task_id: str | None = None) -> list[TaskRunRecord]:
    """A run's task runs (or one task's: its summary row and its elements), by task and map index."""
    query = select(*_TASK_RUN_COLUMNS).where(task_runs_t.c.run_id == run_id)
    if task_id is not None:
        query = query.where(task_runs_t.c.task_id == task_id)
    query = query.order_by(task_runs_t.c.task_id, task_runs_t.c.map_index)
    return [TaskRunRecord(**row) for row in conn.execute(query).mappings()]


def get_tries(
    conn: Connection, run_id: int, task_id: str | None = None, map_index: int | None = None
) -> list[TryRecord]:
    """Tries of a run (or of one task, or one task run), without their result blobs."""
    query = select(*_TRY_COLUMNS).where(tries_t.c.run_id == run_id)
    if task_id is not None:
        query = query.where(tries_t.c.task_id == task_id)
    if map_index is not None:
        query = query.where(tries_t.c.map_index == map_index)
    query = query.order_by(tries_t.c.task_id, tries_t.c.map_index, tries_t.c.number)
    return [TryRecord(**row) for row in conn.execute(query).mappings()]


def get_try(conn: Connection, run_id: int, task_id: str, map_index: int, number: int) -> TryRecord:
    """One try; raises NotFoundError."""
    row = (
        conn.execute(
            select(*_TRY_COLUMNS).where(
                tries_t.c.run_id == run_id,
                tries_t.c.task_id == task_id,
                tries_t.c.map_index == map_index,
                tries_t.c.number == number,
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        element = "" if map_index < 0 else f"[{map_index}]"
        raise NotFoundError(f"task {task_id}{element} of run {run_id} has no try {number}")
    return TryRecord(**row)


def try_state(conn: Connection, run_id: int, task_id: str, map_index: int, number: int) -> str | None:
    """The current state of one try (None when it does not exist): cheap, for log tailing."""
    return conn.execute(
        select(tries_t.c.state).where(
            tries_t.c.run_id == run_id,
            tries_t.c.task_id == task_id,
            tries_t.c.map_index == map_index,
            tries_t.c.number == number,
        )
    ).scalar()


def run_view(conn: Connection, run_id: int) -> RunView:
    """The run page's data in four indexed reads; raises NotFoundError."""
    run = get_run(conn, run_id)
    return RunView(
        run=run,
        graph=flow_graph(conn, run.flow_name, run.flow_version),
        task_runs=get_task_runs(conn, run_id),
        tries=get_tries(conn, run_id),
    )


def get_events(conn: Connection, run_id: int, *, after: int = 0, limit: int = 1000) -> list[EventRecord]:
    rows = conn.execute(
        select(
            events_t.c.run_id,
            events_t.c.task_id,
            events_t.c.map_index,
            events_t.c.from_state,
            events_t.c.to_state,
            events_t.c.at,
            events_t.c.reason,
        )
        .where(events_t.c.run_id == run_id, events_t.c.id > after)
        .order_by(events_t.c.id)
        .limit(limit)
    ).mappings()
    return [EventRecord(**row) for row in rows]


def grid(conn: Connection, flow_name: str, *, runs: int = 25) -> Grid:
    """The ``runs`` latest runs of a flow (oldest first) and their task runs (summary rows only)."""
    rows = conn.execute(
        select(runs_t.c.id, runs_t.c.state, runs_t.c.created_at)
        .where(runs_t.c.flow_name == flow_name)
        .order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc())
        .limit(runs)
    ).all()
    briefs = [RunBrief(id=r.id, state=r.state, created_at=r.created_at) for r in reversed(rows)]
    if not briefs:
        return Grid(runs=[])
    cells = {}
    records = conn.execute(
        select(*_TASK_RUN_COLUMNS).where(
            task_runs_t.c.run_id.in_([b.id for b in briefs]), task_runs_t.c.map_index == -1
        )
    ).mappings()
    for row in records:
        record = TaskRunRecord(**row)
        cells[(record.run_id, record.task_id)] = record
    return Grid(runs=briefs, cells=cells)


# -- health and metrics ---------------------------------------------------------------------------


def ping(conn: Connection) -> None:
    """Raise when the store does not answer."""
    conn.execute(text("SELECT 1")).scalar()


def owners(conn: Connection) -> list[OwnerRecord]:
    """Processes that drive runs, newest heartbeat first."""
    rows = conn.execute(select(owners_t).order_by(owners_t.c.heartbeat_at.desc()).limit(100)).mappings()
    return [_pick(OwnerRecord, row) for row in rows]


def runs_by_flow_and_state(conn: Connection) -> list[tuple[str, str, int]]:
    rows = conn.execute(
        select(runs_t.c.flow_name, runs_t.c.state, func.count()).group_by(runs_t.c.flow_name, runs_t.c.state)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def task_runs_by_flow_and_state(conn: Connection) -> list[tuple[str, str, int]]:
    """Task runs (plain nodes and mapped elements, not a mapped node's summary row) per flow and state."""
    mapped_summary = (task_runs_t.c.map_index == -1) & task_runs_t.c.map_count.is_not(None)
    rows = conn.execute(
        select(runs_t.c.flow_name, task_runs_t.c.state, func.count())
        .join(runs_t, runs_t.c.id == task_runs_t.c.run_id)
        .where(~mapped_summary)
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


def runs_in_state(conn: Connection, state: str) -> int:
    return conn.execute(select(func.count()).select_from(runs_t).where(runs_t.c.state == state)).scalar_one()


# -- scheduling state (kept by the scheduler; absent from stores older than revision 0003) ------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleView:
    """A flow's schedule as the scheduler recorded it."""

    schedule: dict[str, Any] | None
    paused: bool
    next_fire: datetime | None
    last_fire: datetime | None


def _table(name: str) -> Any:
    from weir.store import tables

    row_class = getattr(tables, name, None)
    return None if row_class is None else row_class.__table__


def schedule_views(conn: Connection, names: Iterable[str] | None = None) -> dict[str, ScheduleView] | None:
    """Schedule state by flow name; None when this store records none (no ``flow_state`` table)."""
    table = _table("FlowStateRow")
    if table is None:
        return None
    query = select(table.c.name, table.c.schedule, table.c.paused, table.c.next_fire, table.c.last_fire)
    if names is not None:
        query = query.where(table.c.name.in_(list(names)))
    return {
        row.name: ScheduleView(
            schedule=row.schedule, paused=bool(row.paused), next_fire=row.next_fire, last_fire=row.last_fire
        )
        for row in conn.execute(query)
    }


def flow_file_errors(conn: Connection) -> list[tuple[str, str]]:
    """(path, error) of each flow file that did not load when the scheduler last read it."""
    table = _table("FlowFileRow")
    if table is None:
        return []
    rows = conn.execute(
        select(table.c.path, table.c.error).where(table.c.error.is_not(None)).order_by(table.c.path)
    )
    return [(row.path, row.error) for row in rows]
