"""``/api/v1/runs``: list and show runs; cancel, retry and clear them; task runs, tries, logs and events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from weir.errors import NotFoundError, WeirError
from weir.server import logs
from weir.server.app import ServerState
from weir.server.deps import MAX_ID, MapIndex, RunId, TaskId, TryNumber, check_name, get_state
from weir.server.errors import conflict, invalid, not_found
from weir.server.schemas import (
    CancelResult,
    ClearRequest,
    ClearResult,
    ErrorBody,
    EventOut,
    LogChunk,
    RunDetail,
    RunPage,
    RunSummary,
    TaskRunDetail,
    TaskRunOut,
    TryOut,
)
from weir.states import RUN_TERMINAL
from weir.store import views
from weir.store.records import TaskRunRecord

router = APIRouter(tags=["runs"])
State = Annotated[ServerState, Depends(get_state)]
RunState = Literal["queued", "running", "success", "failed", "cancelled"]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "no such run"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "the run is not in a state that allows this"}
}
#: Seconds between reads of a log being followed.
FOLLOW_INTERVAL = 0.25


def task_order(graph: dict[str, Any]) -> dict[str, int]:
    """Each task id's position in the graph's topological order."""
    nodes = graph.get("nodes", []) if isinstance(graph, dict) else []
    return {n["task_id"]: i for i, n in enumerate(nodes) if isinstance(n, dict) and "task_id" in n}


def sort_task_runs(records: list[TaskRunRecord], graph: dict[str, Any]) -> list[TaskRunRecord]:
    order = task_order(graph)
    return sorted(records, key=lambda r: (order.get(r.task_id, len(order)), r.task_id, r.map_index))


def run_detail(state: ServerState, run_id: int) -> RunDetail:
    with state.engine.connect() as conn:
        run = views.get_run(conn, run_id)
        graph = views.flow_graph(conn, run.flow_name, run.flow_version)
        records = views.get_task_runs(conn, run_id)
    summary = RunSummary.of(run)
    return RunDetail(
        **summary.model_dump(),
        executor=run.executor,
        owner=run.owner,
        task_runs=[TaskRunOut.of(r) for r in sort_task_runs(records, graph)],
    )


@router.get("/runs", response_model=RunPage, summary="List runs")
def list_runs(
    state: State,
    flow: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_.\-]+$")] = None,
    run_state: Annotated[RunState | None, Query(alias="state")] = None,
    trigger: Annotated[str | None, Query(max_length=20, pattern=r"^[a-z_]+$")] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only runs with a smaller id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> RunPage:
    """Runs, newest first, filtered by flow, state and trigger.

    Page with ``offset``, or (faster on deep pages) with ``before=<next_before of the last page>``.
    """
    with state.engine.connect() as conn:
        page = views.list_runs(
            conn, flow=flow, state=run_state, trigger=trigger, before=before, limit=limit, offset=offset
        )
    items = [RunSummary.of(r) for r in page.runs]
    return RunPage(
        items=items,
        total=page.total,
        limit=limit,
        offset=offset,
        next_before=items[-1].id if len(items) == limit else None,
    )


@router.get("/runs/{run_id}", response_model=RunDetail, responses=NOT_FOUND, summary="Show a run")
def get_run(run_id: RunId, state: State) -> RunDetail:
    """A run with its params, trigger, reason, times and every task run (topological order)."""
    return run_detail(state, run_id)


@router.post(
    "/runs/{run_id}/cancel",
    status_code=202,
    response_model=CancelResult,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Cancel a run",
)
def cancel_run(run_id: RunId, state: State) -> CancelResult:
    """Cancel a queued or running run: its live driver is asked to stop, or it is cancelled in the store.

    A run that has already ended gives 409.
    """
    from weir.control import RunStateError, cancel_run

    try:
        outcome = cancel_run(run_id, state.settings)
    except RunStateError as exc:
        raise conflict(str(exc)) from None
    with state.engine.connect() as conn:
        run = views.get_run(conn, run_id)
    return CancelResult(run=RunSummary.of(run), requested=outcome.requested)


@router.post(
    "/runs/{run_id}/retry",
    response_model=ClearResult,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Retry a run",
)
def retry_run(run_id: RunId, state: State) -> ClearResult:
    """Clear the failed, cancelled and upstream-failed task runs of an ended run; the run is queued again.

    Succeeded task runs keep their results. The run waits in ``queued`` for a scheduler to drive it.
    """
    from weir.control import retry_run

    with state.engine.connect() as conn:
        run = views.get_run(conn, run_id)
    if run.state not in RUN_TERMINAL:
        raise conflict(f"run {run_id} is {run.state}; retry works on a run that has ended")
    try:
        cleared = retry_run(run_id, state.settings)
    except WeirError as exc:  # RunStateError, or the flow's code cannot be loaded / has changed
        raise conflict(str(exc)) from None
    with state.engine.connect() as conn:
        run = views.get_run(conn, run_id)
    return ClearResult(run=RunSummary.of(run), cleared=cleared)


@router.post(
    "/runs/{run_id}/clear",
    response_model=ClearResult,
    responses={
        **NOT_FOUND,
        **CONFLICT,
        422: {"model": ErrorBody, "description": "a task id that is not in the run"},
    },
    summary="Clear task runs",
)
def clear_run(run_id: RunId, body: ClearRequest, state: State) -> ClearResult:
    """Clear the chosen task runs (and those downstream/upstream, if asked) of an ended run to run again."""
    from weir.control import clear_run

    with state.engine.connect() as conn:
        run = views.get_run(conn, run_id)
        known = {r.task_id for r in views.get_task_runs(conn, run_id) if r.map_index < 0}
    unknown = [t for t in body.task_ids if t not in known]
    if unknown:
        names = ", ".join(repr(t[:200]) for t in unknown[:10])
        raise invalid(f"run {run_id} has no task {names}", [("task_ids", f"not in run {run_id}: {names}")])
    if run.state not in RUN_TERMINAL:
        raise conflict(f"run {run_id} is {run.state}; clear works on a run that has ended")
    try:
        cleared = clear_run(
            run_id, body.task_ids, state.settings, downstream=body.downstream, upstream=body.upstream
        )
    except NotFoundError as exc:
        raise invalid(str(exc), [("task_ids", str(exc))]) from None
    except WeirError as exc:
        raise conflict(str(exc)) from None
    with state.engine.connect() as conn:
        run = views.get_run(conn, run_id)
    return ClearResult(run=RunSummary.of(run), cleared=cleared)


@router.get(
    "/runs/{run_id}/tasks", response_model=list[TaskRunOut], responses=NOT_FOUND, summary="List task runs"
)
def list_task_runs(run_id: RunId, state: State) -> list[TaskRunOut]:
    """Every task run of the run, mapped elements after their node, in topological order."""
    return run_detail(state, run_id).task_runs


def _task_records(state: ServerState, run_id: int, task_id: str) -> list[TaskRunRecord]:
    check_name(task_id, "task")
    with state.engine.connect() as conn:
        views.get_run(conn, run_id)
        records = views.get_task_runs(conn, run_id, task_id)
    if not records:
        raise not_found(f"run {run_id} has no task {task_id!r}")
    return records


@router.get(
    "/runs/{run_id}/tasks/{task_id}",
    response_model=TaskRunDetail,
    responses=NOT_FOUND,
    summary="Show a task run",
)
def get_task_run(run_id: RunId, task_id: TaskId, state: State, map_index: MapIndex = -1) -> TaskRunDetail:
    """One task run with its tries; for a mapped node's summary (map_index -1), its elements too."""
    records = _task_records(state, run_id, task_id)
    chosen = next((r for r in records if r.map_index == map_index), None)
    if chosen is None:
        raise not_found(f"task {task_id!r} of run {run_id} has no element {map_index}")
    with state.engine.connect() as conn:
        tries = views.get_tries(conn, run_id, task_id, map_index)
    elements = [TaskRunOut.of(r) for r in records if r.map_index >= 0] if map_index < 0 else []
    return TaskRunDetail(
        **TaskRunOut.of(chosen).model_dump(), tries=[TryOut.of(t) for t in tries], elements=elements
    )


