"""Running one work item: resolve the inputs, call the user's code with its log captured,
and report the outcome.

Every executor calls :func:`execute`; log capture, the binding of params, the inline timeout,
the ``complete()`` check, retry rules and result storage live here once, not in every executor.
Results and logs go to the stores the work item names by URL: nothing here needs the store.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from weir.errors import BranchError, FlowLoadError, TaskTimeoutError, WeirError
from weir.executors.base import Finished, Outcome, TryKey, WorkItem, WorkKind
from weir.graph.model import MapElement, Node, ParamValue, TaskOutput, resolve
from weir.graph.policy import RetryPolicy
from weir.io import results
from weir.io.logs import LogWriter, log_store
from weir.io.results import ResultRef
from weir.sdk.context import CallbackContext, TaskContext, reset_context, set_context
from weir.sdk.flow import Flow
from weir.worker.capture import capture
from weir.worker.memory import memory_error_text


def _now() -> datetime:
    return datetime.now(UTC)


class InputCache:
    """What a worker keeps between tries: loaded upstream values (so a shared input is unpickled
    once for a whole fan-out) and each run's params bound to the flow's signature."""

    def __init__(self, limit: int = 256) -> None:
        self._values: dict[int, tuple[ResultRef, Any]] = {}
        self._params: dict[tuple[str, int], dict[str, Any]] = {}
        self._limit = limit

    def params(self, item: WorkItem, flow: Flow) -> dict[str, Any]:
        """The run's params as Python values, bound with the flow's own signature (pydantic).

        Raises:
            ParamsError: the stored params do not fit the flow's signature (its code changed).
        """
        key = (item.code.key, item.run_id)
        found = self._params.get(key)
        if found is None:
            if len(self._params) >= self._limit:
                self._params.clear()
            found = self._params[key] = flow.validate_params(item.params)
        return found

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
    """Run ``item`` (a try, a callback call or a cache-key call) and report how it ended.

    Never raises for an error of the user's code: that is the report's ``error``.
    """
    if item.kind == WorkKind.CALLBACK:
        return _run_callbacks(item, flow, in_process)
    started = _now()
    label = item.task_id if item.map_index < 0 else f"{item.task_id}[{item.map_index}]"
    cache = cache or InputCache()
    try:
        node = flow.graph.nodes[item.task_id]
        task = flow.tasks[item.task_id]
    except KeyError:
        return _failed(
            item, started, f"flow {flow.name!r} has no task {item.task_id!r} (has its file changed?)"
        )
    policy = node.policy
    with capture(_log(item, item.log_key), fd_level=not in_process) as log:
        token = None
        try:
            params = cache.params(item, flow)
            token = set_context(
                TaskContext(
                    flow_name=flow.name,
                    run_id=item.run_id,
                    task_id=item.task_id,
                    map_index=item.map_index,
                    try_number=item.try_number,
                    params=params,
                    logical_date=item.logical_date,
                    data_interval=item.data_interval,
                )
            )
            args, kwargs = _arguments(node, item, params, cache)
            if item.kind == WorkKind.CACHE_KEY:
                assert policy.cache.key_fn is not None
                key = str(policy.cache.key_fn(*args, **kwargs))
                return Finished(
                    key=item.key, outcome=Outcome.SUCCESS, started_at=started, ended_at=_now(), cache_key=key
                )
            if policy.complete is not None and policy.complete(*args, **kwargs):
                log.write(f"{label}: complete() says its work is already done; the task was not called\n")
                ref = _store(None, item, label, keep=False)
                return Finished(
                    key=item.key,
                    outcome=Outcome.SUCCESS,
                    started_at=started,
                    ended_at=_now(),
                    result=ref,
                    complete=True,
                )
            with _time_limit(item.timeout if in_process else None, label):
                value = task.fn(*args, **kwargs)
            branch = tuple(_branch_targets(value, flow, item.task_id)) if policy.branch else None
            length = None
            if item.report_length:
                try:
                    length = len(value)
                except TypeError:
                    raise WeirError(
                        f"task {label} returned a {type(value).__name__}, but a mapped task fans out over "
                        "its result: return a list"
                    ) from None
            ref = _store(value, item, f"task {label}", keep=in_process)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            tb = traceback.format_exc()
            log.write(tb)
            error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, MemoryError):
                error = memory_error_text(exc)  # with the limits that applied and what was asked
                log.write(error + "\n")
            retryable = _retryable(policy.retry, exc, log)
            return _failed(item, started, error, tb, retryable=retryable)
        finally:
            if token is not None:
                reset_context(token)
    return Finished(
        key=item.key,
        outcome=Outcome.SUCCESS,
        started_at=started,
        ended_at=_now(),
        result=ref,
        length=length,
        branch=branch,
    )


def not_run(key: TryKey, item: WorkItem | None, exc: BaseException, started: datetime) -> Finished:
    """The failed report of a try weir could not load or run (its flow's code cannot be found,
    the item cannot be unpickled, its stores cannot be opened); the traceback goes to its log
    when it has one. Every executor reports such a try this one way.
    """
    tb = "".join(traceback.format_exception(exc))
    if item is not None and item.log_key:
        with contextlib.suppress(Exception):
            log = _log(item, item.log_key)
            log.write(tb)
            log.close()
    if isinstance(exc, FlowLoadError):
        error = str(exc)
    else:
        what = "could not load the try" if item is None else "could not run the task"
        error = f"{what}: {type(exc).__name__}: {exc}"
    return Finished(
        key=key, outcome=Outcome.FAILED, started_at=started, ended_at=_now(), error=error, traceback=tb
    )


def _log(item: WorkItem, key: str) -> LogWriter:
    return log_store(item.storage.logs_url).writer(key)


def _store(value: Any, item: WorkItem, what: str, *, keep: bool) -> ResultRef:
    return results.store(
        value,
        what=what,
        inline_max=item.storage.inline_max,
        results=results.result_store(item.storage.results_url),
        key=item.result_key,
        keep_value=keep,
    )


def _arguments(
    node: Node, item: WorkItem, params: dict[str, Any], cache: InputCache
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    lookup = _lookup(item, params, cache)
    if node.mapped:
        source = resolve(node.map_over, lookup)
        element = (source if isinstance(source, list | tuple) else list(source))[item.map_index]
        plain_lookup = lookup

        def lookup(marker: Any) -> Any:
            return element if isinstance(marker, MapElement) else plain_lookup(marker)

    return resolve(node.args, lookup), resolve(node.kwargs, lookup)


def _retryable(policy: RetryPolicy, exc: BaseException, log: Any) -> bool:
    """Whether ``retry_on``/``retry_if`` allow a retry after ``exc`` (no rule: yes)."""
    if policy.on_types and not isinstance(exc, policy.on_types):
        log.write(f"not retried: {type(exc).__name__} is not one of retry_on\n")
        return False
    if policy.condition is not None:
        try:
            allowed = bool(policy.condition(exc))
        except Exception as check_error:
            log.write(f"not retried: retry_if raised {type(check_error).__name__}: {check_error}\n")
            return False
        if not allowed:
            log.write("not retried: retry_if returned False\n")
        return allowed
    return True


@contextlib.contextmanager
def _time_limit(seconds: float | None, label: str) -> Iterator[None]:
    """Interrupt Python code after ``seconds`` (main thread only; worker processes are killed
    by the scheduler instead, which also stops code stuck in C)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise TaskTimeoutError(f"task {label} timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _failed(
    item: WorkItem, started: datetime, error: str, tb: str | None = None, *, retryable: bool = True
) -> Finished:
    return Finished(
        key=item.key,
        outcome=Outcome.FAILED,
        started_at=started,
        ended_at=_now(),
        error=error,
        traceback=tb,
        retryable=retryable,
    )


