"""A stored flow's code, seen from the server: load it, read its source, describe its params and schedule.

The store keeps where each flow lives (a file or a module); triggering a run validates params
against the flow's real signature, so the server loads that code, once per file version.
"""

from __future__ import annotations

import importlib.util
import inspect
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weir.errors import FlowLoadError, WeirError
from weir.store.records import FlowRecord

if TYPE_CHECKING:
    from weir.sdk.flow import Flow

#: Source files larger than this are not shown.
MAX_SOURCE = 512 * 1024


def load_stored_flow(record: FlowRecord) -> Flow:
    """The flow of ``record`` from its file or module.

    Raises:
        FlowLoadError: it was defined where another process cannot find it, or its code does not load.
    """
    from weir.worker.flows import flow_in

    if record.path:
        from weir.sdk.loader import load_file

        return flow_in(vars(load_file(record.path)), record.name, record.path)
    if record.module:
        import importlib

        try:
            module = importlib.import_module(record.module)
        except Exception as exc:
            raise FlowLoadError(
                f"module {record.module}: importing it raised {type(exc).__name__}: {exc}"
            ) from None
        return flow_in(vars(module), record.name, record.module)
    raise FlowLoadError(
        f"flow {record.name!r} was defined in a script's __main__ or inside a function, so the server "
        "cannot load it; put it in a flow file"
    )


def try_load(record: FlowRecord) -> tuple[Flow | None, str | None]:
    """(flow, None), or (None, why it did not load)."""
    try:
        return load_stored_flow(record), None
    except WeirError as exc:
        return None, str(exc)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def source_file(record: FlowRecord) -> Path | None:
    """The file the flow's code is in, without importing anything."""
    if record.path:
        return Path(record.path)
    if record.module:
        try:
            spec = importlib.util.find_spec(record.module)
        except (ImportError, ValueError):
            return None
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            return Path(spec.origin)
    return None


def read_source(record: FlowRecord) -> str | None:
    path = source_file(record)
    if path is None:
        return None
    try:
        if path.stat().st_size > MAX_SOURCE:
            return f"# {path}: too large to show ({path.stat().st_size} bytes)"
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def params_info(flow: Flow | None, names: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Each param's name, type, whether it is required and its default; and the params' JSON schema."""
    if flow is None:
        return [{"name": n, "type": None, "required": False, "default": None} for n in names], None
    out = []
    for param in flow.signature.parameters.values():
        annotation = param.annotation
        if annotation is inspect.Parameter.empty:
            type_name = None
        elif isinstance(annotation, str):
            type_name = annotation
        else:
            type_name = getattr(annotation, "__name__", None) or str(annotation)
        default = None if param.default is inspect.Parameter.empty else _jsonable(param.default)
        out.append(
            {
                "name": param.name,
                "type": type_name,
                "required": param.default is inspect.Parameter.empty,
                "default": default,
            }
        )
    try:
        schema = flow.params_model.model_json_schema()
    except Exception:
        schema = None
    return out, schema


def _jsonable(value: Any) -> Any:
    import json

    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return str(value)


def describe_schedule(schedule: dict[str, Any] | None) -> str | None:
    """A stored schedule spec (``ScheduleSpec.to_dict``) in words, or None when it has no triggers."""
    if not schedule:
        return None
    try:
        from weir.schedules import ScheduleSpec

        spec = ScheduleSpec.from_dict(schedule)
        words = [item.describe() for item in spec.schedules]
    except Exception:
        return str(schedule.get("schedules") or schedule)
    return ", ".join(words) or None


def next_run(schedule: dict[str, Any] | None, stored: datetime | None, now: datetime) -> datetime | None:
    """When the next scheduled run fires: what the scheduler stored, else computed from the spec."""
    if stored is not None or not schedule:
        return stored
    try:
        from weir.schedules import ScheduleSpec, next_fire_time

        return next_fire_time(ScheduleSpec.from_dict(schedule), now)
    except Exception:
        return None
