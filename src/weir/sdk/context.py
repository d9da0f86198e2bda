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
        logical_date: the start of a scheduled run's data interval; for a run made by hand
            or by an event, the time it was made (or, for a flow on a time schedule, the start
            of the interval that ended last, as in Airflow).
        data_interval: ``(start, end)`` for a flow on a time schedule, None otherwise.
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


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackContext:
    """What a callback (``on_failure``, ``on_retry``, ``on_success``) is told.

    Attributes:
        event: ``failure``, ``retry`` or ``success``.
        flow_name, run_id: the run.
        task_id, map_index, try_number: the task run and try, for a task's callback
            (``task_id`` is None for a flow's callback).
        state: the state the task run or run reached.
        error, traceback: the error of the failed try, if any.
        log_path: the try's log file, if any.
        reason: why a run ended so (flow callbacks).
        params: the run's params.
        url: a link to the run in the web UI.
    """

    event: str
    flow_name: str
    run_id: int
    state: str
    task_id: str | None = None
    map_index: int = -1
    try_number: int = 0
    error: str | None = None
    traceback: str | None = None
    log_path: str | None = None
    reason: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    url: str = ""

    @property
    def title(self) -> str:
        """A one-line summary, as notifiers use it."""
        what = f"task {self.task_id}" if self.task_id else "run"
        if self.task_id and self.map_index >= 0:
            what += f"[{self.map_index}]"
        return f"weir: {self.flow_name} {what} {self.state} (run {self.run_id})"
