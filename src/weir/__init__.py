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
    from weir.runs import Run

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
    "flow",
    "get_run",
    "task",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The store-backed names import SQLAlchemy; load them on first use to keep `import weir` fast.
    if name in ("Run", "get_run"):
        from weir import runs

        return getattr(runs, name)
    raise AttributeError(f"module 'weir' has no attribute {name!r}")
