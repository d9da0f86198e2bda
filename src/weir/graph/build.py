"""Turn traced nodes into a validated :class:`Graph` (pure: no I/O)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from typing import Any

from weir.errors import CycleError, FlowDefinitionError
from weir.graph.model import Graph, Node


def build_graph(
    flow_name: str,
    nodes: Iterable[Node],
    *,
    output: Any = None,
    params: tuple[str, ...] = (),
    order_locations: Mapping[tuple[str, str], str] | None = None,
) -> Graph:
    """Validate ``nodes`` and return them as a graph in a stable topological order.

    The order follows the order of the calls in the flow body wherever the edges allow.

    Raises:
        FlowDefinitionError: an upstream id that is not a node of this flow.
        CycleError: the edges form a cycle; the message names the nodes and where the edge
            that closes it was written.
    """
    by_id: dict[str, Node] = {}
    for node in nodes:
        if node.task_id in by_id:
            raise FlowDefinitionError(
                f"{node.location}: duplicate task id {node.task_id!r} in flow {flow_name!r}"
            )
        by_id[node.task_id] = node
    downstream: dict[str, list[str]] = {tid: [] for tid in by_id}
    indegree: dict[str, int] = {}
    for node in by_id.values():
        ups = node.upstream
        for up in ups:
            if up not in by_id:
                raise FlowDefinitionError(
                    f"{node.location}: task {node.task_id!r} depends on {up!r}, "
                    f"which is not a task of flow {flow_name!r}"
                )
            downstream[up].append(node.task_id)
        indegree[node.task_id] = len(ups)

    position = {tid: i for i, tid in enumerate(by_id)}
    ready = sorted((tid for tid, d in indegree.items() if d == 0), key=position.__getitem__)
    ordered: list[str] = []

    heap = [(position[t], t) for t in ready]
    heapq.heapify(heap)
    while heap:
        _, tid = heapq.heappop(heap)
        ordered.append(tid)
        for child in downstream[tid]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(heap, (position[child], child))
    if len(ordered) != len(by_id):
        raise _cycle_error(flow_name, by_id, {t for t in by_id if indegree[t] > 0}, order_locations or {})
    return Graph(
        flow_name=flow_name,
        nodes={tid: by_id[tid] for tid in ordered},
        output=output,
        params=params,
        downstream={tid: tuple(children) for tid, children in downstream.items()},
    )


def _cycle_error(
    flow_name: str,
    by_id: dict[str, Node],
    stuck: set[str],
    order_locations: Mapping[tuple[str, str], str],
) -> CycleError:
    # Walk upstream inside the stuck set until a node repeats: that loop is a cycle.
    start = next(iter(sorted(stuck)))
    path: list[str] = []
    seen: dict[str, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(up for up in by_id[node].upstream if up in stuck)
    loop = path[seen[node] :]
    loop.reverse()  # upstream -> downstream
    cycle = " >> ".join([*loop, loop[0]])
    where = ""
    for a, b in zip(loop, [*loop[1:], loop[0]], strict=True):
        if (a, b) in order_locations:
            where = f"{order_locations[(a, b)]}: "
            break
    if not where:
        where = f"{by_id[loop[0]].location}: "
    return CycleError(f"{where}flow {flow_name!r} has a cycle: {cycle}")
