"""What the CLI, the API and the UI show, computed once: a run's details, flow summaries and
details, the runs-by-tasks grid, problems with flows, the audit log. Reads only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from weir.control.flows import file_problems, snapshot_of_record
from weir.control.waiting import why_waiting
from weir.errors import NotFoundError, WeirError
from weir.graph.snapshot import FlowSnapshot, ParamSpec
from weir.settings import Settings
from weir.states import TASK_SUCCESSES
from weir.store import audit, flows, owners, pools, runs, tasks
from weir.store.records import (
    AuditRecord,
    CallbackCallRecord,
    EventRecord,
    FlowRecord,
    FlowStateRecord,
    RunRecord,
    TaskRunRecord,
    TryRecord,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

#: Source files larger than this are not shown.
MAX_SOURCE = 512 * 1024
T = TypeVar("T")


# -- runs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """A run, its graph (JSON), its task runs in topological order (elements after their node),
    and its tries (without result bytes)."""

    run: RunRecord
    graph: dict[str, Any]
    task_runs: list[TaskRunRecord]
    tries: list[TryRecord]
    waiting: str | None = None  # why nobody drives it yet (asked with ``now``)
    callbacks: list[CallbackCallRecord] = field(default_factory=list)  # each call of callbacks

    @property
    def failed_callbacks(self) -> list[CallbackCallRecord]:
        """The calls of callbacks that failed (a notification not delivered, a callback that raised)."""
        return [c for c in self.callbacks if not c.ok]

    @property
    def nodes(self) -> list[TaskRunRecord]:
        """The task runs of the graph's nodes (no mapped elements)."""
        return [r for r in self.task_runs if r.map_index < 0]

    def tries_of(self, task_id: str, map_index: int) -> list[TryRecord]:
        return [t for t in self.tries if t.task_id == task_id and t.map_index == map_index]


def task_order(graph: dict[str, Any]) -> dict[str, int]:
    """Each task id's position in the graph's topological order."""
    nodes = graph.get("nodes", []) if isinstance(graph, dict) else []
    return {n["task_id"]: i for i, n in enumerate(nodes) if isinstance(n, dict) and "task_id" in n}


def sort_task_runs(records: list[TaskRunRecord], graph: dict[str, Any]) -> list[TaskRunRecord]:
    order = task_order(graph)
    return sorted(records, key=lambda r: (order.get(r.task_id, len(order)), r.task_id, r.map_index))


def run_graph(conn: Connection, run: RunRecord) -> dict[str, Any]:
    """The graph (JSON) of the flow version a run was made of ({} when that version is gone)."""
    try:
        return flows.get_version(conn, run.flow_name, run.flow_version).graph_json
    except NotFoundError:
        return {}


def run_report(
    conn: Connection, run_id: int, *, with_tries: bool = True, now: datetime | None = None
) -> RunReport:
    """Everything recorded about a run, and (given ``now``) why it waits. Raises NotFoundError."""
    run = runs.get_run(conn, run_id, result=False)
    graph = run_graph(conn, run)
    return RunReport(
        run=run,
        graph=graph,
        task_runs=sort_task_runs(tasks.get_task_runs(conn, run_id), graph),
        tries=tasks.get_tries(conn, run_id, results=False) if with_tries else [],
        waiting=why_waiting(conn, run, now) if now is not None else None,
        callbacks=tasks.callback_calls(conn, run_id),
    )


def run_details(report: RunReport) -> dict[str, Any]:
    """A run as JSON-able data: the run, then each task run with its tries (the CLI's shape)."""
    by_task: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for t in report.tries:
        by_task.setdefault((t.task_id, t.map_index), []).append(
            {
                "number": t.number,
                "state": t.state,
                "started_at": t.started_at,
                "ended_at": t.ended_at,
                "duration": _duration(t.started_at, t.ended_at),
                "error": t.error,
                "log": t.log_path,
                "worker": t.worker,
            }
        )
    rows = []
    for r in report.task_runs:
        its_tries = by_task.get((r.task_id, r.map_index), [])
        # The error of a task run is its last try's, while it has not succeeded: an earlier
        # try's error is that try's, not the task run's (it shows in "tries").
        last = its_tries[-1] if its_tries else None
        error = last["error"] if last is not None and r.state not in TASK_SUCCESSES else None
        rows.append(
            {
                "task_id": r.task_id,
                "map_index": r.map_index,
                "label": r.label,
                "state": r.state,
                "tries": its_tries,
                "max_tries": r.max_tries,
                "map_count": r.map_count,
                "pool": r.pool,
                "note": r.note,
                "started_at": r.started_at,
                "ended_at": r.ended_at,
                "duration": r.duration,
                "error": error,
            }
        )
    run = report.run
    return {
        "id": run.id,
        "flow_name": run.flow_name,
        "flow_version": run.flow_version,
        "state": run.state,
        "reason": run.reason,
        "waiting": report.waiting,
        "callbacks": [
            {
                "task_id": c.task_id,
                "map_index": c.map_index,
                "try_number": c.try_number,
                "event": c.event,
                "ok": c.ok,
                "error": c.error,
                "log": c.log_key,
                "at": c.at,
            }
            for c in report.callbacks
        ],
        "params": run.params,
        "trigger": run.trigger,
        "executor": run.executor,
        "owner": run.owner,
        "logical_date": run.logical_date,
        "interval_start": run.interval_start,
        "interval_end": run.interval_end,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "duration": run.duration,
        "task_runs": rows,
    }


