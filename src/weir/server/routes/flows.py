"""``/api/v1/flows``: list flows (by tag), their problems, show one (graph, source, params), trigger
a run, pause and unpause, backfill past intervals and list the coming ones. Every flow registered is
here, scheduled or not; nothing imports its code."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from weir.control import backfill as plan
from weir.control import flows as flow_actions
from weir.control import reports
from weir.control import runs as run_actions
from weir.control.waiting import why_waiting
from weir.errors import BackfillError, ParamsError
from weir.server.deps import Ctx, FlowName, State, Tag, check_name
from weir.server.intervals import BackfillRequest, BackfillResult, ComingRuns
from weir.server.paging import DEFAULT_LIMIT, Limit, Offset, Page
from weir.server.routes.runs import run_detail
from weir.server.schemas import (
    ErrorBody,
    FlowDetail,
    FlowProblem,
    FlowSummary,
    RunDetail,
    TriggerRequest,
    non_finite_path,
)
from weir.server.state import ServerState
from weir.store import runs

router = APIRouter(tags=["flows"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "no such flow"}}


def flow_summaries(state: ServerState, *, tag: str | None = None, recent: int = 20) -> list[FlowSummary]:
    """Every flow (newest version, tagged ``tag`` if given) with its ``recent`` latest runs."""
    with state.store.read() as conn:
        found = reports.flow_summaries(conn, state.now(), tag=tag or None, recent=recent)
    return [FlowSummary.of(s) for s in found]


def flow_summary(state: ServerState, name: str) -> FlowSummary:
    check_name(name, "flow")
    with state.store.read() as conn:
        return FlowSummary.of(reports.flow_summary(conn, name, state.now()))


def flow_detail(state: ServerState, name: str) -> FlowDetail:
    """A flow's summary with its graph, params and schema (from its snapshot) and its source text."""
    check_name(name, "flow")
    with state.store.read() as conn:
        detail = reports.flow_detail(conn, name, state.now(), state.settings)
    return FlowDetail.of_detail(detail)


def flow_problems(state: ServerState) -> list[FlowProblem]:
    with state.store.read() as conn:
        return [FlowProblem.of(p) for p in reports.problems(conn)]


@router.get("/flows", response_model=Page[FlowSummary], summary="List flows")
def list_flows(
    state: State, tag: Tag = None, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> Page[FlowSummary]:
    """A page of the flows registered (each's newest version, by name), scheduled or not, with
    its tags, schedule, next run, pause state and 20 latest runs; only those tagged ``tag`` when given."""
    with state.store.read() as conn:
        found = reports.flow_summary_page(conn, state.now(), tag=tag or None, limit=limit, offset=offset)
    items = [FlowSummary.of(s) for s in found.items]
    return Page[FlowSummary].of(items, total=found.total, limit=limit, offset=offset)


@router.get("/flows/errors", response_model=Page[FlowProblem], summary="List problems with flows")
def list_flow_problems(state: State, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0) -> Page[FlowProblem]:
    """A page of the problems with flows: flow files that did not load when last read (``path``),
    and flows that cannot run as registered, such as one whose task names a pool that does not
    exist (``flow_name``)."""
    found = flow_problems(state)  # worked out from the files and pools, not a table: paged here
    return Page[FlowProblem].of(found[offset : offset + limit], total=len(found), limit=limit, offset=offset)


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
        409: {"model": ErrorBody, "description": "the stored flow version cannot be read"},
        422: {
            "model": ErrorBody,
            "description": "invalid params (each bad param named in fields), or a task's pool does not exist",
        },
    },
)
def trigger_run(
    name: FlowName,
    state: State,
    ctx: Ctx,
    body: Annotated[TriggerRequest | None, Body()] = None,
) -> RunDetail:
    """Create a queued run of the flow's newest version with ``params``, validated against its
    stored params schema (the flow's code is not loaded here).

    The run waits in ``queued`` until a scheduler (``weir server`` / ``weir scheduler``) drives it.
    """
    params = body.params if body is not None else {}
    check_name(name, "flow")
    bad = non_finite_path(params, "params")
    if bad:
        param = bad.removeprefix("params.")
        raise ParamsError(name, [(param, "not a finite number: NaN and infinities are not accepted")])
    made = run_actions.trigger(ctx, name, params, refuse_paused=True)
    return run_detail(state, made.run_id)


