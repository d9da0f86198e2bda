"""``weir.context()``: what a running task knows about itself."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from weir.errors import ContextError


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskContext:
    """The identity of the running try and the run's params.

    Attributes:
        flow_name, run_id, task_id: where the try belongs.
        map_index: the element index of a mapped task run, -1 otherwise.
        try_number: 1 for the first try, 2 for the first retry, ...
        params: the run's validated params.
        log: a logger whose records go to this try's log file.
        logical_date, data_interval: set for scheduled runs, None otherwise.
    """

    flow_name: str
    run_id: int
    task_id: str
    map_index: int = -1
    try_number: int = 1
    params: Mapping[str, Any] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("weir.task"))
    logical_date: datetime | None = None
    data_interval: tuple[datetime, datetime] | None = None


_context: ContextVar[TaskContext | None] = ContextVar("weir_task_context", default=None)


def context() -> TaskContext:
    """The context of the task running in this thread.

    Raises:
        ContextError: when no task is running here (for example at import time, or in a
            plain function call outside a flow run).
    """
    ctx = _context.get()
    if ctx is None:
        raise ContextError(
            "weir.context() was called outside a running task; it is available only inside a "
            "task while a flow run executes it"
        )
    return ctx


def set_context(ctx: TaskContext | None) -> Any:
    """Install ``ctx`` for the current thread; returns a token for :func:`reset_context`."""
    return _context.set(ctx)


def reset_context(token: Any) -> None:
    _context.reset(token)
