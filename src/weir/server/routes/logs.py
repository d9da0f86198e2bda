"""``/api/v1/runs/{id}/tasks/{task}/tries/{n}/log``: a try's log, read through the log store by byte
offset (never splitting a character), or followed as Server-Sent Events while the try runs; and
``.../log/download``, the whole log as a file.

Only the log store is read (``Settings.logs``): a try's ``log_path`` is a key in it (old absolute
paths under a local store's root still read); anything else reads as empty.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from weir.errors import NotFoundError
from weir.io.logs import MAX_CHUNK, Chunk, log_store
from weir.server.deps import MapIndex, RunId, State, TaskId, TryNumber, check_name
from weir.server.routes.runs import NOT_FOUND
from weir.server.schemas import LogChunk
from weir.server.state import ServerState
from weir.states import TaskState
from weir.store import runs, tasks

router = APIRouter(tags=["runs"])
#: Seconds between reads of a log being followed.
FOLLOW_INTERVAL = 0.25
#: The states of a try that may still write to its log.
_WRITING = (TaskState.QUEUED, TaskState.RUNNING)


def try_ended(state: str | None) -> bool:
    """Whether a try in ``state`` has stopped writing its log (a try that is gone has, too)."""
    return state not in _WRITING


def read_log(state: ServerState, key: str | None, offset: int, limit: int, *, final: bool) -> Chunk:
    """Bytes of the log ``key`` from the server's log store (empty for no key)."""
    return log_store(state.settings.logs).read(key or "", offset, limit, final=final)


def log_size(state: ServerState, key: str | None) -> int:
    return log_store(state.settings.logs).size(key or "") if key else 0


@dataclass(frozen=True, slots=True)
class _Try:
    run_id: int
    task_id: str
    map_index: int
    number: int
    key: str | None

    def chunk(self, state: ServerState, offset: int, limit: int, try_state: str | None) -> LogChunk:
        ended = try_ended(try_state)
        chunk = read_log(state, self.key, offset, limit, final=ended)
        return LogChunk(
            run_id=self.run_id,
            task_id=self.task_id,
            map_index=self.map_index,
            try_number=self.number,
            offset=chunk.offset,
            next_offset=chunk.next_offset,
            size=chunk.size,
            text=chunk.text,
            complete=ended and chunk.next_offset >= chunk.size,
        )

    def state_now(self, state: ServerState) -> str | None:
        with state.store.read() as conn:
            return tasks.try_state(conn, self.run_id, self.task_id, self.map_index, self.number)


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
    limit: Annotated[int, Query(ge=1, le=MAX_CHUNK, description="most bytes to return")] = MAX_CHUNK,
    follow: Annotated[bool, Query(description="stream as Server-Sent Events until the try ends")] = False,
) -> Any:
    """The try's log from byte ``offset``; ``next_offset`` is where to continue.

    With ``follow=true`` the answer is an event stream: ``log`` events (JSON chunks) as lines are
    written, then one ``end`` event when the try has ended and everything was sent. Only the log
    store (``$WEIR_HOME/logs`` unless set) is ever read.
    """
    check_name(task_id, "task")
    with state.store.read() as conn:
        runs.get_run(conn, run_id, result=False)
        found = tasks.get_try(conn, run_id, task_id, map_index, number)
    one = _Try(run_id, task_id, map_index, number, found.log_path)
    first = one.chunk(state, offset, limit, found.state)
    if not follow:
        return first
    return StreamingResponse(
        _follow(state, request, one, first, limit),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/runs/{run_id}/tasks/{task_id}/tries/{number}/log/download",
    response_class=StreamingResponse,
    responses={
        **NOT_FOUND,
        200: {
            "description": "the whole log, as a file",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
    },
    summary="Download a try's whole log",
)
def download_log(
    run_id: RunId, task_id: TaskId, number: TryNumber, state: State, map_index: MapIndex = -1
) -> StreamingResponse:
    """The try's whole log as ``text/plain``, to save as a file (``Content-Disposition: attachment``),
    read from the log store a chunk at a time however large it is. A try still running gives its
    log as written so far. 404 when the run, the task, the try or its log does not exist.
    """
    check_name(task_id, "task")
    with state.store.read() as conn:
        runs.get_run(conn, run_id, result=False)
        found = tasks.get_try(conn, run_id, task_id, map_index, number)
    size = log_size(state, found.log_path)
    element = f"[{map_index}]" if map_index >= 0 else ""
    if not size:
        raise NotFoundError(f"try {number} of task {task_id}{element} of run {run_id} wrote no log")
    name = f"run-{run_id}-{task_id}{f'.{map_index}' if map_index >= 0 else ''}.try-{number}.log"
    return StreamingResponse(
        _whole(state, found.log_path or "", size, final=try_ended(found.state)),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _whole(state: ServerState, key: str, size: int, *, final: bool) -> Iterator[str]:
    """The log ``key`` from its start up to ``size`` bytes (or its end, when shorter), a chunk at a time."""
    offset = 0
    while offset < size:
        chunk = read_log(state, key, offset, min(MAX_CHUNK, size - offset), final=final)
        if chunk.next_offset <= offset:
            return  # the log shrank, or a character is cut at ``size``: nothing more to give
        yield chunk.text
        offset = chunk.next_offset


async def _follow(
    state: ServerState, request: Request, one: _Try, chunk: LogChunk, limit: int
) -> AsyncIterator[str]:
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
            # The state first: a try that ended after this read is read once more, with final=True.
            now = await run_in_threadpool(one.state_now, state)
            chunk = await run_in_threadpool(one.chunk, state, chunk.next_offset, limit, now)
        except Exception:
            yield "event: end\ndata: {}\n\n"
            return
