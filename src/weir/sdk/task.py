"""``@weir.task``: a Python function with an orchestration policy.

Outside a flow a task is a plain function call. Inside a traced flow body a call
records a node and returns a :class:`~weir.sdk.trace.TaskRef`.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, overload

from weir.errors import FlowDefinitionError
from weir.graph.model import MAP_ELEMENT
from weir.graph.policy import TaskPolicy, task_policy
from weir.sdk.trace import caller_location, current_tracer

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def _location_of(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return "<unknown>"
    return f"{code.co_filename}:{code.co_firstlineno}"


class Task:
    """A function plus its policy. Create with :func:`task`."""

    def __init__(self, fn: Callable[..., Any], *, name: str, policy: TaskPolicy) -> None:
        self.fn = fn
        self.name = name
        self.policy = policy
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<weir.task {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracer = current_tracer()
        if tracer is None:
            return self.fn(*args, **kwargs)
        return tracer.add_call(self, self.policy, args, kwargs)

    def options(self, *, task_id: str | None = None, **overrides: Any) -> TaskCall:
        """The same task with per-call overrides, e.g. ``load.options(retries=0, trigger="all_done")(x)``.

        ``task_id`` names this call's node explicitly (it must be unique in the flow).
        """
        try:
            policy = task_policy(self.policy, **overrides)
        except ValueError as exc:
            raise FlowDefinitionError(f"{caller_location()}: task {self.name!r}: {exc}") from None
        if task_id is not None and (
            not isinstance(task_id, str) or len(task_id) > 200 or not _NAME.fullmatch(task_id)
        ):
            raise FlowDefinitionError(
                f"{caller_location()}: task_id {task_id!r} must start with a letter or _ and hold only "
                "letters, digits, _ . and - (at most 200)"
            )
        return TaskCall(self, policy, task_id)

    def map(self, over: Any, **fixed: Any) -> Any:
        """Fan out: one task run per element of ``over``, passed as the first argument.

        ``over`` is a list or a reference to a list produced upstream; ``fixed`` are keyword
        arguments shared by every element. Outside a flow this is a list comprehension.
        """
        return TaskCall(self, self.policy, None).map(over, **fixed)

    @functools.cached_property
    def code_hash(self) -> str:
        """A hash of the task's source (its bytecode when the source cannot be read): the
        part of a cache key that changes when the code does."""
        try:
            source = inspect.getsource(self.fn).encode()
        except (OSError, TypeError):
            source = getattr(getattr(self.fn, "__code__", None), "co_code", repr(self.fn).encode())
        return hashlib.sha256(source).hexdigest()[:16]

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.fn)

    @property
    def first_param(self) -> str:
        params = list(self.signature.parameters.values())
        if not params or params[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise FlowDefinitionError(
                f"{caller_location()}: task {self.name!r} cannot be mapped: "
                "its first parameter must take the mapped element"
            )
        return params[0].name


class TaskCall:
    """A task bound to per-call options; call it or ``.map`` it inside a flow."""

    def __init__(self, task: Task, policy: TaskPolicy, task_id: str | None) -> None:
        self.task = task
        self.policy = policy
        self.task_id = task_id

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracer = current_tracer()
        if tracer is None:
            return self.task.fn(*args, **kwargs)
        return tracer.add_call(self.task, self.policy, args, kwargs, task_id=self.task_id)

    def map(self, over: Any, **fixed: Any) -> Any:
        tracer = current_tracer()
        if tracer is None:
            return [self.task.fn(item, **fixed) for item in over]
        self.task.first_param  # noqa: B018 - validates that the task can be mapped
        return tracer.add_call(
            self.task, self.policy, (MAP_ELEMENT,), fixed, task_id=self.task_id, map_over=over, mapped=True
        )


@overload
def task(fn: Callable[..., Any], /) -> Task: ...
@overload
def task(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay: float | timedelta = 0.0,
    retry_backoff: float = 1.0,
    retry_jitter: float = 0.0,
    max_retry_delay: float | timedelta | None = None,
    retry_on: type[BaseException] | str | Sequence[type[BaseException] | str] = (),
    retry_if: Callable[[BaseException], bool] | None = None,
    timeout: float | timedelta | None = None,
    trigger: str = "all_success",
    pool: str | None = None,
    priority: int = 0,
    tags: Sequence[str] = (),
    branch: bool = False,
    on_success: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
    on_failure: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
    on_retry: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
    cache: bool = False,
    cache_key_fn: Callable[..., Any] | None = None,
    cache_expires: float | timedelta | None = None,
    complete: Callable[..., bool] | None = None,
) -> Callable[[Callable[..., Any]], Task]: ...


def task(fn: Callable[..., Any] | None = None, /, *, name: str | None = None, **policy: Any) -> Any:
    """Make a function a weir task, with or without arguments.

    Args:
        name: the task's name (default: the function's name); node ids derive from it.
        retries: extra tries after a failure (>= 0).
        retry_delay, retry_backoff, max_retry_delay, retry_jitter: the wait before a retry:
            ``retry_delay * retry_backoff ** (try - 1)`` seconds, capped, spread by the jitter.
        retry_on, retry_if: which errors are retried (exception classes or their names; a predicate).
        timeout: seconds (or a timedelta) a try may run; > 0.
        trigger: the trigger rule (``all_success``, ``all_done``, ``all_failed``, ``one_success``,
            ``one_failed``, ``none_failed``, ``none_skipped``, ``always``).
        pool: the pool whose slots limit how many of its tasks run at once (``weir pools set``).
        priority: a higher number runs first when slots are scarce.
        tags: labels for filtering.
        branch: the task returns the task id (or ids) of the downstream nodes to follow; the
            other direct downstream nodes are skipped.
        on_success, on_failure, on_retry: callbacks (a callable or a list), for example notifiers.
        cache, cache_key_fn, cache_expires: reuse a stored result for the same code and inputs.
        complete: a predicate of the task's arguments; True means its work is already done.

    Raises:
        FlowDefinitionError: an option with a bad value, naming the function's file and line.
    """

    def wrap(func: Callable[..., Any]) -> Task:
        if not callable(func):
            raise FlowDefinitionError(f"@weir.task decorates a function, not {func!r}")
        try:
            made = task_policy(TaskPolicy(), **policy)
        except ValueError as exc:
            raise FlowDefinitionError(f"{_location_of(func)}: task {func.__name__!r}: {exc}") from None
        task_name = name or func.__name__
        if not _NAME.fullmatch(task_name):
            raise FlowDefinitionError(
                f"{_location_of(func)}: task name {task_name!r} may hold only letters, digits, _ . and -"
            )
        return Task(func, name=task_name, policy=made)

    if fn is not None:
        return wrap(fn)
    return wrap
