"""Where task code runs. Every executor implements :class:`~weir.executors.base.Executor`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from weir.errors import ExecutorError

if TYPE_CHECKING:
    from weir.executors.base import Executor
    from weir.settings import Settings

NAMES = ("inline", "local")


def create_executor(name: str, settings: Settings) -> Executor:
    """A new, not yet started executor called ``name``.

    Raises:
        ExecutorError: ``name`` is not an executor weir has.
    """
    if name == "inline":
        from weir.executors.inline import InlineExecutor

        return InlineExecutor()
    if name == "local":
        from weir.executors.local import LocalExecutor

        return LocalExecutor(size=settings.pool_size)
    raise ExecutorError(f"unknown executor {name!r}: choose one of {', '.join(NAMES)}")
