"""Making a flow's snapshot from its loaded code (the registrar and ``weir run`` do this).

Everything the scheduler and the API need is taken here, where the code is loaded: the traced
graph with every policy as data, the params as a JSON schema with their defaults, the schedule,
and where workers find the code (a file relative to the project root, or a module).
"""

from __future__ import annotations

import functools
import inspect
import sys
import typing
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any

from weir.graph.model import Graph
from weir.graph.snapshot import CodeKind, CodeRef, FlowSnapshot, ParamSpec, with_version
from weir.sdk.flow import Flow


def code_ref(flow: Flow, project_root: Path | None = None) -> CodeRef:
    """Where a worker finds ``flow``'s code: its flow file (relative to ``project_root`` when
    inside it), its module, or nowhere but this process (a script's ``__main__``, a function)."""
    module_name = flow.fn.__module__
    module = sys.modules.get(module_name)
    loaded_from = getattr(module, "__weir_flow_file__", None)
    if loaded_from:
        path = Path(loaded_from)
        if project_root is not None:
            try:
                return CodeRef(kind=CodeKind.FILE, target=path.relative_to(project_root.resolve()).as_posix())
            except ValueError:
                pass
        return CodeRef(kind=CodeKind.FILE, target=str(path))
    if (
        module_name != "__main__"
        and module is not None
        and any(value is flow for value in vars(module).values())
    ):
        return CodeRef(kind=CodeKind.MODULE, target=module_name)
    return CodeRef(kind=CodeKind.PICKLE, target=f"{module_name}:{flow.name}")


def snapshot_of(flow: Flow, project_root: Path | None = None, code: CodeRef | None = None) -> FlowSnapshot:
    """The snapshot of ``flow`` (traced now if it was not yet; made once per flow object, project
    root and code reference: a flow's definition does not change once it is traced).

    Raises:
        FlowDefinitionError: the flow body is not a valid flow.
    """
    made = _made.setdefault(flow, {})
    key = (str(project_root) if project_root is not None else None, code)
    found = made.get(key)
    if found is None:
        found = made[key] = _snapshot_of(flow, project_root, code)
    return found


#: Snapshots made, per flow object (gone with it).
_made: weakref.WeakKeyDictionary[Flow, dict[tuple[str | None, CodeRef | None], FlowSnapshot]] = (
    weakref.WeakKeyDictionary()
)


def _snapshot_of(flow: Flow, project_root: Path | None, code: CodeRef | None) -> FlowSnapshot:
    graph = _relative_locations(flow.graph, project_root)
    spec = flow.schedule_spec
    line = getattr(getattr(flow.fn, "__code__", None), "co_firstlineno", 0)
    params, schema = params_of(flow)
    where = code or code_ref(flow, project_root)
    source = where.target if where.kind == CodeKind.FILE else inspect.getsourcefile(flow.fn)
    return with_version(
        FlowSnapshot(
            name=flow.name,
            description=flow.description,
            tags=flow.tags,
            code=where,
            code_hash=flow.version,
            source_file=_relative(source, project_root) if source else None,
            source_line=line,
            params=params,
            params_schema=schema,
            schedule=spec.to_dict() if spec is not None else None,
            timeout=flow.timeout,
            on_success=tuple(h.name for h in flow.on_success),
            on_failure=tuple(h.name for h in flow.on_failure),
            graph=graph,
        )
    )


def _relative(path: str, project_root: Path | None) -> str:
    """``path`` relative to the project root when it lies inside it (snapshots name no machine)."""
    if project_root is None:
        return path
    return _relative_to(path, str(project_root))


@functools.lru_cache(maxsize=4096)
def _relative_to(path: str, root: str) -> str:
    # Cached: every task of a flow names the same file, and resolving a path costs a few system
    # calls; a flow snapshotted at each run would pay them per task and per run.
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return path


def _relative_locations(graph: Graph, project_root: Path | None) -> Graph:
    """The graph with each node's ``file:line`` relative to the project root where it can be."""
    if project_root is None:
        return graph
    nodes = {}
    for task_id, node in graph.nodes.items():
        where, _, line = node.location.rpartition(":")
        nodes[task_id] = replace(node, location=f"{_relative(where, project_root)}:{line}") if where else node
    return Graph(
        flow_name=graph.flow_name,
        nodes=nodes,
        output=graph.output,
        params=graph.params,
        downstream=graph.downstream,
    )


def params_of(flow: Flow) -> tuple[tuple[ParamSpec, ...], dict[str, Any]]:
    """Each param (name, annotation as text, required, default as JSON) and the params' JSON schema."""
    try:
        schema: dict[str, Any] = flow.params_model.model_json_schema()
    except Exception:
        schema = {}  # a type pydantic cannot describe: the worker still validates the params
    try:
        hints = typing.get_type_hints(flow.fn)
    except Exception:
        hints = {}
    specs = []
    properties = schema.get("properties", {})
    for param in flow.signature.parameters.values():
        required = param.default is inspect.Parameter.empty
        default = None
        if not required:
            default = properties.get(param.name, {}).get("default", _jsonable(param.default))
        annotation = hints.get(param.name, param.annotation)
        specs.append(
            ParamSpec(name=param.name, type=_type_name(annotation), required=required, default=default)
        )
    return tuple(specs), schema


def _type_name(annotation: Any) -> str | None:
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


def _jsonable(value: Any) -> Any:
    import json

    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)
