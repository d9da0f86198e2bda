"""Finding a flow's code from a :class:`~weir.executors.base.FlowRef`, once per process."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from weir.errors import FlowLoadError

if TYPE_CHECKING:
    from weir.executors.base import FlowRef
    from weir.sdk.flow import Flow

#: Flows known in this process, by FlowRef key: registered by the process that made the
#: run, or loaded here on first use.
_flows: dict[str, Flow] = {}


def register(key: str, flow: Flow) -> None:
    """Make ``flow`` findable under ``key`` in this process without importing anything."""
    _flows[key] = flow


def find_flow(ref: FlowRef) -> Flow:
    """The flow ``ref`` points to, loaded once per process and cached.

    Raises:
        FlowLoadError: the module, file or payload does not hold the flow.
    """
    flow = _flows.get(ref.key)
    if flow is not None:
        return flow
    if ref.kind == "pickle":
        import cloudpickle

        if ref.payload is None:
            raise FlowLoadError(f"flow {ref.flow_name!r}: no code was sent to this worker")
        flow = cloudpickle.loads(ref.payload)
    elif ref.kind == "module":
        module = importlib.import_module(ref.target)
        flow = flow_in(vars(module), ref.flow_name, ref.target)
    elif ref.kind == "path":
        from weir.sdk.loader import load_file

        flow = flow_in(vars(load_file(ref.target)), ref.flow_name, ref.target)
    else:
        raise FlowLoadError(f"unknown flow reference kind {ref.kind!r}")
    _flows[ref.key] = flow
    return flow


def flow_in(namespace: dict[str, Any], name: str, where: str) -> Flow:
    """The flow called ``name`` among the values of ``namespace``."""
    from weir.sdk.flow import Flow

    for value in namespace.values():
        if isinstance(value, Flow) and value.name == name:
            return value
    raise FlowLoadError(f"{where} has no flow named {name!r}")


def flow_ref_for(flow: Flow) -> FlowRef:
    """How a worker process can find ``flow``: by module, by file, or by value.

    The key names the code's place as well as its version: two files with the same text
    are two flows, and so are two flows made by one function (each pickled flow is its own).
    """
    from weir.executors.base import FlowRef

    version = f"{flow.name}@{flow.version}"
    module_name = flow.fn.__module__
    module = sys.modules.get(module_name)
    loaded_from = getattr(module, "__weir_flow_file__", None)
    if loaded_from:
        return FlowRef(kind="path", target=loaded_from, flow_name=flow.name, key=f"{version}:{loaded_from}")
    if module_name != "__main__" and module is not None:
        namespace = vars(module)
        if any(value is flow for value in namespace.values()):
            return FlowRef(
                kind="module", target=module_name, flow_name=flow.name, key=f"{version}:{module_name}"
            )
    import cloudpickle

    return FlowRef(
        kind="pickle",
        target=module_name,
        flow_name=flow.name,
        key=f"{version}:pickle:{id(flow)}",
        payload=cloudpickle.dumps(flow),
    )
