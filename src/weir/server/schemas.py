"""The HTTP shapes of the API: pydantic models, built from store records at the edge."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from weir.control import reports
from weir.control.pools import MAX_SLOTS
from weir.graph.snapshot import ParamSpec
from weir.server.paging import Page
from weir.store.records import AuditRecord, EventRecord, PoolRecord, RunRecord, TaskRunRecord, TryRecord


class FieldProblem(BaseModel):
    """One invalid field: where it is, and what is wrong with it."""

    field: str
    reason: str


class ErrorBody(BaseModel):
    """Every error response: a code (``not_found``, ``invalid``, ``conflict``, ...), a message, fields."""

    error: str
    detail: str
    fields: list[FieldProblem] = []


class RunBrief(BaseModel):
    id: int
    state: str
    created_at: datetime


class RunSummary(BaseModel):
    id: int
    flow_name: str
    flow_version: str
    state: str
    trigger: str
    params: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration: float | None = Field(description="seconds from start to end, once ended")
    reason: str | None
    logical_date: datetime | None
    cancel_requested: bool

    @classmethod
    def of(cls, run: RunRecord) -> RunSummary:
        return cls(
            id=run.id,
            flow_name=run.flow_name,
            flow_version=run.flow_version,
            state=run.state,
            trigger=run.trigger,
            params=finite(run.params) if isinstance(run.params, dict) else {},
            created_at=run.created_at,
            started_at=run.started_at,
            ended_at=run.ended_at,
            duration=run.duration,
            reason=run.reason,
            logical_date=run.logical_date,
            cancel_requested=run.cancel_requested,
        )


class RunPage(Page[RunSummary]):
    """A page of runs, newest first; ``total`` counts the runs matching the filters. Ask for the
    next page with ``offset=<next_offset>``, or (faster on deep pages) ``before=<next_before>``."""

    next_before: int | None = Field(description="the `before` of the next page; null on the last page")


class TaskRunOut(BaseModel):
    task_id: str
    map_index: int = Field(description="-1 for a plain node or a mapped node's summary; 0.. for elements")
    label: str
    state: str
    try_number: int
    max_tries: int
    map_count: int | None
    started_at: datetime | None
    ended_at: datetime | None
    duration: float | None
    pool: str | None = Field(default=None, description="the pool the task takes a slot of, if any")
    note: str | None = Field(
        default=None, description="why the task run waits (for a slot of a pool, ...); None when it does not"
    )

    @classmethod
    def of(cls, record: TaskRunRecord) -> TaskRunOut:
        return cls(
            task_id=record.task_id,
            map_index=record.map_index,
            label=record.label,
            state=record.state,
            try_number=record.try_number,
            max_tries=record.max_tries,
            map_count=record.map_count,
            started_at=record.started_at,
            ended_at=record.ended_at,
            duration=record.duration,
            pool=record.pool,
            note=record.note,
        )


class CallbackCallOut(BaseModel):
    """One call of a task's or the flow's callbacks (notifiers, functions) for one event."""

    task_id: str | None = Field(description="the task whose callbacks were called; null for the flow's")
    map_index: int
    try_number: int
    event: str = Field(description="success, failure or retry")
    ok: bool = Field(description="false when a notification could not be delivered or a callback raised")
    error: str | None
    log: str | None = Field(description="the call's own log, in the log store")
    at: datetime


class RunDetail(RunSummary):
    executor: str | None
    owner: str | None
    waiting: str | None = Field(
        default=None,
        description="why no scheduler drives the run yet (a paused flow, no scheduler running, ...)",
    )
    task_runs: list[TaskRunOut]
    callbacks: list[CallbackCallOut] = Field(
        default=[], description="each call of callbacks, oldest first; a failed one has ok false"
    )


class TryOut(BaseModel):
    run_id: int
    task_id: str
    map_index: int
    number: int
    state: str
    started_at: datetime | None
    ended_at: datetime | None
    duration: float | None
    error: str | None
    traceback: str | None
    worker: str | None
    has_log: bool
    result_size: int | None

    @classmethod
    def of(cls, t: TryRecord) -> TryOut:
        duration = (t.ended_at - t.started_at).total_seconds() if t.started_at and t.ended_at else None
        return cls(
            run_id=t.run_id,
            task_id=t.task_id,
            map_index=t.map_index,
            number=t.number,
            state=t.state,
            started_at=t.started_at,
            ended_at=t.ended_at,
            duration=duration,
            error=t.error,
            traceback=t.traceback,
            worker=t.worker,
            has_log=bool(t.log_path),
            result_size=t.result_size,
        )


class TaskRunDetail(TaskRunOut):
    """A task run with its tries; a mapped node's summary also lists its elements."""

    tries: list[TryOut]
    elements: list[TaskRunOut]


