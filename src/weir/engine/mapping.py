"""Mapped nodes: how many elements a node fans out over, known only once its source is known."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weir.graph.model import Graph, Node, Opaque, ParamValue, TaskOutput, resolve
from weir.store.records import TaskRunRecord

TaskKey = tuple[str, int]


def map_length(
    node: Node,
    graph: Graph,
    task_runs: Mapping[TaskKey, TaskRunRecord],
    lengths: Mapping[str, int],
    params: Mapping[str, Any],
) -> int | str:
    """How many elements mapped ``node`` has, or why it cannot be mapped (a message).

    The source is an upstream node's result (its reported length, or an upstream mapped node's
    element count), a param, or a constant of the flow body.
    """
    source = node.map_over
    if isinstance(source, TaskOutput):
        up = graph.nodes[source.task_id]
        if up.mapped:
            return task_runs[(up.task_id, -1)].map_count or 0
        if source.task_id in lengths:
            return lengths[source.task_id]
        return f"task {source.task_id!r} did not produce a list to map over"
    if isinstance(source, Opaque):
        if source.length is None:
            return f"cannot map over a {source.type_name}: give a list"
        return source.length
    value = resolve(source, lambda m: params.get(m.name) if isinstance(m, ParamValue) else None)
    try:
        return len(value)
    except TypeError:
        return f"cannot map over a {type(value).__name__}: give a list"


def sources_of_lengths(graph: Graph) -> frozenset[str]:
    """Plain nodes whose result a mapped node fans out over: their length must be reported."""
    return frozenset(
        n.map_over.task_id for n in graph.nodes.values() if n.mapped and isinstance(n.map_over, TaskOutput)
    )
