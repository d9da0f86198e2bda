"""The web UI: server-rendered pages at readable URLs, on the same reads as the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from weir.server import layout, logs
from weir.server.app import ServerState
from weir.server.deps import MAX_ID, FlowName, RunId, TaskId, check_name, get_state
from weir.server.errors import not_found
from weir.server.routes.flows import flow_detail, flow_summaries
from weir.server.routes.runs import RunState, sort_task_runs, task_order
from weir.states import RUN_TERMINAL
from weir.store import views
from weir.store.records import TaskRunRecord, TryRecord

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
State = Annotated[ServerState, Depends(get_state)]
#: Bytes of a log shown when a task page opens; the rest is a request away.
LOG_TAIL = 256 * 1024
GRID_RUNS = 25


def _page(state: ServerState, request: Request, template: str, **context: Any) -> Response:
    return state.templates.TemplateResponse(request, template, context)


@router.get("/")
def flows_page(request: Request, state: State) -> Response:
    summaries = flow_summaries(state)
    with state.engine.connect() as conn:
        file_errors = views.flow_file_errors(conn)
    return _page(state, request, "flows.html", flows=summaries, file_errors=file_errors, page="flows")


@router.get("/flows/{name}")
def flow_page(
    request: Request,
    name: FlowName,
    state: State,
    run: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    detail = flow_detail(state, name)
    with state.engine.connect() as conn:
        grid = views.grid(conn, name, runs=GRID_RUNS)
        selected = run or (grid.runs[-1].id if grid.runs else None)
        states: dict[str, TaskRunRecord] = {}
        selected_run = None
        if selected is not None:
            selected_run = views.get_run(conn, selected)
            if selected_run.flow_name != name:
                raise not_found(f"run {selected} is not a run of flow {name!r}")
            states = {r.task_id: r for r in views.get_task_runs(conn, selected) if r.map_index < 0}
    graph_layout = layout.layout_graph(detail.graph, states)
    task_ids = list(task_order(detail.graph))
    for _run_id, task_id in grid.cells:
        if task_id not in task_ids:
            task_ids.append(task_id)
    return _page(
        state,
        request,
        "flow.html",
        flow=detail,
        layout=graph_layout,
        grid=grid,
        task_ids=task_ids,
        selected_run=selected_run,
        page="flows",
    )


@router.get("/runs")
def runs_page(
    request: Request,
    state: State,
    flow: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_.\-]*$")] = None,
    run_state: Annotated[RunState | None, Query(alias="state")] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    with state.engine.connect() as conn:
        result = views.list_runs(conn, flow=flow or None, state=run_state, before=before, limit=50)
    next_before = result.runs[-1].id if len(result.runs) == 50 else None
    return _page(
        state,
        request,
        "runs.html",
        runs=result.runs,
        total=result.total,
        flow=flow or "",
        run_state=run_state or "",
        next_before=next_before,
        page="runs",
    )


def _run_context(state: ServerState, run_id: int) -> dict[str, Any]:
    with state.engine.connect() as conn:
        view = views.run_view(conn, run_id)
    now = state.now()
    parents = [r for r in sort_task_runs(view.task_runs, view.graph) if r.map_index < 0]
    elements: dict[str, dict[str, int]] = {}
    for r in view.task_runs:
        if r.map_index >= 0:
            counts = elements.setdefault(r.task_id, {})
            counts[r.state] = counts.get(r.state, 0) + 1
    tries_of: dict[str, int] = {}
    for t in view.tries:
        tries_of[t.task_id] = tries_of.get(t.task_id, 0) + 1
    states = {r.task_id: r for r in parents}
    return {
        "run": view.run,
        "active": view.run.state not in RUN_TERMINAL,
        "task_runs": parents,
        "elements": elements,
        "tries_of": tries_of,
        "layout": layout.layout_graph(view.graph, states),
        "gantt": layout.gantt(view.tries, task_order(view.graph), now),
        "failed_tasks": [r.task_id for r in parents if r.state in ("failed", "upstream_failed", "cancelled")],
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
    with state.engine.connect() as conn:
        run = views.get_run(conn, run_id)
        records = views.get_task_runs(conn, run_id, task_id)
        if not records:
            raise not_found(f"run {run_id} has no task {task_id!r}")
        record = next((r for r in records if r.map_index == map_index), None)
        if record is None:
            raise not_found(f"task {task_id!r} of run {run_id} has no element {map_index}")
        tries = views.get_tries(conn, run_id, task_id, map_index)
    chosen: TryRecord | None = None
    if tries:
        chosen = tries[-1]
        if try_number is not None:
            chosen = next((t for t in tries if t.number == try_number), None)
            if chosen is None:
                raise not_found(f"task {task_id!r} of run {run_id} has no try {try_number}")
    log_text, log_start, log_next, log_size, following = "", 0, 0, 0, False
    if chosen is not None:
        path = logs.safe_log_path(state.settings.logs_dir, chosen.log_path)
        ended = chosen.state not in ("queued", "running")
        size = path.stat().st_size if path is not None and path.is_file() else 0
        start = max(size - LOG_TAIL, 0)
        chunk = logs.read_chunk(path, start, logs.MAX_CHUNK, final=ended)
        log_text, log_start, log_next, log_size = chunk.text, chunk.offset, chunk.next_offset, chunk.size
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
        log_size=log_size,
        following=following,
    )
