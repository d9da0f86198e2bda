"""weir: a workflow orchestrator for data engineering.

Write flows as Python functions, run them on a local process pool, and find every
state, log and result recorded in SQLite or PostgreSQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from weir.errors import (
    FlowDefinitionError,
    FlowLoadError,
    ParamsError,
    WeirError,
)
from weir.graph.triggers import TriggerRule
from weir.sdk.context import TaskContext, context
from weir.sdk.flow import Flow, flow
from weir.sdk.task import Task, task
from weir.states import RunState, TaskState

if TYPE_CHECKING:
    from weir.runs import Run, get_run
    from weir.schedules import cron, every, on_event, on_file

__all__ = [
    "Flow",
    "FlowDefinitionError",
    "FlowLoadError",
    "ParamsError",
    "Run",
    "RunState",
    "Task",
    "TaskContext",
    "TaskState",
    "TriggerRule",
    "WeirError",
    "__version__",
    "context",
    "cron",
    "every",
    "flow",
    "get_run",
    "on_event",
    "on_file",
    "task",
]

__version__ = "0.1.0"


_LAZY = {
    "Run": "weir.runs",
    "get_run": "weir.runs",
    "cron": "weir.schedules",
    "every": "weir.schedules",
    "on_event": "weir.schedules",
    "on_file": "weir.schedules",
}


def __getattr__(name: str) -> Any:
    # The store-backed and schedule names import SQLAlchemy or croniter: load them on first use,
    # so `import weir` stays fast. Subpackages (weir.notify, weir.testing) import as usual.
    import importlib

    if name in ("notify", "testing"):
        return importlib.import_module(f"weir.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'weir' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