def _duration(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


# -- flows --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowSummary:
    """The newest version of a flow with its tags, run count, recent runs (newest first) and schedule."""

    record: FlowRecord
    tags: list[str]
    run_count: int
    recent: list[tuple[int, str, datetime]]
    state: FlowStateRecord | None
    schedule: str | None
    next_run_at: datetime | None
    tasks: int

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def paused(self) -> bool:
        return bool(self.state and self.state.paused)


def _summaries(conn: Connection, records: list[FlowRecord], now: datetime, recent: int) -> list[FlowSummary]:
    names = [r.name for r in records]
    counts = runs.count_by_flow(conn)
    recents = runs.recent_by_flow(conn, names, recent)
    states = flows.states(conn, names)
    tags = flows.tags_of(conn, names)
    out = []
    for record in records:
        state = states.get(record.name)
        schedule = state.schedule if state else (record.snapshot or {}).get("schedule")
        out.append(
            FlowSummary(
                record=record,
                tags=tags.get(record.name, []),
                run_count=counts.get(record.name, 0),
                recent=recents.get(record.name, []),
                state=state,
                schedule=describe_schedule(schedule),
                next_run_at=None
                if state and state.paused
                else next_run(schedule, state.next_fire if state else None, now),
                tasks=len(record.graph_json.get("nodes", [])),
            )
        )
    return out


def flow_summaries(
    conn: Connection, now: datetime, *, tag: str | None = None, recent: int = 20
) -> list[FlowSummary]:
    """Every flow (newest version), by name; only those tagged ``tag`` when given."""
    return _summaries(conn, flows.newest(conn, tag=tag), now, recent)


def flow_summary(conn: Connection, name: str, now: datetime, *, recent: int = 20) -> FlowSummary:
    """One flow's summary. Raises NotFoundError."""
    return _summaries(conn, [flows.get_version(conn, name)], now, recent)[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowDetail:
    """A flow's summary with its snapshot: graph, params, their schema, source, problems."""

    summary: FlowSummary
    snapshot: FlowSnapshot | None
    graph: dict[str, Any]
    params: list[ParamSpec] = field(default_factory=list)
    params_schema: dict[str, Any] | None = None
    source: str | None = None
    load_error: str | None = None


def flow_detail(conn: Connection, name: str, now: datetime, settings: Settings) -> FlowDetail:
    """Everything about a flow's newest version. Raises NotFoundError."""
    summary = flow_summary(conn, name, now)
    record = summary.record
    snapshot, error = None, None
    try:
        snapshot = snapshot_of_record(record)
    except WeirError as exc:
        error = str(exc)
    return FlowDetail(
        summary=summary,
        snapshot=snapshot,
        graph=record.graph_json,
        params=list(snapshot.params) if snapshot else [],
        params_schema=dict(snapshot.params_schema) if snapshot and snapshot.params_schema else None,
        source=source_text(settings, record),
        load_error=error,
    )


def source_text(settings: Settings, record: FlowRecord) -> str | None:
    """The text of the flow's source file, read (never imported) from the project folder."""
    path = _source_path(settings, record)
    if path is None:
        return None
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE:
            return f"# {path}: too large to show ({size} bytes)"
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _source_path(settings: Settings, record: FlowRecord) -> Path | None:
    """Where the flow's source file is, as its snapshot (or, for an older version, its row) says."""
    named = (record.snapshot or {}).get("source_file") or record.path
    if not named:
        return None
    path = Path(named)
    return path if path.is_absolute() else settings.project_root / path


def describe_schedule(schedule: dict[str, Any] | None) -> str | None:
    """A stored schedule spec in words, or None when it has no triggers."""
    if not schedule:
        return None
    try:
        from weir.schedules import ScheduleSpec

        words = [item.describe() for item in ScheduleSpec.from_dict(schedule).schedules]
    except Exception:
        return str(schedule.get("schedules") or schedule)
    return ", ".join(words) or None


def next_run(schedule: dict[str, Any] | None, stored: datetime | None, now: datetime) -> datetime | None:
    """When the next scheduled run fires: what the scheduler stored, else computed from the spec."""
    if stored is not None or not schedule:
        return stored
    try:
        from weir.schedules import ScheduleSpec, next_fire_time

        return next_fire_time(ScheduleSpec.from_dict(schedule), now)
    except Exception:
        return None


def grid(conn: Connection, name: str, *, runs_shown: int = 25) -> tasks.Grid:
    """The latest runs of a flow (oldest first) and the state of each of its nodes in each."""
    return tasks.grid(conn, name, runs=runs_shown)


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """Something wrong with a flow file or a flow: where (a path or ``flow NAME``) and what."""

    where: str
    error: str
    at: datetime | None = None

    @property
    def path(self) -> str | None:
        """The flow file at fault, if a file."""
        return None if self.where.startswith("flow ") else self.where

    @property
    def flow_name(self) -> str | None:
        """The flow at fault, if a flow."""
        return self.where.removeprefix("flow ") if self.where.startswith("flow ") else None

    def as_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "path": self.path,
            "flow_name": self.flow_name,
            "error": self.error,
            "at": self.at,
        }


def problems(conn: Connection) -> list[Problem]:
    """Flow files that did not load when last read, and flows whose tasks name missing pools."""
    found = [Problem(where=f.path, error=f.error or "", at=f.loaded_at) for f in file_problems(conn)]
    project = sorted({name for f in flows.files(conn) for name in f.flows})
    known = {p.name for p in pools.pools(conn)}
    for record in flows.newest(conn, names=project):
        try:
            wanted = snapshot_of_record(record).pools
        except WeirError as exc:
            found.append(Problem(where=f"flow {record.name}", error=str(exc)))
            continue
        for pool, task_ids in wanted.items():
            if pool not in known:
                found.append(
                    Problem(
                        where=f"flow {record.name}",
                        error=f"task {task_ids[0]!r} uses pool {pool!r}, which does not exist: "
                        f"create it with `weir pools set {pool} SLOTS`",
                    )
                )
    return found


def audit_entries(
    conn: Connection,
    *,
    action: str | None = None,
    target: str | None = None,
    actor: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[AuditRecord]:
    """Audit rows, newest first."""
    return audit.entries(conn, action=action, target=target, actor=actor, before=before, limit=limit)


# -- pages of lists, and what the API and the UI show beside them ---------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing(Generic[T]):
    """One page of a list, read with ``LIMIT``/``OFFSET``, and how many items the list has in all."""

    items: list[T]
    total: int


def task_run_page(conn: Connection, run_id: int, *, limit: int, offset: int = 0) -> Listing[TaskRunRecord]:
    """A page of a run's task runs in graph order, each mapped node's elements after it (as
    :func:`run_report` orders them), paged in the database. Raises NotFoundError."""
    run = runs.get_run(conn, run_id, result=False)
    order = list(task_order(run_graph(conn, run)))
    found = tasks.get_task_runs(conn, run_id, order=order, limit=limit, offset=offset)
    return Listing(items=found, total=tasks.count_task_runs(conn, run_id))


def try_page(
    conn: Connection, run_id: int, task_id: str, map_index: int | None, *, limit: int, offset: int = 0
) -> Listing[TryRecord]:
    """A page of the tries of a task (all its elements, or the one ``map_index``), without result
    bytes. Raises NotFoundError: no such run, or no such task in it."""
    runs.get_run(conn, run_id, result=False)
    if tasks.count_task_runs(conn, run_id, task_id) == 0:
        raise NotFoundError(f"run {run_id} has no task {task_id!r}")
    found = tasks.get_tries(conn, run_id, task_id, map_index, results=False, limit=limit, offset=offset)
    return Listing(items=found, total=tasks.count_tries(conn, run_id, task_id, map_index))


def event_page(conn: Connection, run_id: int, *, limit: int, offset: int = 0) -> Listing[EventRecord]:
    """A page of a run's state changes (its own and its task runs'), oldest first. Raises NotFoundError."""
    runs.get_run(conn, run_id, result=False)
    found = tasks.get_events(conn, run_id, limit=limit, offset=offset)
    return Listing(items=found, total=tasks.count_events(conn, run_id))


def audit_page(
    conn: Connection,
    *,
    action: str | None = None,
    target: str | None = None,
    actor: str | None = None,
    before: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Listing[AuditRecord]:
    """A page of audit rows, newest first; ``total`` counts the rows matching the filters (the
    ``before`` cursor aside)."""
    found = audit.entries(
        conn, action=action, target=target, actor=actor, before=before, limit=limit, offset=offset
    )
    return Listing(items=found, total=audit.count(conn, action=action, target=target, actor=actor))


def flow_summary_page(
    conn: Connection, now: datetime, *, tag: str | None = None, recent: int = 20, limit: int, offset: int = 0
) -> Listing[FlowSummary]:
    """A page of :func:`flow_summaries` (by name): the recent runs, counts and schedules are read
    for the flows of the page only."""
    records = flows.newest(conn, tag=tag)
    return Listing(items=_summaries(conn, records[offset : offset + limit], now, recent), total=len(records))


def driver_gone(conn: Connection, run: RunRecord, now: datetime) -> bool:
    """Whether ``run`` has not ended and was claimed by a driver whose lease has run out (the
    process died): ``weir runs resume`` (``POST /runs/{id}/resume``) takes it up."""
    if run.state not in runs.ACTIVE_STATES or run.owner is None:
        return False
    driver = owners.get(conn, run.owner)
    return driver is None or not driver.holds_lease(now)