@router.post("/flows/{name}/pause", response_model=FlowSummary, responses=NOT_FOUND, summary="Pause")
def pause_flow(name: FlowName, state: State, ctx: Ctx) -> FlowSummary:
    """Stop the scheduler creating runs of this flow (runs already made go on)."""
    check_name(name, "flow")
    flow_actions.set_paused(ctx, name, True)
    return flow_summary(state, name)


@router.post("/flows/{name}/unpause", response_model=FlowSummary, responses=NOT_FOUND, summary="Unpause")
def unpause_flow(name: FlowName, state: State, ctx: Ctx) -> FlowSummary:
    """Let the scheduler create runs of this flow again (from now on, unless it catches up)."""
    check_name(name, "flow")
    flow_actions.set_paused(ctx, name, False)
    return flow_summary(state, name)


@router.post(
    "/flows/{name}/backfill",
    response_model=BackfillResult,
    summary="Backfill past intervals",
    responses={
        **NOT_FOUND,
        409: {
            "model": ErrorBody,
            "description": "the stored flow version cannot be read, or cannot run here",
        },
        422: {
            "model": ErrorBody,
            "description": "bad dates, start after end, no time schedule, no interval in the range has "
            "ended, invalid params, a task's pool does not exist, max_active below the flow's "
            "max_active_runs",
        },
    },
)
def backfill_flow(name: FlowName, body: BackfillRequest, state: State, ctx: Ctx) -> BackfillResult:
    """The runs of the past intervals of the flow's time schedule whose logical dates are in
    [start, end]: with ``dry_run``, what would be done with each interval (make a run, take up an
    unfinished one nobody drives, retry a failed one, skip); else that is done, in one action, and
    the runs are queued for a scheduler to drive (the API drives none).

    Runs have the scheduler's keys, so nothing is made twice. A paused flow is backfilled all the
    same; its runs wait until it is unpaused (``waiting`` says so).
    """
    check_name(name, "flow")
    with state.store.read() as conn:
        snapshot = flow_actions.get_snapshot(conn, name)
    first = plan.parse_date(body.start, field="start", snapshot=snapshot)
    last = plan.parse_date(body.end, field="end", snapshot=snapshot)
    intervals = plan.plan(snapshot, first, last, now=ctx.clock.now())
    if not intervals:
        raise BackfillError(
            f"no interval of flow {name!r} with a logical date from {first.isoformat()} to "
            f"{last.isoformat()} has ended yet, or the range lies outside its schedule",
            fields=[("start", "no interval of the schedule has ended in the range")],
        )
    spec = snapshot.schedule_spec
    most = spec.max_active_runs if spec is not None else 1
    if body.max_active is not None and body.max_active < most:
        raise BackfillError(
            f"max_active {body.max_active} is below the max_active_runs of flow {name!r} ({most}): the "
            f"schedulers drive up to {most} of its runs at once; to drive a backfill more slowly, run "
            f"`weir backfill {name} --max-active {body.max_active}`",
            fields=[("max_active", f"below the flow's max_active_runs ({most})")],
        )
    bad = non_finite_path(body.params, "params")
    if bad:
        raise ParamsError(name, [(bad.removeprefix("params."), "not a finite number")])
    snapshot.validate_params(body.params)  # refused before anything is written, dry run or not
    if body.dry_run:
        items = plan.dry_run(ctx, snapshot, intervals, rerun_failed=body.rerun_failed)
    else:
        items = plan.queue(ctx, snapshot, intervals, body.params, rerun_failed=body.rerun_failed)
    result = BackfillResult.of(name, items, dry_run=body.dry_run, max_active=most)
    if result.run_ids:
        with state.store.read() as conn:
            first_run = runs.get_run(conn, result.run_ids[0], result=False)
            result.waiting = why_waiting(conn, first_run, state.now())
    return result


@router.get("/flows/{name}/next", response_model=ComingRuns, responses=NOT_FOUND, summary="List coming runs")
def coming_runs(
    name: FlowName,
    state: State,
    count: Annotated[int, Query(ge=1, le=1000, description="how many fire times")] = 5,
) -> ComingRuns:
    """The flow's coming scheduled runs, soonest first: when each fires, its logical date and
    data interval (``weir flows next``). A flow with no time schedule has none (``note`` says why)."""
    check_name(name, "flow")
    with state.store.read() as conn:
        snapshot = flow_actions.get_snapshot(conn, name)
        return ComingRuns.of(plan.coming(conn, snapshot, state.now(), count))
