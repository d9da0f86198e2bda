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
from datetime import timedelta
from typing import Any

from weir.graph.triggers import TriggerRule


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


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskPolicy:
    """How a task is run: its retries, timeout, trigger rule and placement.

    ``retry_delay`` and ``timeout`` are seconds. A later change may give a field its
    behaviour; every field is validated and stored from the start.
    """

    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    trigger: TriggerRule = TriggerRule.ALL_SUCCESS
    pool: str | None = None
    priority: int = 0
    tags: tuple[str, ...] = ()
    branch: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "retries": self.retries,
            "retry_delay": self.retry_delay,
            "timeout": self.timeout,
            "trigger": str(self.trigger),
            "pool": self.pool,
            "priority": self.priority,
            "tags": list(self.tags),
            "branch": self.branch,
        }


POLICY_FIELDS = frozenset(TaskPolicy.__dataclass_fields__)


def make_policy(base: TaskPolicy | None = None, **changes: Any) -> TaskPolicy:
    """Return ``base`` with ``changes`` applied, each checked; raises ``ValueError`` naming the field."""
    unknown = set(changes) - POLICY_FIELDS
    if unknown:
        raise ValueError(f"unknown task option(s): {', '.join(sorted(unknown))}")
    values = {name: getattr(base, name) for name in POLICY_FIELDS} if base else {}
    values.update(changes)
    policy_kwargs = dict(values)
    if "retries" in changes:
        retries = changes["retries"]
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ValueError(f"retries must be a whole number >= 0, not {retries!r}")
    if "retry_delay" in changes:
        policy_kwargs["retry_delay"] = _seconds("retry_delay", changes["retry_delay"], allow_zero=True)
    if changes.get("timeout") is not None:
        policy_kwargs["timeout"] = _seconds("timeout", changes["timeout"], allow_zero=False)
    if "trigger" in changes:
        try:
            policy_kwargs["trigger"] = TriggerRule(changes["trigger"])
        except ValueError:
            rules = ", ".join(r.value for r in TriggerRule)
            raise ValueError(f"unknown trigger rule {changes['trigger']!r}: choose one of {rules}") from None
    if "priority" in changes and (
        not isinstance(changes["priority"], int) or isinstance(changes["priority"], bool)
    ):
        raise ValueError(f"priority must be a whole number, not {changes['priority']!r}")
    if "pool" in changes and changes["pool"] is not None and not isinstance(changes["pool"], str):
        raise ValueError(f"pool must be a name (str), not {changes['pool']!r}")
    if "tags" in changes:
        tags = changes["tags"]
        if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
            raise ValueError(f"tags must be a list of strings, not {tags!r}")
        policy_kwargs["tags"] = tuple(tags)
    if "branch" in changes:
        policy_kwargs["branch"] = bool(changes["branch"])
    return TaskPolicy(**policy_kwargs)


def _seconds(name: str, value: Any, *, allow_zero: bool) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be seconds (a number) or a timedelta, not {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound} seconds, not {value!r}")
    return float(value)


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
        out = []
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


def has_markers(template: Any) -> bool:
    """True when ``template`` holds at least one marker."""
    return next(walk(template), None) is not None
