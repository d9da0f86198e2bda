"""Shared request pieces: the server state, the action context, and the path and query parameters
every route checks."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from weir.control.context import Context
from weir.errors import NotFoundError
from weir.server.state import ServerState

#: Ids in the store are 32-bit on PostgreSQL: anything larger cannot exist.
MAX_ID = 2**31 - 1
#: The header the UI's own scripts send with the actions they post, so the audit log says ``ui``.
VIA_HEADER = "x-weir-via"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")

RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="a run id")]
TryNumber = Annotated[int, Path(ge=0, le=MAX_ID, description="a try number, from 1")]
FlowName = Annotated[str, Path(max_length=200, description="a flow name")]
TaskId = Annotated[str, Path(max_length=200, description="a task id in the run's graph")]
MapIndex = Annotated[
    int, Query(ge=-1, le=MAX_ID, description="-1 for a plain node (default), 0.. for a mapped element")
]
Tag = Annotated[
    str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f]*$", description="only flows with this tag")
]


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.weir
    return state


def get_context(request: Request) -> Context:
    """The context of an action asked for by this request: ``ui`` from the UI's scripts, else ``api``."""
    via = "ui" if request.headers.get(VIA_HEADER) == "ui" else "api"
    return get_state(request).context(via)


State = Annotated[ServerState, Depends(get_state)]
Ctx = Annotated[Context, Depends(get_context)]


def check_name(value: str, what: str) -> str:
    """``value`` if it can be a flow name or task id; else the NotFoundError (404) it deserves."""
    if not _NAME.fullmatch(value):
        raise NotFoundError(f"there is no {what} {value!r}")
    return value