class LogChunk(BaseModel):
    """Bytes ``[offset, next_offset)`` of a try's log, decoded as UTF-8.

    ``next_offset`` never splits a character: ask again from it for what comes next.
    """

    run_id: int
    task_id: str
    map_index: int
    try_number: int
    offset: int
    next_offset: int
    size: int = Field(description="the log file's size in bytes when read")
    text: str
    complete: bool = Field(description="the try has ended and the whole file has been read")


class EventOut(BaseModel):
    task_id: str | None
    map_index: int | None
    from_state: str | None
    to_state: str
    at: datetime
    reason: str | None

    @classmethod
    def of(cls, e: EventRecord) -> EventOut:
        return cls(
            task_id=e.task_id,
            map_index=e.map_index,
            from_state=e.from_state,
            to_state=e.to_state,
            at=e.at,
            reason=e.reason,
        )


class ParamInfo(BaseModel):
    name: str
    type: str | None = None
    required: bool = False
    default: Any = None

    @classmethod
    def of(cls, spec: ParamSpec) -> ParamInfo:
        return cls(name=spec.name, type=spec.type, required=spec.required, default=finite(spec.default))


class FlowSummary(BaseModel):
    name: str
    version: str
    description: str | None
    tags: list[str] = Field(description="the flow's tags, sorted")
    path: str | None
    module: str | None
    tasks: int
    run_count: int
    last_run: RunBrief | None
    recent_runs: list[RunBrief] = Field(description="newest first")
    schedule: str | None
    next_run_at: datetime | None
    paused: bool | None = Field(description="whether the scheduler makes no runs of the flow")

    @classmethod
    def of(cls, summary: reports.FlowSummary) -> FlowSummary:
        record = summary.record
        briefs = [RunBrief(id=i, state=state, created_at=at) for i, state, at in summary.recent]
        return cls(
            name=record.name,
            version=record.version,
            description=record.description,
            tags=summary.tags,
            path=record.path,
            module=record.module,
            tasks=summary.tasks,
            run_count=summary.run_count,
            last_run=briefs[0] if briefs else None,
            recent_runs=briefs,
            schedule=summary.schedule,
            next_run_at=summary.next_run_at,
            paused=summary.paused,
        )


class FlowDetail(FlowSummary):
    graph: dict[str, Any]
    params: list[ParamInfo]
    params_schema: dict[str, Any] | None = Field(description="JSON schema of the params")
    source: str | None = Field(description="the text of the flow's file, when the server can read it")
    load_error: str | None = Field(description="why the stored flow version cannot be read, if it cannot")

    @classmethod
    def of_detail(cls, detail: reports.FlowDetail) -> FlowDetail:
        return cls(
            **FlowSummary.of(detail.summary).model_dump(),
            graph=finite(detail.graph),
            params=[ParamInfo.of(p) for p in detail.params],
            params_schema=finite(detail.params_schema),
            source=detail.source,
            load_error=detail.load_error,
        )


class FlowProblem(BaseModel):
    """A flow file that did not load, or a flow that cannot run as stored (it names a missing pool)."""

    where: str = Field(description="the file's path, or `flow NAME`")
    path: str | None = Field(description="the flow file at fault, if a file")
    flow_name: str | None = Field(description="the flow at fault, if a flow")
    error: str
    at: datetime | None = Field(description="when the file was last read")

    @classmethod
    def of(cls, problem: reports.Problem) -> FlowProblem:
        return cls(**problem.as_json())


