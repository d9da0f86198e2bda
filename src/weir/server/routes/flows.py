"""``/api/v1/flows``: list flows (by tag), their problems, show one (graph, source, params), trigger
a run, pause and unpause. Every flow registered is here, scheduled or not; nothing imports its code."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from weir.control import flows as flow_actions
from weir.control import reports
from weir.control import runs as run_actions
from weir.errors import ParamsError
from weir.server.deps import Ctx, FlowName, State, Tag, check_name
from weir.server.routes.runs import run_detail
from weir.server.schemas import (
    ErrorBody,
    FlowDetail,
    FlowList,
    FlowProblem,
    FlowProblems,
    FlowSummary,
    RunDetail,
    TriggerRequest,
    non_finite_path,
)
from weir.server.state import ServerState

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


@router.get("/flows", response_model=FlowList, summary="List flows")
def list_flows(state: State, tag: Tag = None) -> FlowList:
    """Every flow registered (its newest version), scheduled or not, with its tags, schedule, next
    run, pause state and 20 latest runs; only those tagged ``tag`` when given."""
    return FlowList(items=flow_summaries(state, tag=tag))


@router.get("/flows/errors", response_model=FlowProblems, summary="List problems with flows")
def list_flow_problems(state: State) -> FlowProblems:
    """Flow files that did not load when last read (``path``), and flows that cannot run as
    registered, such as one whose task names a pool that does not exist (``flow``)."""
    return FlowProblems(items=flow_problems(state))


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
    made = run_actions.trigger(ctx, name, params)
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
