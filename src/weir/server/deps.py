"""Shared request pieces: the server state, and the path and query parameters every route checks."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query, Request

from weir.server.app import ServerState
from weir.server.errors import not_found

#: Ids in the store are 32-bit on PostgreSQL: anything larger cannot exist.
MAX_ID = 2**31 - 1
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")

RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="a run id")]
TryNumber = Annotated[int, Path(ge=0, le=MAX_ID, description="a try number, from 1")]
FlowName = Annotated[str, Path(max_length=200, description="a flow name")]
TaskId = Annotated[str, Path(max_length=200, description="a task id in the run's graph")]
MapIndex = Annotated[
    int, Query(ge=-1, le=MAX_ID, description="-1 for a plain node (default), 0.. for a mapped element")
]


def get_state(request: Request) -> ServerState:
    return request.app.state.weir


def check_name(value: str, what: str) -> str:
    """``value`` if it can be a flow name or task id; else the 404 it deserves."""
    if not _NAME.fullmatch(value):
        raise not_found(f"there is no {what} {value!r}")
    return value