class TriggerRequest(BaseModel):
    """Params for a new run; validated against the stored flow version's params schema."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = {}


class ClearRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_ids: list[str] = Field(min_length=1, max_length=1000)
    downstream: bool = False
    upstream: bool = False


class CancelResult(BaseModel):
    run: RunSummary
    requested: bool = Field(
        description="True: the run's live driver was asked to stop; False: it was cancelled in the store"
    )


class ClearResult(BaseModel):
    run: RunSummary
    cleared: list[str]


class ResumeResult(BaseModel):
    """A run taken from its dead driver, queued for a scheduler to take up."""

    run: RunSummary
    released_from: str | None = Field(description="the driver whose lease had run out; null if none had it")
    waiting: str | None = Field(description="why no scheduler takes it up yet (no scheduler running, ...)")


class PoolOut(BaseModel):
    """A pool: its slots, how many are taken (tries queued or running in it), how many are free."""

    name: str
    slots: int
    description: str | None
    used: int
    free: int
    updated_at: datetime

    @classmethod
    def of(cls, pool: PoolRecord) -> PoolOut:
        return cls(
            name=pool.name,
            slots=pool.slots,
            description=pool.description,
            used=pool.used,
            free=pool.free,
            updated_at=pool.updated_at,
        )


class PoolRequest(BaseModel):
    """A pool's size (0 holds every task in it until raised) and, optionally, what it is for."""

    model_config = ConfigDict(extra="forbid")

    slots: int = Field(ge=0, le=MAX_SLOTS)
    description: str | None = Field(default=None, max_length=2000, description="None keeps the current one")


class AuditEntry(BaseModel):
    """One action taken: who, through what (cli, api, ui, scheduler, python), what, on what, when."""

    id: int
    at: datetime
    actor: str
    via: str
    action: str
    target: str
    detail: dict[str, Any] | None

    @classmethod
    def of(cls, record: AuditRecord) -> AuditEntry:
        return cls(
            id=record.id,
            at=record.at,
            actor=record.actor,
            via=record.via,
            action=record.action,
            target=record.target,
            detail=finite(record.detail) if isinstance(record.detail, dict) else None,
        )


class AuditPage(Page[AuditEntry]):
    """Audit rows, newest first; ``total`` counts the rows matching the filters. Ask for the next
    page with ``offset=<next_offset>``, or ``before=<next_before>``."""

    next_before: int | None = Field(description="the `before` of the next page; null on the last page")


class StoreHealth(BaseModel):
    reachable: bool
    error: str | None = None


class DriverHealth(BaseModel):
    id: str
    kind: str
    host: str
    pid: int
    heartbeat_at: datetime
    age_seconds: float
    lease_expires_at: datetime | None = None
    alive: bool = Field(default=False, description="the driver holds its lease (its runs are its own)")


class Health(BaseModel):
    status: str = Field(
        description="ok; or degraded when the store does not answer or the newest scheduler heartbeat is "
        "older than the lease (see problems)"
    )
    store: StoreHealth
    scheduler_heartbeat_age: float | None = Field(
        description="seconds since a scheduler last beat; None when none has beaten in the last hour"
    )
    problems: list[str] = Field(default=[], description="why the status is degraded, one sentence each")
    drivers: list[DriverHealth] = Field(description="the drivers holding a lease now, at most 20")


class EventRequest(BaseModel):
    """A named event: its payload becomes the params of a run of each flow that listens to it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the event's name, as in `weir.on_event(name)`")
    payload: dict[str, Any] = Field(default={}, description="a JSON object: the params of the runs")
    id: str | None = Field(
        default=None, description="the event's id (default: a new one); an id sent again starts nothing new"
    )


class EventSent(BaseModel):
    id: str = Field(description="the event's id")
    name: str
    run_ids: list[int] = Field(description="the runs this request created (queued), one per listening flow")
    existing_run_ids: list[int] = Field(description="runs an earlier send of this id had created")
    already_received: bool = Field(description="the store had this event id already")
    paused: list[str] = Field(description="listening flows skipped because they are paused")


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by strings: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def non_finite_path(value: Any, path: str) -> str | None:
    """The path of the first NaN or infinity inside ``value``, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        for k, v in value.items():
            found = non_finite_path(v, f"{path}.{k}")
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = non_finite_path(v, f"{path}.{i}")
            if found:
                return found
    return None
