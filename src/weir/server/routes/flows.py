"""``/api/v1/flows``: list flows, show one (graph, source, params), trigger a run, pause and unpause."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from weir.errors import FlowLoadError, ParamsError
from weir.server import flowcode
from weir.server.app import ServerState
from weir.server.deps import FlowName, check_name, get_state
from weir.server.errors import ApiError, conflict, invalid, params_error
from weir.server.schemas import (
    ErrorBody,
    FlowDetail,
    FlowList,
    FlowSummary,
    ParamInfo,
    RunBrief,
    RunDetail,
    TriggerRequest,
    non_finite_path,
)
from weir.store import views
from weir.store.records import FlowRecord

router = APIRouter(tags=["flows"])
State = Annotated[ServerState, Depends(get_state)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "no such flow"}}


def _summary(
    record: FlowRecord,
    run_count: int,
    recent: list[views.RunBrief],
    schedule: views.ScheduleView | None,
    schedules_known: bool,
    state: ServerState,
) -> FlowSummary:
    briefs = [RunBrief(id=b.id, state=b.state, created_at=b.created_at) for b in recent]
    spec = schedule.schedule if schedule else None
    return FlowSummary(
        name=record.name,
        version=record.version,
        description=record.description,
        path=record.path,
        module=record.module,
        tasks=len(record.graph.get("nodes", [])) if isinstance(record.graph, dict) else 0,
        run_count=run_count,
        last_run=briefs[0] if briefs else None,
        recent_runs=briefs,
        schedule=flowcode.describe_schedule(spec),
        next_run_at=None
        if schedule is None or schedule.paused
        else flowcode.next_run(spec, schedule.next_fire, state.now()),
        paused=(schedule.paused if schedule else False) if schedules_known else None,
    )


def flow_summaries(state: ServerState, *, recent: int = 20) -> list[FlowSummary]:
    """Every flow with its run count, last run and ``recent`` latest runs, schedule and pause state."""
    with state.engine.connect() as conn:
        overviews = views.flow_overviews(conn, recent=recent)
        schedules = views.schedule_views(conn)
    return [
        _summary(
            o.flow,
            o.run_count,
            o.recent,
            (schedules or {}).get(o.flow.name),
            schedules is not None,
            state,
        )
        for o in overviews
    ]


def flow_summary(state: ServerState, name: str, *, recent: int = 20) -> FlowSummary:
    check_name(name, "flow")
    with state.engine.connect() as conn:
        record = views.get_flow(conn, name)
        count = views.flow_run_count(conn, name)
        grid = views.grid(conn, name, runs=recent)
        schedules = views.schedule_views(conn, [name])
    recent_runs = list(reversed(grid.runs))
    return _summary(record, count, recent_runs, (schedules or {}).get(name), schedules is not None, state)


def flow_detail(state: ServerState, name: str) -> FlowDetail:
    """A flow's summary with its graph, params (loaded from its code when possible) and source."""
    summary = flow_summary(state, name)
    with state.engine.connect() as conn:
        record = views.get_flow(conn, name)
    flow, load_error = flowcode.try_load(record)
    names = [str(p) for p in record.graph.get("params", [])] if isinstance(record.graph, dict) else []
    params, schema = flowcode.params_info(flow, names)
    return FlowDetail(
        **summary.model_dump(),
        graph=record.graph if isinstance(record.graph, dict) else {},
        params=[ParamInfo(**p) for p in params],
        params_schema=schema,
        source=flowcode.read_source(record),
        load_error=load_error,
    )


@router.get("/flows", response_model=FlowList, summary="List flows")
def list_flows(state: State) -> FlowList:
    """Every flow (its newest version) with schedule, next run, pause state and its 20 latest runs."""
    return FlowList(items=flow_summaries(state))


@router.get("/flows/{name}", response_model=FlowDetail, responses=NOT_FOUND, summary="Show a flow")
def get_flow(name: FlowName, state: State) -> FlowDetail:
    """A flow's graph (nodes, edges, policies), params with types and defaults, and source code."""
    return flow_detail(state, name)


@router.post(
    "/flows/{name}/runs",
    status_code=201,
    response_model=RunDetail,
    summary="Trigger a run",
    responses={
        **NOT_FOUND,
        409: {"model": ErrorBody, "description": "the flow's code cannot be loaded by the server"},
        422: {"model": ErrorBody, "description": "invalid params; each bad param is named in fields"},
    },
)
def trigger_run(
    name: FlowName,
    state: State,
    body: Annotated[TriggerRequest | None, Body()] = None,
) -> RunDetail:
    """Create a queued run of the flow with ``params``, validated against the flow's signature.

    The run waits in ``queued`` until a scheduler (``weir server`` / ``weir scheduler``) drives it.
    """
    from weir.runs import create_run
    from weir.server.routes.runs import run_detail

    params = body.params if body is not None else {}
    check_name(name, "flow")
    with state.engine.connect() as conn:
        record = views.get_flow(conn, name)
    bad = non_finite_path(params, "params")
    if bad:
        raise invalid(f"{bad}: NaN and infinite numbers are not accepted", [(bad, "not a finite number")])
    try:
        flow = flowcode.load_stored_flow(record)
    except FlowLoadError as exc:
        raise conflict(f"cannot load flow {name!r} to check its params: {exc}") from None
    try:
        _, run_id, _ = create_run(flow, params, settings=state.settings, trigger="manual")
    except ParamsError as exc:
        raise params_error(exc) from None
    return run_detail(state, run_id)


def _set_paused(state: ServerState, name: str, paused: bool) -> FlowSummary:
    from weir.store import queries
    from weir.store.db import write

    check_name(name, "flow")
    setter = getattr(queries, "set_paused", None)
    upsert = getattr(queries, "upsert_flow_state", None)
    with state.engine.connect() as conn:
        record = views.get_flow(conn, name)
        known = views.schedule_views(conn, [name])
    if setter is None or upsert is None or known is None:
        raise ApiError(
            501, "this store does not record pause state yet (it needs the scheduler's flow_state)"
        )
    now = state.now()
    current = known.get(name)
    catchup = bool(current and isinstance(current.schedule, dict) and current.schedule.get("catchup"))
    with write(state.engine) as conn:
        # Unpausing a flow without catchup starts its schedule from now: no flood of missed runs.
        if not setter(conn, name, paused, now, reset_fire=not paused and not catchup):
            upsert(conn, name=name, path=record.path, schedule=None, paused=paused, now=now)
    return flow_summary(state, name)


PAUSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    501: {"model": ErrorBody, "description": "the store does not record pause state"},
}


@router.post("/flows/{name}/pause", response_model=FlowSummary, responses=PAUSE_RESPONSES, summary="Pause")
def pause_flow(name: FlowName, state: State) -> FlowSummary:
    """Stop the scheduler creating runs of this flow (runs already made go on)."""
    return _set_paused(state, name, True)


@router.post(
    "/flows/{name}/unpause", response_model=FlowSummary, responses=PAUSE_RESPONSES, summary="Unpause"
)
def unpause_flow(name: FlowName, state: State) -> FlowSummary:
    """Let the scheduler create runs of this flow again."""
    return _set_paused(state, name, False)
