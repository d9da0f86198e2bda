"""The web UI: server-rendered pages at readable URLs, on the same reports as the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

import weir.server.layout as layout
from weir.control import backfill as plan
from weir.control import flows as flow_actions
from weir.control import reports
from weir.errors import NotFoundError, WeirError
from weir.io.logs import MAX_CHUNK
from weir.server.deps import MAX_ID, FlowName, RunId, State, Tag, TaskId, check_name
from weir.server.routes.admin import audit_page
from weir.server.routes.flows import flow_detail, flow_problems, flow_summaries
from weir.server.routes.logs import log_size, read_log, try_ended
from weir.server.routes.runs import RunState, pick, task_records
from weir.server.schemas import RunBrief
from weir.server.state import ServerState
from weir.states import RUN_TERMINAL, TaskState
from weir.store import pools, runs, tasks
from weir.store.records import TaskRunRecord, TryRecord

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
#: Bytes of a log shown when a task page opens; the rest is a request away.
LOG_TAIL = 256 * 1024
GRID_RUNS = 25
PAGE = 50
#: The coming runs a flow page lists.
COMING = 5
_FAILED = (TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED)


def _page(state: ServerState, request: Request, template: str, **context: Any) -> Response:
    return state.templates.TemplateResponse(request, template, context)


@router.get("/")
def flows_page(request: Request, state: State, tag: Tag = None) -> Response:
    return _page(
        state,
        request,
        "flows.html",
        flows=flow_summaries(state, tag=tag),
        problems=flow_problems(state),
        tag=tag or "",
        page="flows",
    )


@router.get("/flows/{name}")
def flow_page(
    request: Request,
    name: FlowName,
    state: State,
    run: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    detail = flow_detail(state, name)
    with state.store.read() as conn:
        grid = reports.grid(conn, name, runs_shown=GRID_RUNS)
        selected = run or (grid.runs[-1][0] if grid.runs else None)
        states: dict[str, TaskRunRecord] = {}
        selected_run = None
        if selected is not None:
            selected_run = runs.get_run(conn, selected, result=False)
            if selected_run.flow_name != name:
                raise NotFoundError(f"run {selected} is not a run of flow {name!r}")
            states = {r.task_id: r for r in tasks.get_task_runs(conn, selected) if r.map_index < 0}
        try:
            coming = plan.coming(conn, flow_actions.get_snapshot(conn, name), state.now(), COMING)
        except WeirError:  # a stored version this weir cannot read: the page says so elsewhere
            coming = None
    graph_layout = layout.layout_graph(detail.graph, states)
    task_ids = list(reports.task_order(detail.graph))
    for _run_id, task_id in grid.cells:
        if task_id not in task_ids:
            task_ids.append(task_id)
    return _page(
        state,
        request,
        "flow.html",
        flow=detail,
        layout=graph_layout,
        grid_runs=[RunBrief(id=i, state=s, created_at=at) for i, s, at in grid.runs],
        cells=grid.cells,
        task_ids=task_ids,
        selected_run=selected_run,
        coming=coming,
        page="flows",
    )


@router.get("/runs")
def runs_page(
    request: Request,
    state: State,
    flow: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_.\-]*$")] = None,
    run_state: Annotated[RunState | None, Query(alias="state")] = None,
    tag: Tag = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    with state.store.read() as conn:
        result = runs.list_runs(
            conn, flow=flow or None, state=run_state, tag=tag or None, before=before, limit=PAGE
        )
    next_before = result.runs[-1].id if len(result.runs) == PAGE else None
    return _page(
        state,
        request,
        "runs.html",
        runs=result.runs,
        total=result.total,
        flow=flow or "",
        run_state=run_state or "",
        tag=tag or "",
        next_before=next_before,
        page="runs",
    )


def _run_context(state: ServerState, run_id: int) -> dict[str, Any]:
    with state.store.read() as conn:
        report = reports.run_report(conn, run_id, now=state.now())
        driver_gone = reports.driver_gone(conn, report.run, state.now())
    parents = report.nodes
    elements: dict[str, dict[str, int]] = {}
    waiting: dict[str, int] = {}
    for r in report.task_runs:
        if r.map_index >= 0:
            counts = elements.setdefault(r.task_id, {})
            counts[r.state] = counts.get(r.state, 0) + 1
            if r.note:
                waiting[r.task_id] = waiting.get(r.task_id, 0) + 1
    tries_of: dict[str, int] = {}
    for t in report.tries:
        tries_of[t.task_id] = tries_of.get(t.task_id, 0) + 1
    return {
        "run": report.run,
        "run_waiting": report.waiting,
        "failed_callbacks": report.failed_callbacks,
        "active": report.run.state not in RUN_TERMINAL,
        "driver_gone": driver_gone,
        "task_runs": parents,
        "elements": elements,
        "waiting": waiting,
        "tries_of": tries_of,
        "layout": layout.layout_graph(report.graph, {r.task_id: r for r in parents}),
        "gantt": layout.gantt(report.tries, reports.task_order(report.graph), state.now()),
        "failed_tasks": [r.task_id for r in parents if r.state in _FAILED],
    }


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: RunId, state: State) -> Response:
    return _page(state, request, "run.html", page="runs", **_run_context(state, run_id))


@router.get("/runs/{run_id}/live")
def run_live(request: Request, run_id: RunId, state: State) -> Response:
    """The part of the run page that changes while the run runs (polled by the page)."""
    return _page(state, request, "_run_live.html", **_run_context(state, run_id))


def _log_lines(text: str) -> list[tuple[str, str]]:
    """Each log line with a class: ``err`` for errors and tracebacks, ``warn`` for warnings."""
    out = []
    in_traceback = False
    for line in text.splitlines():
        low = line.lower()
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
        if in_traceback or "error" in low or "exception" in low or "critical" in low:
            kind = "err"
        elif "warning" in low or "warn " in low:
            kind = "warn"
        else:
            kind = ""
        if in_traceback and line and not line.startswith((" ", "Traceback")):
            in_traceback = False  # the exception line ends a traceback
        out.append((line, kind))
    return out


@router.get("/runs/{run_id}/tasks/{task_id}")
def task_page(
    request: Request,
    run_id: RunId,
    task_id: TaskId,
    state: State,
    map_index: Annotated[int, Query(ge=-1, le=MAX_ID)] = -1,
    try_number: Annotated[int | None, Query(alias="try", ge=0, le=MAX_ID)] = None,
) -> Response:
    check_name(task_id, "task")
    records = task_records(state, run_id, task_id)
    record = pick(records, map_index)
    with state.store.read() as conn:
        run = runs.get_run(conn, run_id, result=False)
        tries = tasks.get_tries(conn, run_id, task_id, map_index, results=False)
    chosen: TryRecord | None = None
    if tries:
        chosen = tries[-1]
        if try_number is not None:
            chosen = next((t for t in tries if t.number == try_number), None)
            if chosen is None:
                raise NotFoundError(f"task {task_id!r} of run {run_id} has no try {try_number}")
    log_text, log_start, log_next, following = "", 0, 0, False
    if chosen is not None:
        ended = try_ended(chosen.state)
        start = max(log_size(state, chosen.log_path) - LOG_TAIL, 0)
        chunk = read_log(state, chosen.log_path, start, MAX_CHUNK, final=ended)
        log_text, log_start, log_next = chunk.text, chunk.offset, chunk.next_offset
        following = not ended
    return _page(
        state,
        request,
        "task.html",
        page="runs",
        run=run,
        record=record,
        elements=[r for r in records if r.map_index >= 0] if map_index < 0 else [],
        tries=tries,
        chosen=chosen,
        log_lines=_log_lines(log_text),
        log_start=log_start,
        log_next=log_next,
        following=following,
    )


@router.get("/problems")
def problems_page(request: Request, state: State) -> Response:
    """Flow files that did not load and flows that cannot run as registered (``weir flows errors``)."""
    return _page(state, request, "problems.html", problems=flow_problems(state), page="problems")


@router.get("/pools")
def pools_page(request: Request, state: State) -> Response:
    with state.store.read() as conn:
        found = pools.pools(conn)
    return _page(state, request, "pools.html", pools=found, page="pools")


@router.get("/audit")
def audit_log_page(
    request: Request,
    state: State,
    action: Annotated[str | None, Query(max_length=50, pattern=r"^[a-z_]*$")] = None,
    target: Annotated[str | None, Query(max_length=300, pattern=r"^[^\x00-\x1f]*$")] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    found = audit_page(state, action=action, target=target, before=before, limit=PAGE)
    return _page(
        state,
        request,
        "audit.html",
        entries=found.items,
        next_before=found.next_before,
        action=action or "",
        target=target or "",
        page="audit",
    )
