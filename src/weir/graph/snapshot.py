"""A flow version as inert data: the flow snapshot and its JSON form (pure: no I/O, no user code).

The registrar (a worker process) loads a flow file, traces each flow and stores one
:class:`FlowSnapshot` per flow version. The scheduler, the engine, the API and the CLI work from
snapshots only: the graph with every node's policy as data, the params' JSON schema, the schedule,
where the code is. Callables of the flow (callbacks, ``retry_if``, ...) are recorded by name;
workers, which load the code, call them.

The JSON form carries ``format``; :func:`snapshot_from_json` reads every format this weir knows
(upgrading older ones) and refuses newer ones with a :class:`~weir.errors.SnapshotError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import pickle
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from weir.errors import ParamsError, SnapshotError
from weir.graph.build import build_graph
from weir.graph.model import MAP_ELEMENT, Graph, MapElement, Node, Opaque, ParamValue, TaskOutput
from weir.graph.policy import TaskPolicy

if TYPE_CHECKING:
    from weir.schedules import ScheduleSpec

#: The snapshot format this weir writes (and the newest it reads).
FORMAT = 1


class CodeKind(StrEnum):
    """How a worker finds a flow's code."""

    FILE = "file"  # a flow file: a path relative to the project root (or absolute outside one)
    MODULE = "module"  # an importable module
    PICKLE = "pickle"  # defined in a script's __main__ or a function: only its own process has it


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeRef:
    """Where a flow's code is: a file relative to the project root, or a module."""

    kind: CodeKind
    target: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": str(self.kind), "target": self.target}


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamSpec:
    """One param of a flow: its name, annotation (as text), whether it is required, its default (JSON)."""

    name: str
    type: str | None = None
    required: bool = True
    default: Any = None


