"""``/api/v1/runs``: list and show runs; cancel, retry, clear and resume them; task runs, tries and
events. Every list is paged (``limit``, ``offset``; :class:`~weir.server.paging.Page`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from weir.control import reports
from weir.control import runs as run_actions
from weir.control.waiting import why_waiting
from weir.errors import NotFoundError
from weir.server.deps import MAX_ID, Ctx, MapIndex, RunId, State, Tag, TaskId, TryNumber, check_name
from weir.server.paging import DEFAULT_LIMIT, Limit, Offset, Page
from weir.server.schemas import (
    CallbackCallOut,
    CancelResult,
    ClearRequest,
    ClearResult,
    ErrorBody,
    EventOut,
    ResumeResult,
    RunDetail,
    RunPage,
    RunSummary,
    TaskRunDetail,
    TaskRunOut,
    TryOut,
)
from weir.server.state import ServerState
from weir.store import runs, tasks
from weir.store.records import TaskRunRecord

router = APIRouter(tags=["runs"])
RunState = Literal["queued", "running", "success", "failed", "cancelled"]
FlowFilter = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_.\-]+$")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "no such run"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "the run is not in a state that allows this"}
}


def run_detail(state: ServerState, run_id: int) -> RunDetail:
    """A run and its task runs (topological order), as :func:`weir.control.reports.run_report` has them."""
    with state.store.read() as conn:
        report = reports.run_report(conn, run_id, with_tries=False, now=state.now())
    return RunDetail(
        **RunSummary.of(report.run).model_dump(),
        executor=report.run.executor,
        owner=report.run.owner,
        waiting=report.waiting,
        task_runs=[TaskRunOut.of(r) for r in report.task_runs],
        callbacks=[
            CallbackCallOut(
                task_id=c.task_id,
                map_index=c.map_index,
                try_number=c.try_number,
                event=c.event,
                ok=c.ok,
                error=c.error,
                log=c.log_key,
                at=c.at,
            )
            for c in report.callbacks
        ],
    )


def _summary(state: ServerState, run_id: int) -> RunSummary:
    with state.store.read() as conn:
        return RunSummary.of(runs.get_run(conn, run_id, result=False))


@router.get("/runs", response_model=RunPage, summary="List runs")
def list_runs(
    state: State,
    flow: FlowFilter = None,
    run_state: Annotated[RunState | None, Query(alias="state")] = None,
    trigger: Annotated[str | None, Query(max_length=20, pattern=r"^[a-z_]+$")] = None,
    tag: Tag = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only runs with a smaller id")] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> RunPage:
    """Runs, newest first, filtered by flow, state, trigger and the tags of their flows.

    Page with ``offset=<next_offset>``, or (faster on deep pages) ``before=<next_before>``.
    """
    with state.store.read() as conn:
        page = runs.list_runs(
            conn,
            flow=flow,
            state=run_state,
            trigger=trigger,
            tag=tag or None,
            before=before,
            limit=limit + 1,  # one more than asked: whether a next page exists, whatever the cursor
            offset=offset,
        )
    more = len(page.runs) > limit
    items = [RunSummary.of(r) for r in page.runs[:limit]]
    return RunPage(
        items=items,
        total=page.total,
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
        next_before=items[-1].id if more else None,
    )


@router.get("/runs/{run_id}", response_model=RunDetail, responses=NOT_FOUND, summary="Show a run")
def get_run(run_id: RunId, state: State) -> RunDetail:
    """A run with its params, trigger, reason, times and every task run (topological order), each
    with its ``note`` when it waits (for a slot of a pool, ...)."""
    return run_detail(state, run_id)


@router.post(
    "/runs/{run_id}/cancel",
    status_code=202,
    response_model=CancelResult,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Cancel a run",
)
def cancel_run(run_id: RunId, state: State, ctx: Ctx) -> CancelResult:
    """Cancel a queued or running run: its live driver is asked to stop, or it is cancelled in the store.

    A run that has already ended gives 409.
    """
    outcome = run_actions.cancel(ctx, run_id)
    return CancelResult(run=_summary(state, run_id), requested=outcome.requested)


@router.post(
    "/runs/{run_id}/retry",
    response_model=ClearResult,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Retry a run",
)
def retry_run(run_id: RunId, state: State, ctx: Ctx) -> ClearResult:
    """Clear the failed, cancelled and upstream-failed task runs of an ended run; the run is queued again.

    Succeeded task runs keep their results. The run waits in ``queued`` for a scheduler to drive it.
    """
    cleared = run_actions.retry(ctx, run_id)
    return ClearResult(run=_summary(state, run_id), cleared=cleared)


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
def clear_run(run_id: RunId, body: ClearRequest, state: State, ctx: Ctx) -> ClearResult:
    """Clear the chosen task runs (and those downstream/upstream, if asked) of an ended run to run again."""
    cleared = run_actions.clear(
        ctx, run_id, body.task_ids, downstream=body.downstream, upstream=body.upstream
    )
    return ClearResult(run=_summary(state, run_id), cleared=cleared)


@router.post(
    "/runs/{run_id}/resume",
    response_model=ResumeResult,
    responses={
        **NOT_FOUND,
        409: {"model": ErrorBody, "description": "the run has ended, or its driver is alive (the reason)"},
    },
    summary="Resume a run whose driver died",
)
def resume_run(run_id: RunId, state: State, ctx: Ctx) -> ResumeResult:
    """Take an unfinished run from its driver whose lease has run out (its process died), for a
    scheduler to take up: task runs that succeeded are not run again. The API drives nothing.

    A run that has ended, or whose driver still holds its lease, gives 409 saying so.
    """
    before = run_actions.release(ctx, run_id)
    with state.store.read() as conn:
        run = runs.get_run(conn, run_id, result=False)
        waiting = why_waiting(conn, run, state.now())
    return ResumeResult(run=RunSummary.of(run), released_from=before.owner, waiting=waiting)


@router.get(
    "/runs/{run_id}/tasks", response_model=Page[TaskRunOut], responses=NOT_FOUND, summary="List task runs"
)
def list_task_runs(
    run_id: RunId, state: State, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> Page[TaskRunOut]:
    """A page of the run's task runs in topological order, each mapped node's elements after it."""
    with state.store.read() as conn:
        found = reports.task_run_page(conn, run_id, limit=limit, offset=offset)
    items = [TaskRunOut.of(r) for r in found.items]
    return Page[TaskRunOut].of(items, total=found.total, limit=limit, offset=offset)


def task_records(state: ServerState, run_id: int, task_id: str) -> list[TaskRunRecord]:
    """A task's node and elements in a run; NotFoundError when the run or the task is not there."""
    check_name(task_id, "task")
    with state.store.read() as conn:
        runs.get_run(conn, run_id, result=False)
        records = tasks.get_task_runs(conn, run_id, task_id)
    if not records:
        raise NotFoundError(f"run {run_id} has no task {task_id!r}")
    return records


