"""The graph of a flow as inert data: nodes, their policy, their argument templates.

A *template* is the argument structure of a task call as written in the flow body, in
which the values that are only known at run time are markers: :class:`TaskOutput`
(the result of another node), :class:`ParamValue` (a flow param) and
:class:`MapElement` (the element of the list a mapped node fans out over). Templates
nest through lists, tuples and dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from weir.graph.policy import TaskPolicy


@dataclass(frozen=True, slots=True)
class TaskOutput:
    """Marks the place of another node's result in a template."""

    task_id: str


@dataclass(frozen=True, slots=True)
class ParamValue:
    """Marks the place of a flow param in a template."""

    name: str


@dataclass(frozen=True, slots=True)
class MapElement:
    """Marks the place of the mapped-over element in a mapped node's arguments."""


MAP_ELEMENT = MapElement()


@dataclass(frozen=True, slots=True)
class Opaque:
    """A constant of a flow body that has no JSON form, as a stored snapshot describes it.

    The scheduler never needs its value (workers use the one in the flow's code); it shows
    ``text`` and, when the constant is mapped over, knows its ``length``.
    """

    text: str
    type_name: str
    length: int | None = None
    digest: str | None = None  # of its pickled content: what cache keys compare


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """One task invocation in a flow.

    Attributes:
        task_id: stable, readable id, unique in the flow (``square``, ``square__1``).
        task_name: the name of the task this node calls.
        policy: the task's policy with per-call overrides applied.
        args, kwargs: argument templates.
        data_upstream: nodes whose results this node takes (from the templates).
        order_upstream: nodes that must finish first without passing data (``a >> b``).
        map_over: for a mapped node, the template of the list it fans out over.
        location: ``file:line`` of the call in the flow body.
    """

    task_id: str
    task_name: str
    policy: TaskPolicy
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    data_upstream: tuple[str, ...] = ()
    order_upstream: tuple[str, ...] = ()
    map_over: Any = None
    mapped: bool = False
    location: str = ""
    code_hash: str = ""

    @property
    def upstream(self) -> tuple[str, ...]:
        """Every node that must finish before this one, data first, without repeats."""
        return tuple(dict.fromkeys(self.data_upstream + self.order_upstream))


@dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    """A flow's static graph; ``nodes`` is in a topological order."""

    flow_name: str
    nodes: Mapping[str, Node]
    output: Any = None
    params: tuple[str, ...] = ()
    downstream: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def edges(self) -> list[tuple[str, str, str]]:
        """``(upstream, downstream, kind)`` for each edge; kind is ``data`` or ``order``."""
        out: list[tuple[str, str, str]] = []
        for node in self.nodes.values():
            out.extend((up, node.task_id, "data") for up in node.data_upstream)
            out.extend(
                (up, node.task_id, "order") for up in node.order_upstream if up not in node.data_upstream
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description of the graph, for the store, the CLI and the UI."""
        return {
            "flow": self.flow_name,
            "params": list(self.params),
            "nodes": [
                {
                    "task_id": n.task_id,
                    "task": n.task_name,
                    "upstream": list(n.upstream),
                    "mapped": n.mapped,
                    "location": n.location,
                    "policy": n.policy.to_dict(),
                }
                for n in self.nodes.values()
            ],
            "edges": [list(e) for e in self.edges],
        }


def walk(template: Any) -> Iterator[Any]:
    """Yield every marker (TaskOutput, ParamValue, MapElement) inside a template."""
    if isinstance(template, TaskOutput | ParamValue | MapElement):
        yield template
    elif isinstance(template, list | tuple):
        for item in template:
            yield from walk(item)
    elif isinstance(template, dict):
        for item in template.values():
            yield from walk(item)


def resolve(template: Any, lookup: Callable[[Any], Any]) -> Any:
    """Return ``template`` with every marker replaced by ``lookup(marker)``."""
    if isinstance(template, TaskOutput | ParamValue | MapElement):
        return lookup(template)
    if isinstance(template, list):
        return [resolve(item, lookup) for item in template]
    if isinstance(template, tuple):
        return tuple(resolve(item, lookup) for item in template)
    if isinstance(template, dict):
        return {key: resolve(item, lookup) for key, item in template.items()}
    return template