@router.get(
    "/runs/{run_id}/tasks/{task_id}/tries",
    response_model=list[TryOut],
    responses=NOT_FOUND,
    summary="List tries",
)
def list_tries(
    run_id: RunId,
    task_id: TaskId,
    state: State,
    map_index: Annotated[int | None, Query(ge=-1, le=MAX_ID, description="only this element")] = None,
) -> list[TryOut]:
    """Tries of a task (all its elements unless ``map_index`` is given), with errors and tracebacks."""
    _task_records(state, run_id, task_id)
    with state.engine.connect() as conn:
        tries = views.get_tries(conn, run_id, task_id, map_index)
    return [TryOut.of(t) for t in tries]


@router.get(
    "/runs/{run_id}/tasks/{task_id}/tries/{number}",
    response_model=TryOut,
    responses=NOT_FOUND,
    summary="Show a try",
)
def get_try(
    run_id: RunId, task_id: TaskId, number: TryNumber, state: State, map_index: MapIndex = -1
) -> TryOut:
    check_name(task_id, "task")
    with state.engine.connect() as conn:
        views.get_run(conn, run_id)
        return TryOut.of(views.get_try(conn, run_id, task_id, map_index, number))


def _chunk(
    state: ServerState, run_id: int, task_id: str, map_index: int, number: int, offset: int, limit: int
) -> LogChunk:
    with state.engine.connect() as conn:
        views.get_run(conn, run_id)
        t = views.get_try(conn, run_id, task_id, map_index, number)
    ended = t.state not in ("queued", "running")
    path = logs.safe_log_path(state.settings.logs_dir, t.log_path)
    chunk = logs.read_chunk(path, offset, limit, final=ended)
    return LogChunk(
        run_id=run_id,
        task_id=task_id,
        map_index=map_index,
        try_number=number,
        offset=chunk.offset,
        next_offset=chunk.next_offset,
        size=chunk.size,
        text=chunk.text,
        complete=ended and chunk.next_offset >= chunk.size,
    )