def pick(records: list[TaskRunRecord], map_index: int) -> TaskRunRecord:
    """The task run with ``map_index`` among a task's records; NotFoundError when there is none."""
    chosen = next((r for r in records if r.map_index == map_index), None)
    if chosen is None:
        first = records[0]
        raise NotFoundError(f"task {first.task_id!r} of run {first.run_id} has no element {map_index}")
    return chosen


@router.get(
    "/runs/{run_id}/tasks/{task_id}",
    response_model=TaskRunDetail,
    responses=NOT_FOUND,
    summary="Show a task run",
)
def get_task_run(run_id: RunId, task_id: TaskId, state: State, map_index: MapIndex = -1) -> TaskRunDetail:
    """One task run with its tries; for a mapped node's summary (map_index -1), its elements too."""
    records = task_records(state, run_id, task_id)
    chosen = pick(records, map_index)
    with state.store.read() as conn:
        tries = tasks.get_tries(conn, run_id, task_id, map_index, results=False)
    elements = [TaskRunOut.of(r) for r in records if r.map_index >= 0] if map_index < 0 else []
    return TaskRunDetail(
        **TaskRunOut.of(chosen).model_dump(), tries=[TryOut.of(t) for t in tries], elements=elements
    )


@router.get(
    "/runs/{run_id}/tasks/{task_id}/tries",
    response_model=Page[TryOut],
    responses=NOT_FOUND,
    summary="List tries",
)
def list_tries(
    run_id: RunId,
    task_id: TaskId,
    state: State,
    map_index: Annotated[int | None, Query(ge=-1, le=MAX_ID, description="only this element")] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> Page[TryOut]:
    """A page of the tries of a task (all its elements, by element, unless ``map_index`` is given),
    with errors and tracebacks."""
    check_name(task_id, "task")
    with state.store.read() as conn:
        found = reports.try_page(conn, run_id, task_id, map_index, limit=limit, offset=offset)
    return Page[TryOut].of([TryOut.of(t) for t in found.items], total=found.total, limit=limit, offset=offset)


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
    with state.store.read() as conn:
        runs.get_run(conn, run_id, result=False)
        return TryOut.of(tasks.get_try(conn, run_id, task_id, map_index, number))


@router.get(
    "/runs/{run_id}/events", response_model=Page[EventOut], responses=NOT_FOUND, summary="List a run's events"
)
def list_events(
    run_id: RunId, state: State, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> Page[EventOut]:
    """A page of the state changes of the run and its task runs, oldest first."""
    with state.store.read() as conn:
        found = reports.event_page(conn, run_id, limit=limit, offset=offset)
    return Page[EventOut].of(
        [EventOut.of(e) for e in found.items], total=found.total, limit=limit, offset=offset
    )
