"""Executors by name: the built-in ones, and any a package adds through the entry-point group
``weir.executors`` (``name = "package.module:Factory"``; the factory takes the settings and
returns a new, not yet started :class:`~weir.executors.base.Executor`).

Names are known without importing an executor's module, so settings are checked cheaply.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from weir.errors import ExecutorError

if TYPE_CHECKING:
    from weir.executors.base import Executor
    from weir.settings import Settings

#: The entry-point group a package registers executors in.
GROUP = "weir.executors"

_BUILT_IN = {
    "inline": "weir.executors.inline:create",
    "local": "weir.executors.local:create",
}


def names() -> list[str]:
    """Every executor name: the built-in ones, then those of installed packages."""
    found = dict(_BUILT_IN)
    for point in entry_points(group=GROUP):
        found.setdefault(point.name, point.value)
    return list(found)


def _factory(name: str) -> Callable[[Settings], Executor]:
    target = _BUILT_IN.get(name)
    if target is None:
        point = next((p for p in entry_points(group=GROUP) if p.name == name), None)
        if point is None:
            raise ExecutorError(f"unknown executor {name!r}: choose one of {', '.join(names())}")
        target = point.value
    module_name, _, attr = target.partition(":")
    try:
        factory: Callable[[Settings], Executor] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ExecutorError(f"executor {name!r} ({target}) cannot be loaded: {exc}") from None
    return factory


def create_executor(name: str, settings: Settings) -> Executor:
    """A new, not yet started executor called ``name``.

    Raises:
        ExecutorError: ``name`` is not an executor weir knows, or its module does not load.
    """
    return _factory(name)(settings)


_shared: dict[tuple[str, str], Executor] = {}
_shared_lock = threading.Lock()


def executor_for(settings: Settings) -> Executor:
    """A started executor for ``settings``. One that declares ``reusable`` (the local pool) is
    started once per process and shared; any other is new, and the caller must :func:`release` it."""
    import atexit

    key = (settings.executor, repr(settings.pool_size))
    with _shared_lock:
        shared = _shared.get(key)
        if shared is not None:
            return shared
        executor = create_executor(settings.executor, settings)
        if not executor.capabilities.reusable:
            executor.start()
            return executor
        executor.start()
        _shared[key] = executor
        atexit.register(executor.shutdown)
    return executor


def release(executor: Executor) -> None:
    """Done with ``executor``: shut it down unless it is a shared (reusable) one."""
    if not executor.capabilities.reusable:
        executor.shutdown()


def shutdown_shared() -> None:
    """Stop the process's shared executors (they also stop at interpreter exit)."""
    with _shared_lock:
        for executor in _shared.values():
            executor.shutdown()
        _shared.clear()
