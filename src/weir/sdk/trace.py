"""Tracing a flow body: task calls record nodes and return references.

While a flow body is traced, :data:`_current` holds its :class:`Tracer`. A task call
then adds a node and returns a :class:`TaskRef`; flow params are :class:`ParamRef`.
References only wire the graph: using one as a value (``if ref``, ``ref + 1``,
``len(ref)``, iterating it) is a definition error naming the line.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from weir.errors import FlowDefinitionError
from weir.graph.model import MAP_ELEMENT, Node, ParamValue, TaskOutput
from weir.graph.policy import TaskPolicy

if TYPE_CHECKING:
    from weir.sdk.task import Task

_current: ContextVar[Tracer | None] = ContextVar("weir_tracer", default=None)


def current_tracer() -> Tracer | None:
    """The tracer of the flow body being traced in this context, if any."""
    return _current.get()


def caller_location() -> str:
    """``file:line`` of the nearest calling frame outside weir's authoring code (the user's line)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("weir.sdk", "weir.graph")):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class _Reference:
    """Behaviour shared by task and param references: refuse to be used as a value."""

    __slots__ = ()

    def _misuse(self, what: str) -> FlowDefinitionError:
        return FlowDefinitionError(
            f"{caller_location()}: {self!r} was used as a value ({what}) while tracing a flow; "
            "inside a flow body a task call or param is a reference to a future value. "
            "Do the computation in a task, or branch with @weir.task(branch=True)"
        )

    def __bool__(self) -> bool:
        raise self._misuse("truth test")

    def __iter__(self) -> Any:
        raise self._misuse("iteration; use task.map(...) to fan out")

    def __len__(self) -> int:
        raise self._misuse("len()")

    def __format__(self, spec: str) -> str:
        raise self._misuse("string formatting")

    def _binary(self, *_: Any) -> Any:
        raise self._misuse("arithmetic or comparison")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _binary
    __truediv__ = __rtruediv__ = __floordiv__ = __mod__ = __pow__ = _binary
    __lt__ = __le__ = __gt__ = __ge__ = __contains__ = _binary
    __and__ = __or__ = __xor__ = __neg__ = _binary
    # ``if ref == "x":`` would otherwise be silently False and drop a branch of the flow body.
    # Identity still works (``ref is other``, ``ref in [ref]``), and so does hashing.
    __eq__ = __ne__ = _binary
    __hash__ = object.__hash__


class ParamRef(_Reference):
    """A flow param while the flow body is traced."""

    __slots__ = ("name", "tracer")

    def __init__(self, tracer: Tracer, name: str) -> None:
        self.tracer = tracer
        self.name = name

    def __repr__(self) -> str:
        return f"<param {self.name}>"


class TaskRef(_Reference):
    """The future result of one node; ``a >> b`` orders two nodes without passing data."""

    __slots__ = ("task_id", "tracer")

    def __init__(self, tracer: Tracer, task_id: str) -> None:
        self.tracer = tracer
        self.task_id = task_id

    def __repr__(self) -> str:
        return f"<task {self.task_id}>"

    def __rshift__(self, other: Any) -> Any:
        for target in _refs(other, "the right of >>"):
            self.tracer.add_order(self, target)
        return other

    def __lshift__(self, other: Any) -> Any:
        for source in _refs(other, "the left of <<"):
            self.tracer.add_order(source, self)
        return other

    def __rrshift__(self, other: Any) -> Any:  # [a, b] >> self
        for source in _refs(other, "the left of >>"):
            self.tracer.add_order(source, self)
        return self

    def __rlshift__(self, other: Any) -> Any:  # [a, b] << self
        for target in _refs(other, "the right of <<"):
            self.tracer.add_order(self, target)
        return self


def _refs(value: Any, where: str) -> list[TaskRef]:
    items = list(value) if isinstance(value, list | tuple) else [value]
    for item in items:
        if not isinstance(item, TaskRef):
            raise FlowDefinitionError(
                f"{caller_location()}: only task calls can be ordered with >> and <<; "
                f"found {item!r} on {where}"
            )
    return items


@dataclass(slots=True, kw_only=True, eq=False)
class _NodeDraft:
    """A node while its flow body is traced: ``order`` still grows with ``a >> b``."""

    task_id: str
    task_name: str
    policy: TaskPolicy
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    map_over: Any
    mapped: bool
    data_upstream: list[str]
    location: str
    code_hash: str
    order: list[str] = field(default_factory=list)


