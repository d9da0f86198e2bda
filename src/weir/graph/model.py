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
    retry_backoff: float = 1.0
    retry_jitter: float = 0.0
    max_retry_delay: float | None = None
    retry_on: tuple[type[BaseException], ...] = ()
    retry_if: Callable[[BaseException], bool] | None = None
    timeout: float | None = None
    trigger: TriggerRule = TriggerRule.ALL_SUCCESS
    pool: str | None = None
    priority: int = 0
    tags: tuple[str, ...] = ()
    branch: bool = False
    on_success: tuple[Callable[..., Any], ...] = ()
    on_failure: tuple[Callable[..., Any], ...] = ()
    on_retry: tuple[Callable[..., Any], ...] = ()
    cache: bool = False
    cache_key_fn: Callable[..., Any] | None = None
    cache_expires: float | None = None
    complete: Callable[..., Any] | None = None

    def retry_wait(self, failed_try: int, rand: float) -> float:
        """Seconds to wait before the try after ``failed_try`` (1-based), given ``rand`` in [0, 1).

        ``retry_delay * retry_backoff ** (failed_try - 1)``, capped at ``max_retry_delay``,
        then spread by up to ``retry_jitter`` of itself either way.
        """
        wait = self.retry_delay * self.retry_backoff ** (failed_try - 1)
        if self.max_retry_delay is not None:
            wait = min(wait, self.max_retry_delay)
        if self.retry_jitter:
            wait *= 1 + self.retry_jitter * (2 * rand - 1)
        return max(0.0, wait)

    def callbacks(self, event: str) -> tuple[Callable[..., Any], ...]:
        return {"success": self.on_success, "failure": self.on_failure, "retry": self.on_retry}[event]

    def to_dict(self) -> dict[str, Any]:
        return {
            "retries": self.retries,
            "retry_delay": self.retry_delay,
            "retry_backoff": self.retry_backoff,
            "retry_jitter": self.retry_jitter,
            "max_retry_delay": self.max_retry_delay,
            "retry_on": [_name(t) for t in self.retry_on],
            "retry_if": _name(self.retry_if) if self.retry_if else None,
            "timeout": self.timeout,
            "trigger": str(self.trigger),
            "pool": self.pool,
            "priority": self.priority,
            "tags": list(self.tags),
            "branch": self.branch,
            "on_success": [_name(c) for c in self.on_success],
            "on_failure": [_name(c) for c in self.on_failure],
            "on_retry": [_name(c) for c in self.on_retry],
            "cache": self.cache,
            "cache_expires": self.cache_expires,
            "complete": _name(self.complete) if self.complete else None,
        }


def _name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)


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
    if "retry_backoff" in changes:
        backoff = changes["retry_backoff"]
        if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 1:
            raise ValueError(f"retry_backoff must be a number >= 1 (a multiplier), not {backoff!r}")
        policy_kwargs["retry_backoff"] = float(backoff)
    if "retry_jitter" in changes:
        jitter = changes["retry_jitter"]
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter <= 1:
            raise ValueError(f"retry_jitter must be a fraction between 0 and 1, not {jitter!r}")
        policy_kwargs["retry_jitter"] = float(jitter)
    for name in ("max_retry_delay", "cache_expires"):
        if changes.get(name) is not None:
            policy_kwargs[name] = _seconds(name, changes[name], allow_zero=False)
    if "retry_on" in changes:
        policy_kwargs["retry_on"] = _exception_types(changes["retry_on"])
    for name in ("retry_if", "cache_key_fn", "complete"):
        if changes.get(name) is not None and not callable(changes[name]):
            raise ValueError(f"{name} must be a callable, not {changes[name]!r}")
    for name in ("on_success", "on_failure", "on_retry"):
        if name in changes:
            policy_kwargs[name] = _callables(name, changes[name])
    if "cache" in changes:
        policy_kwargs["cache"] = bool(changes["cache"])
    if changes.get("cache_key_fn") is not None or changes.get("cache_expires") is not None:
        if changes.get("cache") is False:
            raise ValueError("cache_key_fn and cache_expires need the cache: drop cache=False")
        policy_kwargs["cache"] = True  # as in Prefect: a cache key function turns the cache on
    return TaskPolicy(**policy_kwargs)


def _callables(name: str, value: Any) -> tuple[Callable[..., Any], ...]:
    """One callable or a list of them; anything else is refused naming ``name``."""
    if value is None:
        return ()
    items = list(value) if isinstance(value, list | tuple) else [value]
    for item in items:
        if not callable(item):
            raise ValueError(f"{name} must be a callable or a list of callables, not {item!r}")
    return tuple(items)


def _exception_types(value: Any) -> tuple[type[BaseException], ...]:
    """Exception classes from classes or names (``"TimeoutError"``, ``"requests.HTTPError"``)."""
    import builtins
    import importlib

    items = list(value) if isinstance(value, list | tuple) else [value]
    types: list[type[BaseException]] = []
    for item in items:
        if isinstance(item, str):
            module_name, _, attr = item.rpartition(".")
            try:
                found = (
                    getattr(importlib.import_module(module_name), attr)
                    if module_name
                    else getattr(builtins, attr)
                )
            except (ImportError, AttributeError):
                raise ValueError(
                    f"retry_on names {item!r}, which is not an exception class "
                    "(use a built-in name like 'ConnectionError' or a dotted path like 'mylib.errors.Flaky')"
                ) from None
            item = found
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise ValueError(f"retry_on must hold exception classes or their names, not {item!r}")
        types.append(item)
    return tuple(types)


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
