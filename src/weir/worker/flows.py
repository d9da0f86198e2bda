"""Finding a flow's code from a work item's :class:`~weir.executors.base.CodeSource`, once per
process: a flow file (relative to the project root, which workers also have), a module, or a
cloudpickled value sent by the process that made the run."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weir.errors import FlowLoadError
from weir.graph.snapshot import CodeKind

if TYPE_CHECKING:
    from weir.executors.base import CodeSource
    from weir.sdk.flow import Flow

#: Flows known in this process, by code key: registered by the process that made the run, or
#: loaded here on first use.
_flows: dict[str, Flow] = {}


def register(key: str, flow: Flow) -> None:
    """Make ``flow`` findable under ``key`` in this process without importing anything."""
    _flows[key] = flow


def find_flow(code: CodeSource, project_root: Path | None = None) -> Flow:
    """The flow ``code`` points to, loaded once per process and kept.

    Raises:
        FlowLoadError: the file, module or value does not hold the flow ("cannot import ...").
    """
    flow = _flows.get(code.key)
    if flow is not None:
        return flow
    ref = code.ref
    if ref.kind == CodeKind.PICKLE:
        import cloudpickle

        if code.payload is None:
            raise FlowLoadError(
                f"flow {code.flow_name!r} was defined in a script's __main__ or inside a function, so only "
                "the process that made the run has its code; put it in a flow file"
            )
        flow = cloudpickle.loads(code.payload)
    elif ref.kind == CodeKind.MODULE:
        try:
            module = importlib.import_module(ref.target)
        except Exception as exc:
            raise FlowLoadError(f"cannot import {ref.target}: {type(exc).__name__}: {exc}") from None
        flow = flow_in(vars(module), code.flow_name, ref.target)
    else:
        from weir.sdk.loader import load_file

        path = Path(ref.target)
        if not path.is_absolute():
            path = (project_root or Path.cwd()) / path
        try:
            module = load_file(path)
        except FlowLoadError as exc:
            raise FlowLoadError(f"cannot import {ref.target}: {exc}") from None
        flow = flow_in(vars(module), code.flow_name, ref.target)
    _flows[code.key] = flow
    return flow


def flow_in(namespace: dict[str, Any], name: str, where: str) -> Flow:
    """The flow called ``name`` among the values of ``namespace``."""
    from weir.sdk.flow import Flow

    for value in namespace.values():
        if isinstance(value, Flow) and value.name == name:
            return value
    raise FlowLoadError(f"cannot import {where}: it has no flow named {name!r}")