@dataclass(frozen=True, kw_only=True)
class FlowSnapshot:
    """One version of a flow, as the scheduler and the API know it.

    Attributes:
        name, version: the flow and this version (a hash of everything below).
        code: where workers find the code.
        code_hash: a hash of the flow file's text (or of the function, when there is no file).
        source_file: the file the flow is defined in, relative to the project root when inside it.
        source_line: the first line of the flow's definition in its source file (its decorator).
        params: the params in signature order; ``params_schema`` their JSON schema.
        schedule: the schedule spec as data (``ScheduleSpec.to_dict``), None when unscheduled.
        timeout: seconds a run may take.
        on_success, on_failure: names of the flow's callbacks.
        graph: the traced graph, node policies as data.
    """

    name: str
    version: str = ""
    description: str | None = None
    tags: tuple[str, ...] = ()
    code: CodeRef
    code_hash: str = ""
    source_file: str | None = None
    source_line: int = 0
    params: tuple[ParamSpec, ...] = ()
    params_schema: Mapping[str, Any] = field(default_factory=dict)
    schedule: Mapping[str, Any] | None = None
    timeout: float | None = None
    on_success: tuple[str, ...] = ()
    on_failure: tuple[str, ...] = ()
    graph: Graph

    @cached_property
    def schedule_spec(self) -> ScheduleSpec | None:
        """The schedule, parsed (None when the flow has no schedule settings)."""
        if not self.schedule:
            return None
        from weir.schedules import ScheduleSpec

        return ScheduleSpec.from_dict(dict(self.schedule))

    @property
    def flow_events(self) -> frozenset[str]:
        """The run outcomes with flow callbacks: ``success``, ``failure``."""
        return frozenset(
            e for e, hooks in (("success", self.on_success), ("failure", self.on_failure)) if hooks
        )

    @property
    def pools(self) -> dict[str, list[str]]:
        """The pools the flow's tasks use, with the ids of the tasks in each."""
        found: dict[str, list[str]] = {}
        for node in self.graph.nodes.values():
            if node.policy.pool:
                found.setdefault(node.policy.pool, []).append(node.task_id)
        return found

    @cached_property
    def _checker(self) -> Any:
        """A JSON-schema validator of the params (made once per snapshot)."""
        import jsonschema

        schema = dict(self.params_schema)
        return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` checked against the stored schema, with defaults filled in (JSON values).

        The worker binds the values with pydantic again, from the flow's own signature.

        Raises:
            ParamsError: naming each param that is missing, unknown or of the wrong type.
        """
        known = {p.name for p in self.params}
        problems = [(name, "not a param of this flow") for name in params if name not in known]
        properties = self.params_schema.get("properties", {}) if self.params_schema else {}
        given = {k: _lax(properties.get(k, {}), v) for k, v in params.items() if k in known}
        values = dict(given)
        for spec in self.params:
            if spec.name not in values:
                if spec.required:
                    problems.append((spec.name, "Field required"))
                else:
                    values[spec.name] = spec.default
        if given and self.params_schema:
            problems.extend(_schema_problems(self._checker, given))
        if problems:
            raise ParamsError(self.name, sorted(problems, key=lambda p: p[0]))
        return {spec.name: values[spec.name] for spec in self.params}


_TRUE = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "off", "0"})


def _lax(schema: Mapping[str, Any], value: Any) -> Any:
    """``value`` read as pydantic's lax mode reads text for a number or boolean param ("5" for an
    int); anything else as it is, for the schema to judge."""
    if not isinstance(value, str):
        return value
    kinds = {schema.get("type")} | {option.get("type") for option in schema.get("anyOf", ())}
    text = value.strip()
    try:
        if "integer" in kinds and text.lstrip("+-").isdigit():
            return int(text)
        if "number" in kinds:
            number = float(text)
            if math.isfinite(number):
                return number
    except ValueError:
        pass
    if "boolean" in kinds and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    return value


def _schema_problems(checker: Any, values: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for error in sorted(checker.iter_errors(values), key=lambda e: list(e.absolute_path)):
        if error.validator == "required" and not error.absolute_path:
            continue  # a missing param is named once, by validate_params ("Field required")
        path = ".".join(str(part) for part in error.absolute_path) or "params"
        problems.append((path, error.message))
    return problems


# -- templates as JSON ------------------------------------------------------------------------------


def encode(value: Any) -> Any:
    """A template (argument structure with markers) as JSON data; see :func:`decode`.

    Markers become ``{"$task": id}``, ``{"$param": name}``, ``{"$element": 1}``; tuples, dicts and
    non-finite floats are tagged; sets are sorted; any other object becomes
    ``{"$opaque": repr, "digest": ...}``, the digest of its pickled content (so equal constants
    give equal cache keys across runs, and different ones never share a key).
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, TaskOutput):
        return {"$task": value.task_id}
    if isinstance(value, ParamValue):
        return {"$param": value.name}
    if isinstance(value, MapElement):
        return {"$element": 1}
    if isinstance(value, Opaque):
        return {"$opaque": value.text, "type": value.type_name, "len": value.length, "digest": value.digest}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if type(value) is tuple:
        return {"$tuple": [encode(item) for item in value]}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {"$dict": {key: encode(item) for key, item in value.items()}}
        return {"$items": [[encode(key), encode(item)] for key, item in value.items()]}
    if type(value) in (set, frozenset):
        items = sorted((encode(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
        return {"$set": items, "frozen": type(value) is frozenset}
    try:
        length: int | None = len(value)
    except Exception:
        length = None
    kind = type(value)
    return {
        "$opaque": _short_repr(value),
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "len": length,
        "digest": _content_digest(value),
    }


def decode(data: Any) -> Any:
    """The template :func:`encode` made (opaque constants come back as :class:`Opaque`)."""
    if isinstance(data, list):
        return [decode(item) for item in data]
    if not isinstance(data, dict):
        return data
    if "$task" in data:
        return TaskOutput(data["$task"])
    if "$param" in data:
        return ParamValue(data["$param"])
    if "$element" in data:
        return MAP_ELEMENT
    if "$tuple" in data:
        return tuple(decode(item) for item in data["$tuple"])
    if "$dict" in data:
        return {key: decode(item) for key, item in data["$dict"].items()}
    if "$items" in data:
        return {_hashable(decode(key)): decode(item) for key, item in data["$items"]}
    if "$float" in data:
        return float(data["$float"])
    if "$set" in data:
        items = [_hashable(decode(item)) for item in data["$set"]]
        return frozenset(items) if data.get("frozen") else set(items)
    if "$opaque" in data:
        return Opaque(
            text=data["$opaque"],
            type_name=data.get("type", ""),
            length=data.get("len"),
            digest=data.get("digest"),
        )
    raise SnapshotError(f"unknown template item {sorted(data)!r}")


def _hashable(key: Any) -> Any:
    return key if not isinstance(key, list) else tuple(key)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _short_repr(value: Any) -> str:
    """What a constant shows: its repr, without memory addresses (they change every load)."""
    try:
        text = _ADDRESS.sub("", repr(value))
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."


def _content_digest(value: Any) -> str:
    """The digest of a constant's content, equal in every process for equal content: its pickle,
    with classes and functions named rather than pickled (so a class defined in a flow file
    needs no import, and a function is known by its name and code). A constant that cannot be
    pickled is known by its full repr (addresses included: two such constants never look equal,
    and its flow gets a new version each time it is loaded)."""
    buffer = io.BytesIO()
    try:
        _NamingPickler(buffer, protocol=5).dump(value)
        data = buffer.getvalue()
    except Exception:
        try:
            data = repr(value).encode()
        except Exception:
            data = f"{type(value).__qualname__}@{id(value)}".encode()
    return hashlib.sha256(data).hexdigest()[:32]


class _NamingPickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> str | None:
        if isinstance(obj, type | types.ModuleType | types.BuiltinFunctionType):
            return f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', obj.__name__)}"
        if isinstance(obj, types.FunctionType):
            code = obj.__code__
            body = hashlib.sha256(code.co_code + repr(code.co_consts).encode()).hexdigest()[:16]
            return f"{obj.__module__}:{obj.__qualname__}:{body}"
        return None


# -- the graph and the snapshot as JSON ------------------------------------------------------------------


def graph_to_json(graph: Graph) -> dict[str, Any]:
    """The graph as JSON: display fields (``task_id``, ``task``, ``upstream``, ``mapped``, ``location``,
    ``policy``, ``edges``) and what the engine needs (edges by kind, templates, the output)."""
    return {
        "flow": graph.flow_name,
        "params": list(graph.params),
        "nodes": [
            {
                "task_id": n.task_id,
                "task": n.task_name,
                "upstream": list(n.upstream),
                "data_upstream": list(n.data_upstream),
                "order_upstream": list(n.order_upstream),
                "mapped": n.mapped,
                "location": n.location,
                "code_hash": n.code_hash,
                "policy": n.policy.to_dict(),
                "args": encode(n.args),
                "kwargs": encode(dict(n.kwargs)),
                "map_over": encode(n.map_over),
            }
            for n in graph.nodes.values()
        ],
        "edges": [list(e) for e in graph.edges],
        "output": encode(graph.output),
    }


def graph_from_json(data: Mapping[str, Any]) -> Graph:
    """The graph :func:`graph_to_json` made, validated again."""
    nodes = [
        Node(
            task_id=n["task_id"],
            task_name=n["task"],
            policy=TaskPolicy.from_dict(n.get("policy", {})),
            args=tuple(decode(n.get("args", {"$tuple": []}))),
            kwargs=decode(n.get("kwargs", {"$dict": {}})),
            data_upstream=tuple(n.get("data_upstream", ())),
            order_upstream=tuple(n.get("order_upstream", ())),
            map_over=decode(n.get("map_over")),
            mapped=bool(n.get("mapped", False)),
            location=n.get("location", ""),
            code_hash=n.get("code_hash", ""),
        )
        for n in data.get("nodes", [])
    ]
    return build_graph(
        data["flow"], nodes, output=decode(data.get("output")), params=tuple(data.get("params", ()))
    )


def snapshot_to_json(snapshot: FlowSnapshot) -> dict[str, Any]:
    """The snapshot as JSON data (what the store keeps), ``version`` included."""
    body = _body(snapshot)
    body["version"] = snapshot.version or version_of(body)
    return body


def _body(snapshot: FlowSnapshot) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "name": snapshot.name,
        "description": snapshot.description,
        "tags": list(snapshot.tags),
        "code": snapshot.code.to_dict(),
        "code_hash": snapshot.code_hash,
        "source_file": snapshot.source_file,
        "source_line": snapshot.source_line,
        "params": [
            {"name": p.name, "type": p.type, "required": p.required, "default": p.default}
            for p in snapshot.params
        ],
        "params_schema": dict(snapshot.params_schema),
        "schedule": dict(snapshot.schedule) if snapshot.schedule else None,
        "timeout": snapshot.timeout,
        "callbacks": {"success": list(snapshot.on_success), "failure": list(snapshot.on_failure)},
        "graph": graph_to_json(snapshot.graph),
    }


def version_of(body: Mapping[str, Any]) -> str:
    """A version id: the hash of the snapshot's canonical JSON (without its version)."""
    canonical = json.dumps({k: v for k, v in body.items() if k != "version"}, sort_keys=True, default=repr)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def with_version(snapshot: FlowSnapshot) -> FlowSnapshot:
    """``snapshot`` with its version computed from its content."""
    from dataclasses import replace

    return replace(snapshot, version=version_of(_body(snapshot)))


def snapshot_from_json(data: Mapping[str, Any]) -> FlowSnapshot:
    """A snapshot read back from the store.

    Raises:
        SnapshotError: a format this weir does not know (naming it), or data that is not a snapshot.
    """
    fmt = data.get("format") if isinstance(data, Mapping) else None
    if not isinstance(fmt, int):
        raise SnapshotError("not a flow snapshot (no format): register the flow again with this weir")
    if fmt > FORMAT:
        raise SnapshotError(
            f"flow {data.get('name')!r} was registered by a newer weir (snapshot format {fmt}); "
            f"this weir reads formats up to {FORMAT}: upgrade weir"
        )
    try:
        callbacks = data.get("callbacks", {})
        return FlowSnapshot(
            name=data["name"],
            version=data.get("version", ""),
            description=data.get("description"),
            tags=tuple(data.get("tags", ())),
            code=CodeRef(kind=CodeKind(data["code"]["kind"]), target=data["code"]["target"]),
            code_hash=data.get("code_hash", ""),
            source_file=data.get("source_file"),
            source_line=int(data.get("source_line", 0)),
            params=tuple(
                ParamSpec(
                    name=p["name"],
                    type=p.get("type"),
                    required=p.get("required", True),
                    default=p.get("default"),
                )
                for p in data.get("params", ())
            ),
            params_schema=data.get("params_schema") or {},
            schedule=data.get("schedule"),
            timeout=data.get("timeout"),
            on_success=tuple(callbacks.get("success", ())),
            on_failure=tuple(callbacks.get("failure", ())),
            graph=graph_from_json(data["graph"]),
        )
    except SnapshotError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(
            f"flow snapshot {data.get('name')!r} is damaged: {type(exc).__name__}: {exc}"
        ) from None
