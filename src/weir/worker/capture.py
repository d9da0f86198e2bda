"""Capturing a try's output into its log file, written as the task runs."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


@contextlib.contextmanager
def capture(path: Path, *, fd_level: bool) -> Iterator[TextIO]:
    """Send stdout, stderr and ``logging`` records to ``path`` while the block runs.

    The root logger's level is the executor's business (a worker sets INFO once), not
    changed here per try.

    With ``fd_level`` (a worker process of its own) file descriptors 1 and 2 are redirected
    too, so output from C code and subprocesses lands in the log. Without it (the inline
    executor, sharing a terminal with the CLI) only Python's ``sys.stdout``/``sys.stderr``
    are swapped. The file is line-buffered, so the log can be read while the task runs.
    """
    # _LazyLog is an io.TextIOBase, which typeshed does not count as a typing.TextIO.
    log: TextIO = _open(path) if fd_level else _LazyLog(path)  # type: ignore[assignment]
    handler = logging.StreamHandler(log)
    handler.setFormatter(_FORMAT)
    root = logging.getLogger()
    root.addHandler(handler)
    saved_fds: tuple[int, int] | None = None
    old_streams = (sys.stdout, sys.stderr)
    try:
        if fd_level:
            for stream in old_streams:
                with contextlib.suppress(Exception):
                    stream.flush()
            saved_fds = (os.dup(1), os.dup(2))
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
        yield log
    finally:
        sys.stdout, sys.stderr = old_streams
        with contextlib.suppress(Exception):
            log.flush()
        if saved_fds is not None:
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])
        root.removeHandler(handler)
        log.close()


def _open(path: Path) -> TextIO:
    try:
        return open(path, "a", buffering=1, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a", buffering=1, encoding="utf-8", errors="replace")


class _LazyLog(io.TextIOBase):
    """A log file created on the first write: a try that prints nothing costs no file.

    (Creating a file costs ~0.1 ms here, a third of the inline executor's budget per task.)
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: TextIO | None = None

    def _real(self) -> TextIO:
        if self._file is None:
            self._file = _open(self._path)
        return self._file

    def write(self, text: str) -> int:
        return self._real().write(text)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def fileno(self) -> int:
        return self._real().fileno()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]  # typeshed: a writable attribute; read-only here
        return "utf-8"

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None  # TextIOBase.close() flushes: it must not reach the closed file
        super().close()
