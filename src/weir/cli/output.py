"""Printing helpers shared by the commands: consoles, errors, JSON, times and durations.

Only light modules are imported here (the standard library, Typer, Rich), so that
``weir --help`` stays fast; the store and the SDK are imported inside the commands.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, TextIO, TypeVar

import typer
from rich.console import Console

from weir.errors import WeirError

#: Exit code of a command refused for bad input (a bad FILE.py:FLOW, params, run id, ...).
EXIT_BAD_INPUT = 2

F = TypeVar("F", bound=Callable[..., Any])


def stdout_console() -> Console:
    """A console on the stdout of this moment.

    Taken when a command starts, because the inline executor points ``sys.stdout`` at the
    running task's log file while the task runs.
    """
    return Console(file=sys.stdout, highlight=False, width=_width(sys.stdout))


def stderr_console() -> Console:
    """A console on the stderr of this moment (see :func:`stdout_console`)."""
    return Console(file=sys.stderr, highlight=False, width=_width(sys.stderr))


#: The width of output that goes to a file or a pipe: wide enough that no row is cut or folded,
#: so ``weir runs list | grep ...`` sees whole lines (rich would assume 80 columns).
PIPE_WIDTH = 1000


def _width(stream: TextIO) -> int | None:
    """None (rich measures the terminal, or reads ``COLUMNS``) on a terminal or when ``COLUMNS``
    is set; :data:`PIPE_WIDTH` otherwise."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return None if tty or os.environ.get("COLUMNS") else PIPE_WIDTH


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise typer.Exit(code)


def handles_errors(command: F) -> F:
    """Turn a :class:`WeirError` raised by ``command`` into one ``error:`` line and exit 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except WeirError as exc:
            fail(str(exc) or type(exc).__name__)

    return wrapper  # type: ignore[return-value]  # functools.wraps gives it command's signature


def print_json(value: Any) -> None:
    """Write ``value`` as indented JSON on stdout (datetimes as ISO 8601)."""
    sys.stdout.write(json.dumps(value, indent=2, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return repr(value)


def jsonable(value: Any) -> tuple[bool, Any]:
    """``(True, value)`` when ``value`` is JSON as it is, else ``(False, repr(value))``."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False, repr(value)
    return True, value


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(value: datetime | None) -> str:
    """A UTC time for tables: ``2024-01-02 03:04:05``; empty when there is none."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    """A duration for tables: ``0.42s``, ``12.3s``, ``4m05s``; empty when there is none."""
    if value is None:
        return ""
    if value < 10:
        return f"{value:.2f}s"
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


STATE_STYLES = {
    "success": "green",
    "failed": "red",
    "upstream_failed": "red",
    "cancelled": "magenta",
    "running": "cyan",
    "queued": "blue",
    "scheduled": "blue",
    "up_for_retry": "yellow",
    "interrupted": "yellow",
    "skipped": "dim",
    "pending": "dim",
}


def styled(state: str | None) -> str:
    """``state`` as Rich markup in its colour (plain text when colours are off)."""
    if not state:
        return ""
    style = STATE_STYLES.get(state)
    return f"[{style}]{state}[/{style}]" if style else state


def first_line(text: str | None) -> str:
    """The first non-empty line of ``text`` (descriptions, errors)."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""