@router.get(
    "/runs/{run_id}/tasks/{task_id}/tries/{number}/log",
    response_model=LogChunk,
    responses={
        **NOT_FOUND,
        200: {
            "description": "a chunk of the log (JSON), or with follow=true a stream of Server-Sent Events",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
    summary="Read a try's log",
)
def get_log(
    run_id: RunId,
    task_id: TaskId,
    number: TryNumber,
    state: State,
    request: Request,
    map_index: MapIndex = -1,
    offset: Annotated[int, Query(ge=0, le=2**62, description="byte offset to start from")] = 0,
    limit: Annotated[
        int, Query(ge=1, le=logs.MAX_CHUNK, description="most bytes to return")
    ] = logs.MAX_CHUNK,
    follow: Annotated[bool, Query(description="stream as Server-Sent Events until the try ends")] = False,
) -> Any:
    """The try's log from byte ``offset``; ``next_offset`` is where to continue.

    With ``follow=true`` the answer is an event stream: ``log`` events (JSON chunks) as lines are
    written, then one ``end`` event when the try has ended and everything was sent. Only files
    under the log root (``$WEIR_HOME/logs``) are ever read.
    """
    check_name(task_id, "task")
    first = _chunk(state, run_id, task_id, map_index, number, offset, limit)
    if not follow:
        return first
    return StreamingResponse(
        _follow(state, request, first, limit),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _follow(state: ServerState, request: Request, chunk: LogChunk, limit: int) -> AsyncIterator[str]:
    from starlette.concurrency import run_in_threadpool

    yield "retry: 2000\n\n"
    while True:
        if chunk.text:
            yield f"event: log\nid: {chunk.next_offset}\ndata: {chunk.model_dump_json()}\n\n"
        if chunk.complete:
            yield f"event: end\ndata: {json.dumps({'next_offset': chunk.next_offset})}\n\n"
            return
        if chunk.next_offset >= chunk.size:  # caught up: wait for more
            if await request.is_disconnected():
                return
            await asyncio.sleep(FOLLOW_INTERVAL)
        try:
            chunk = await run_in_threadpool(
                _chunk,
                state,
                chunk.run_id,
                chunk.task_id,
                chunk.map_index,
                chunk.try_number,
                chunk.next_offset,
                limit,
            )
        except Exception:
            yield "event: end\ndata: {}\n\n"
            return


@router.get(
    "/runs/{run_id}/events", response_model=list[EventOut], responses=NOT_FOUND, summary="List a run's events"
)
def list_events(
    run_id: RunId,
    state: State,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[EventOut]:
    """Every state change of the run and its task runs, oldest first."""
    with state.engine.connect() as conn:
        views.get_run(conn, run_id)
        return [EventOut.of(e) for e in views.get_events(conn, run_id, limit=limit)]
