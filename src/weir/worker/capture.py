"""Capturing a try's output into its log file, written as the task runs."""

from __future__ import annotations

import contextlib
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

    With ``fd_level`` (a worker process of its own) file descriptors 1 and 2 are redirected
    too, so output from C code and subprocesses lands in the log. Without it (the inline
    executor, sharing a terminal with the CLI) only Python's ``sys.stdout``/``sys.stderr``
    are swapped. The file is line-buffered, so the log can be read while the task runs.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    log = open(path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    handler = logging.StreamHandler(log)
    handler.setFormatter(_FORMAT)
    root = logging.getLogger()
    old_level = root.level
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
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
        root.setLevel(old_level)
        log.close()