def _lookup(item: WorkItem, params: dict[str, Any], cache: InputCache) -> Any:
    def lookup(marker: Any) -> Any:
        if isinstance(marker, TaskOutput):
            ref = item.inputs.get(marker.task_id)
            if ref is None:
                return None  # an upstream that was skipped or failed (lenient trigger rules)
            if isinstance(ref, list):
                return [cache.load(r) for r in ref]
            return cache.load(ref)
        if isinstance(marker, ParamValue):
            return params.get(marker.name)
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


def _run_callbacks(item: WorkItem, flow: Flow, in_process: bool) -> Finished:
    """Call the task's or flow's callbacks for one event; an error in one is logged, never raised."""
    started = _now()
    call = item.callback
    assert call is not None
    callbacks: tuple[Any, ...]
    if item.task_id:
        node = flow.graph.nodes.get(item.task_id)
        callbacks = node.policy.callbacks.for_event(call.event) if node else ()
    else:
        callbacks = {"success": flow.on_success, "failure": flow.on_failure}.get(call.event, ())
    context = CallbackContext(
        event=call.event,
        flow_name=flow.name,
        run_id=item.run_id,
        state=call.state,
        task_id=item.task_id or None,
        map_index=item.map_index,
        try_number=item.try_number,
        error=call.error,
        traceback=call.traceback,
        log_path=f"{item.storage.logs_url.rstrip('/')}/{call.task_log}" if call.task_log else None,
        reason=call.reason,
        params=item.params,
        url=_run_url(item.run_id),
    )
    errors: list[str] = []
    with capture(_log(item, item.log_key), fd_level=not in_process) as log:
        for callback in callbacks:
            name = (
                getattr(callback, "name", None) or getattr(callback, "__qualname__", None) or repr(callback)
            )
            try:
                callback(context)
                log.write(f"{call.event} callback {name}: done\n")
            except Exception as exc:
                log.write(f"{call.event} callback {name} raised {type(exc).__name__}: {exc}\n")
                log.write(traceback.format_exc())
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return Finished(
        key=item.key,
        outcome=Outcome.FAILED if errors else Outcome.SUCCESS,
        started_at=started,
        ended_at=_now(),
        error="; ".join(errors) or None,
    )


def _run_url(run_id: int) -> str:
    import os

    base = os.environ.get("WEIR_UI_URL", "http://127.0.0.1:8642").rstrip("/")
    return f"{base}/runs/{run_id}"