class Tracer:
    """Collects the nodes and edges of one flow body while it is traced."""

    def __init__(self, flow_name: str) -> None:
        self.flow_name = flow_name
        self.drafts: dict[str, _NodeDraft] = {}
        self.order_locations: dict[tuple[str, str], str] = {}
        self.tasks: dict[str, Task] = {}
        self._counts: dict[str, int] = {}

    def __enter__(self) -> Tracer:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)

    def add_call(
        self,
        task: Task,
        policy: TaskPolicy,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        task_id: str | None = None,
        map_over: Any = None,
        mapped: bool = False,
    ) -> TaskRef:
        """Record one call of ``task`` and return a reference to its result."""
        location = caller_location()
        try:
            task.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise FlowDefinitionError(
                f"{location}: task {task.name!r} is called with arguments its function does not take: {exc}"
            ) from None
        if task_id is None:
            task_id = self._next_id(task.name)
        elif task_id in self.drafts:
            raise FlowDefinitionError(
                f"{location}: duplicate task id {task_id!r} in flow {self.flow_name!r}; "
                "give each call its own task_id"
            )
        upstream: list[str] = []
        templates = (
            self._template(args, upstream, location),
            self._template(kwargs, upstream, location),
            self._template(map_over, upstream, location),
        )
        self.drafts[task_id] = _NodeDraft(
            task_id=task_id,
            task_name=task.name,
            policy=policy,
            args=templates[0],
            kwargs=templates[1],
            map_over=templates[2],
            mapped=mapped,
            data_upstream=list(dict.fromkeys(upstream)),
            location=location,
            code_hash=task.code_hash,
        )
        self.tasks[task_id] = task
        return TaskRef(self, task_id)

    def add_order(self, before: TaskRef, after: TaskRef) -> None:
        """Record that ``after`` waits for ``before`` (``before >> after``)."""
        location = caller_location()
        for ref in (before, after):
            self._check_own(ref, location)
        draft = self.drafts[after.task_id]
        if before.task_id == after.task_id:
            raise FlowDefinitionError(f"{location}: task {after.task_id!r} cannot wait for itself")
        if before.task_id not in draft.order:
            draft.order.append(before.task_id)
            self.order_locations[(before.task_id, after.task_id)] = location

    def nodes(self) -> list[Node]:
        """The traced nodes, in call order."""
        return [
            Node(
                task_id=d.task_id,
                task_name=d.task_name,
                policy=d.policy,
                args=d.args,
                kwargs=d.kwargs,
                data_upstream=tuple(d.data_upstream),
                order_upstream=tuple(d.order),
                map_over=d.map_over,
                mapped=d.mapped,
                location=d.location,
                code_hash=d.code_hash,
            )
            for d in self.drafts.values()
        ]

    def template(self, value: Any, location: str) -> Any:
        """Replace references in ``value`` by markers (used for the flow's return value)."""
        return self._template(value, [], location)

    def _next_id(self, name: str) -> str:
        n = self._counts.get(name, 0)
        while True:
            candidate = name if n == 0 else f"{name}__{n}"
            n += 1
            if candidate not in self.drafts:
                self._counts[name] = n
                return candidate

    def _check_own(self, ref: TaskRef | ParamRef, location: str) -> None:
        if ref.tracer is not self:
            raise FlowDefinitionError(
                f"{location}: {ref!r} belongs to flow {ref.tracer.flow_name!r}, "
                f"not to flow {self.flow_name!r}; a flow can only use its own task calls"
            )

    def _template(self, value: Any, upstream: list[str], location: str) -> Any:
        if isinstance(value, TaskRef):
            self._check_own(value, location)
            upstream.append(value.task_id)
            return TaskOutput(value.task_id)
        if isinstance(value, ParamRef):
            self._check_own(value, location)
            return ParamValue(value.name)
        if value is MAP_ELEMENT:
            return value
        if isinstance(value, list):
            return [self._template(v, upstream, location) for v in value]
        if type(value) is tuple:
            return tuple(self._template(v, upstream, location) for v in value)
        if isinstance(value, dict):
            return {k: self._template(v, upstream, location) for k, v in value.items()}
        return value
