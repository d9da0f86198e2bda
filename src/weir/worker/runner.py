"""Running one try: resolve the inputs, call the function with its log captured, store the result.

Both executors call :func:`execute`; timeouts, log capture and result handling live here
once, not in every executor.
"""

from __future__ import annotations

import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from weir import results
from weir.errors import WeirError
from weir.executors.base import Finished, WorkItem
from weir.graph.model import MapElement, ParamValue, TaskOutput, resolve
from weir.results import ResultRef
from weir.sdk.context import TaskContext, reset_context, set_context
from weir.sdk.flow import Flow
from weir.worker.capture import capture


class BranchError(WeirError):
    """A branch task returned something other than ids of its direct downstream tasks."""


def _now() -> datetime:
    return datetime.now(UTC)


class InputCache:
    """Loaded upstream values, so a worker unpickles a shared input once (mapped fan-out)."""

    def __init__(self, limit: int = 256) -> None:
        self._values: dict[int, tuple[ResultRef, Any]] = {}
        self._limit = limit

    def load(self, ref: ResultRef) -> Any:
        if ref.in_memory:
            return ref.value
        hit = self._values.get(id(ref))
        if hit is not None and hit[0] is ref:
            return hit[1]
        value = results.load(ref)
        if len(self._values) >= self._limit:
            self._values.clear()
        self._values[id(ref)] = (ref, value)
        return value


def execute(item: WorkItem, flow: Flow, *, in_process: bool, cache: InputCache | None = None) -> Finished:
    """Run the try ``item`` of ``flow`` and report how it ended (never raises for task errors)."""
    started = _now()
    label = item.task_id if item.map_index < 0 else f"{item.task_id}[{item.map_index}]"
    cache = cache or InputCache()
    try:
        node = flow.graph.nodes[item.task_id]
        task = flow.tasks[item.task_id]
    except KeyError:
        return _failed(
            item, started, f"flow {flow.name!r} has no task {item.task_id!r} (has the file changed?)"
        )
    with capture(Path(item.log_path), fd_level=not in_process) as log:
        ctx = TaskContext(
            flow_name=flow.name,
            run_id=item.run_id,
            task_id=item.task_id,
            map_index=item.map_index,
            try_number=item.try_number,
            params=item.params,
        )
        token = set_context(ctx)
        try:
            lookup = _lookup(item, cache)
            if node.mapped:
                source = resolve(node.map_over, lookup)
                element = (source if isinstance(source, list | tuple) else list(source))[item.map_index]
                plain_lookup = lookup

                def lookup(marker: Any) -> Any:
                    return element if isinstance(marker, MapElement) else plain_lookup(marker)

            args = resolve(node.args, lookup)
            kwargs = resolve(node.kwargs, lookup)
            value = task.fn(*args, **kwargs)
            if node.policy.branch:
                value = _branch_targets(value, flow, item.task_id)
            length = None
            if item.report_length:
                try:
                    length = len(value)
                except TypeError:
                    raise WeirError(
                        f"task {label} returned a {type(value).__name__}, but a mapped task fans out over "
                        "its result: return a list"
                    ) from None
            ref = results.store(
                value,
                what=f"task {label}",
                inline_max=item.result_inline_max,
                path=Path(item.result_path),
                keep_value=in_process,
            )
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            tb = traceback.format_exc()
            log.write(tb)
            return _failed(item, started, f"{type(exc).__name__}: {exc}", tb)
        finally:
            reset_context(token)
    return Finished(key=item.key, ok=True, started_at=started, ended_at=_now(), result=ref, length=length)


def _failed(item: WorkItem, started: datetime, error: str, tb: str | None = None) -> Finished:
    return Finished(key=item.key, ok=False, started_at=started, ended_at=_now(), error=error, traceback=tb)


def _lookup(item: WorkItem, cache: InputCache) -> Any:
    def lookup(marker: Any) -> Any:
        if isinstance(marker, TaskOutput):
            ref = item.inputs.get(marker.task_id)
            if ref is None:
                return None  # an upstream that was skipped or failed (lenient trigger rules)
            if isinstance(ref, list):
                return [cache.load(r) for r in ref]
            return cache.load(ref)
        if isinstance(marker, ParamValue):
            return item.params.get(marker.name)
        raise AssertionError(f"unexpected marker {marker!r}")

    return lookup


def _branch_targets(value: Any, flow: Flow, task_id: str) -> list[str]:
    targets = [value] if isinstance(value, str) else value
    children = flow.graph.downstream.get(task_id, ())
    if not isinstance(targets, list | tuple) or not all(isinstance(t, str) for t in targets):
        raise BranchError(
            f"branch task {task_id!r} must return a task id or a list of task ids, not {value!r}"
        )
    unknown = [t for t in targets if t not in children]
    if unknown:
        raise BranchError(
            f"branch task {task_id!r} returned {unknown!r}, which are not its direct downstream tasks "
            f"(those are: {', '.join(children) or 'none'})"
        )
    return list(targets)
