"""A task's policy as grouped, validated values: retries, the cache, callbacks, placement.

Each group is a frozen value, validated in one place (:func:`task_policy`, which takes the
options as users write them on ``@weir.task`` and ``.options()``). Callables (callbacks,
``retry_if``, ``cache_key_fn``, ``complete``) are :class:`Hook` s: in a process that loaded the
flow's code a hook holds the function; read back from a stored snapshot it holds only its
readable name. The engine only asks whether a hook exists; workers, which load the code, call it.
"""

from __future__ import annotations

import builtins
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from weir.errors import TaskTimeoutError, WeirError
from weir.graph.triggers import TriggerRule

#: Pool names: what ``weir pools set NAME`` accepts.
POOL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}")


@dataclass(frozen=True, slots=True)
class Hook:
    """A callable of the flow's code: its readable name, and the function where the code is loaded."""

    name: str
    fn: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> Hook:
        """A hook for ``fn``, named by its qualified name (or its repr, for callable objects)."""
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
        return cls(name=str(name)[:200], fn=fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fn is None:
            raise WeirError(
                f"{self.name} was read from a stored snapshot: only a worker with the code can call it"
            )
        return self.fn(*args, **kwargs)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How many times a failed try is tried again, and after how long.

    Attributes:
        retries: extra tries after a failure.
        delay, backoff, max_delay, jitter: the wait before a retry (see :meth:`wait`), seconds.
        on: names of the exception classes that are retried (empty: every error).
        on_types: those classes, where the code is loaded (not stored).
        condition: ``retry_if``, a predicate of the exception.
        on_timeout: whether a try stopped by its timeout may be retried (``on`` allows
            :class:`~weir.errors.TaskTimeoutError`); decided where the classes are known.
    """

    retries: int = 0
    delay: float = 0.0
    backoff: float = 1.0
    jitter: float = 0.0
    max_delay: float | None = None
    on: tuple[str, ...] = ()
    on_types: tuple[type[BaseException], ...] = field(default=(), compare=False, repr=False)
    condition: Hook | None = None
    on_timeout: bool = True

    def wait(self, failed_try: int, rand: float) -> float:
        """Seconds to wait before the try after ``failed_try`` (1-based), given ``rand`` in [0, 1).

        ``delay * backoff ** (failed_try - 1)``, capped at ``max_delay``, then spread by up to
        ``jitter`` of itself either way.
        """
        wait = self.delay * self.backoff ** (failed_try - 1)
        if self.max_delay is not None:
            wait = min(wait, self.max_delay)
        if self.jitter:
            wait *= 1 + self.jitter * (2 * rand - 1)
        return max(0.0, wait)


@dataclass(frozen=True, slots=True, kw_only=True)
class CachePolicy:
    """Whether a task's result is reused for the same code and inputs, and for how long."""

    enabled: bool = False
    key_fn: Hook | None = None
    expires: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Callbacks:
    """What is called when a task run succeeds, fails, or is retried."""

    on_success: tuple[Hook, ...] = ()
    on_failure: tuple[Hook, ...] = ()
    on_retry: tuple[Hook, ...] = ()

    def for_event(self, event: str) -> tuple[Hook, ...]:
        """The callbacks of ``success``, ``failure`` or ``retry``."""
        return {"success": self.on_success, "failure": self.on_failure, "retry": self.on_retry}[event]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskPolicy:
    """How a task is run: retries, timeout, trigger rule, cache, callbacks and placement.

    Attributes:
        timeout: seconds a try may run (None: no limit).
        pool: the pool whose slots limit how many tries of tasks in it run at once.
        priority: a higher number is dispatched first when slots are scarce.
        tags: labels for filtering.
        branch: the task returns the ids of the downstream tasks to follow.
        complete: a predicate of the task's arguments: True means its work is already done.
    """

    retry: RetryPolicy = RetryPolicy()
    cache: CachePolicy = CachePolicy()
    callbacks: Callbacks = Callbacks()
    timeout: float | None = None
    trigger: TriggerRule = TriggerRule.ALL_SUCCESS
    pool: str | None = None
    priority: int = 0
    tags: tuple[str, ...] = ()
    branch: bool = False
    complete: Hook | None = None

    def to_dict(self) -> dict[str, Any]:
        """The policy as JSON-able data (hooks by name), as a flow snapshot stores it."""
        retry, cache, callbacks = self.retry, self.cache, self.callbacks
        return {
            "retry": {
                "retries": retry.retries,
                "delay": retry.delay,
                "backoff": retry.backoff,
                "jitter": retry.jitter,
                "max_delay": retry.max_delay,
                "on": list(retry.on),
                "condition": _hook_name(retry.condition),
                "on_timeout": retry.on_timeout,
            },
            "cache": {"enabled": cache.enabled, "key_fn": _hook_name(cache.key_fn), "expires": cache.expires},
            "callbacks": {
                "success": [h.name for h in callbacks.on_success],
                "failure": [h.name for h in callbacks.on_failure],
                "retry": [h.name for h in callbacks.on_retry],
            },
            "timeout": self.timeout,
            "trigger": str(self.trigger),
            "pool": self.pool,
            "priority": self.priority,
            "tags": list(self.tags),
            "branch": self.branch,
            "complete": _hook_name(self.complete),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskPolicy:
        """A policy read back from :meth:`to_dict`: hooks have names only, no functions."""
        retry = data.get("retry", {})
        cache = data.get("cache", {})
        callbacks = data.get("callbacks", {})
        return cls(
            retry=RetryPolicy(
                retries=int(retry.get("retries", 0)),
                delay=float(retry.get("delay", 0.0)),
                backoff=float(retry.get("backoff", 1.0)),
                jitter=float(retry.get("jitter", 0.0)),
                max_delay=retry.get("max_delay"),
                on=tuple(retry.get("on", ())),
                condition=_hook(retry.get("condition")),
                on_timeout=bool(retry.get("on_timeout", True)),
            ),
            cache=CachePolicy(
                enabled=bool(cache.get("enabled", False)),
                key_fn=_hook(cache.get("key_fn")),
                expires=cache.get("expires"),
            ),
            callbacks=Callbacks(
                on_success=tuple(Hook(n) for n in callbacks.get("success", ())),
                on_failure=tuple(Hook(n) for n in callbacks.get("failure", ())),
                on_retry=tuple(Hook(n) for n in callbacks.get("retry", ())),
            ),
            timeout=data.get("timeout"),
            trigger=TriggerRule(data.get("trigger", "all_success")),
            pool=data.get("pool"),
            priority=int(data.get("priority", 0)),
            tags=tuple(data.get("tags", ())),
            branch=bool(data.get("branch", False)),
            complete=_hook(data.get("complete")),
        )


def _hook_name(hook: Hook | None) -> str | None:
    return None if hook is None else hook.name


def _hook(name: str | None) -> Hook | None:
    return None if name is None else Hook(name)


#: The options ``@weir.task`` and ``.options()`` take, as users write them.
TASK_OPTIONS = frozenset(
    {
        "retries",
        "retry_delay",
        "retry_backoff",
        "retry_jitter",
        "max_retry_delay",
        "retry_on",
        "retry_if",
        "timeout",
        "trigger",
        "pool",
        "priority",
        "tags",
        "branch",
        "on_success",
        "on_failure",
        "on_retry",
        "cache",
        "cache_key_fn",
        "cache_expires",
        "complete",
    }
)


def task_policy(base: TaskPolicy | None = None, **options: Any) -> TaskPolicy:
    """``base`` (default: the defaults) with the user's ``options`` applied, each one checked.

    This is the one place where a task option is validated.

    Raises:
        ValueError: an unknown option or a bad value, naming the option.
    """
    unknown = set(options) - TASK_OPTIONS
    if unknown:
        raise ValueError(f"unknown task option(s): {', '.join(sorted(unknown))}")
    policy = base or TaskPolicy()
    retry, cache, callbacks = policy.retry, policy.cache, policy.callbacks
    retry_changes: dict[str, Any] = {}
    if "retries" in options:
        retries = options["retries"]
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ValueError(f"retries must be a whole number >= 0, not {retries!r}")
        retry_changes["retries"] = retries
    if "retry_delay" in options:
        retry_changes["delay"] = seconds("retry_delay", options["retry_delay"], allow_zero=True)
    if "retry_backoff" in options:
        backoff = options["retry_backoff"]
        if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 1:
            raise ValueError(f"retry_backoff must be a number >= 1 (a multiplier), not {backoff!r}")
        retry_changes["backoff"] = float(backoff)
    if "retry_jitter" in options:
        jitter = options["retry_jitter"]
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter <= 1:
            raise ValueError(f"retry_jitter must be a fraction between 0 and 1, not {jitter!r}")
        retry_changes["jitter"] = float(jitter)
    if "max_retry_delay" in options:
        value = options["max_retry_delay"]
        retry_changes["max_delay"] = (
            None if value is None else seconds("max_retry_delay", value, allow_zero=False)
        )
    if "retry_on" in options:
        types = exception_types(options["retry_on"])
        retry_changes["on_types"] = types
        retry_changes["on"] = tuple(f"{t.__module__}.{t.__qualname__}" for t in types)
        retry_changes["on_timeout"] = not types or issubclass(TaskTimeoutError, types)
    if "retry_if" in options:
        retry_changes["condition"] = _optional_hook("retry_if", options["retry_if"])
    if retry_changes:
        retry = replace(retry, **retry_changes)

    cache_changes: dict[str, Any] = {}
    if "cache" in options:
        cache_changes["enabled"] = bool(options["cache"])
    if "cache_expires" in options:
        value = options["cache_expires"]
        cache_changes["expires"] = (
            None if value is None else seconds("cache_expires", value, allow_zero=False)
        )
    if "cache_key_fn" in options:
        cache_changes["key_fn"] = _optional_hook("cache_key_fn", options["cache_key_fn"])
    if options.get("cache_key_fn") is not None or options.get("cache_expires") is not None:
        if options.get("cache") is False:
            raise ValueError("cache_key_fn and cache_expires need the cache: drop cache=False")
        cache_changes["enabled"] = True  # as in Prefect: a cache key function turns the cache on
    if cache_changes:
        cache = replace(cache, **cache_changes)

    callback_changes = {
        name: tuple(Hook.of(fn) for fn in callables(name, options[name]))
        for name in ("on_success", "on_failure", "on_retry")
        if name in options
    }
    if callback_changes:
        callbacks = replace(callbacks, **callback_changes)

    changes: dict[str, Any] = {"retry": retry, "cache": cache, "callbacks": callbacks}
    if "timeout" in options:
        value = options["timeout"]
        changes["timeout"] = None if value is None else seconds("timeout", value, allow_zero=False)
    if "trigger" in options:
        try:
            changes["trigger"] = TriggerRule(options["trigger"])
        except ValueError:
            rules = ", ".join(r.value for r in TriggerRule)
            raise ValueError(f"unknown trigger rule {options['trigger']!r}: choose one of {rules}") from None
    if "priority" in options:
        priority = options["priority"]
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise ValueError(f"priority must be a whole number, not {priority!r}")
        changes["priority"] = priority
    if "pool" in options:
        changes["pool"] = pool_name(options["pool"])
    if "tags" in options:
        changes["tags"] = tag_list(options["tags"])
    if "branch" in options:
        changes["branch"] = bool(options["branch"])
    if "complete" in options:
        changes["complete"] = _optional_hook("complete", options["complete"])
    return replace(policy, **changes)


def pool_name(value: Any) -> str | None:
    """A pool name (or None), else ``ValueError``."""
    if value is None:
        return None
    if not isinstance(value, str) or not POOL_NAME.fullmatch(value):
        raise ValueError(f"pool must be a name of letters, digits, _ . and - (at most 100), not {value!r}")
    return value


def tag_list(value: Any) -> tuple[str, ...]:
    """Tags: a list of non-empty strings, else ``ValueError``."""
    if isinstance(value, str) or not all(isinstance(t, str) and t.strip() for t in value):
        raise ValueError(f"tags must be a list of non-empty strings, not {value!r}")
    return tuple(value)


def seconds(name: str, value: Any, *, allow_zero: bool) -> float:
    """``value`` (a number of seconds or a timedelta) as float seconds, else ``ValueError``."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be seconds (a number) or a timedelta, not {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound} seconds, not {value!r}")
    return float(value)


def callables(name: str, value: Any) -> tuple[Callable[..., Any], ...]:
    """One callable or a list of them (None: none); anything else is refused naming ``name``."""
    if value is None:
        return ()
    items = list(value) if isinstance(value, list | tuple) else [value]
    for item in items:
        if not callable(item):
            raise ValueError(f"{name} must be a callable or a list of callables, not {item!r}")
    return tuple(items)


def _optional_hook(name: str, value: Any) -> Hook | None:
    if value is None:
        return None
    if not callable(value):
        raise ValueError(f"{name} must be a callable, not {value!r}")
    return Hook.of(value)


def exception_types(value: Any) -> tuple[type[BaseException], ...]:
    """Exception classes from classes or names (``"TimeoutError"``, ``"requests.HTTPError"``)."""
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
