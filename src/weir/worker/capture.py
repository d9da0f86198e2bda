"""Capturing a try's output into its log (a writer of the log store), written as the task runs.

A log is created on the first write (see :class:`~weir.io.logs.LogWriter`), so a try that prints
and logs nothing costs no file: creating a file costs 0.1-0.9 ms on the machines measured here,
more than the rest of weir's work for a no-op task.

In a worker process of the local executor, file descriptors 1 and 2 are a pipe that one
thread (:class:`FdForwarder`) reads and copies into the current try's log, so output of C
code and subprocesses is captured too, while the task runs, without a file per try up front.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator
from typing import TextIO

from weir.io.logs import LogWriter

_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


@contextlib.contextmanager
def capture(log: LogWriter, *, fd_level: bool) -> Iterator[LogWriter]:
    """Send stdout, stderr and ``logging`` records to the try's ``log`` while the block runs.

    The root logger's level is the executor's business (a worker sets INFO once), not
    changed here per try.

    With ``fd_level`` (a worker process of its own) what is written to file descriptors 1
    and 2 lands in the log too (through the process's :class:`FdForwarder`, or, when none is
    installed and the log is a local file, by pointing the descriptors at it for the try).
    Without it (the inline executor, sharing a terminal with the CLI) only Python's
    ``sys.stdout``/``sys.stderr`` are swapped. Writes are line-buffered, so the log can be read
    while the task runs.
    """
    # LogWriter is an io.TextIOBase, which typeshed does not count as a typing.TextIO.
    stream: TextIO = log  # type: ignore[assignment]
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_FORMAT)
    root = logging.getLogger()
    root.addHandler(handler)
    saved_fds: tuple[int, int] | None = None
    old_streams = (sys.stdout, sys.stderr)
    forwarder = FdForwarder.installed if fd_level else None
    try:
        for old in old_streams:
            with contextlib.suppress(Exception):
                old.flush()
        if forwarder is not None:
            forwarder.start_try(log)
        elif fd_level:
            with contextlib.suppress(io.UnsupportedOperation):
                fileno = log.fileno()
                saved_fds = (os.dup(1), os.dup(2))
                os.dup2(fileno, 1)
                os.dup2(fileno, 2)
        sys.stdout = sys.stderr = stream
        yield log
    finally:
        sys.stdout, sys.stderr = old_streams
        if forwarder is not None:
            forwarder.end_try()
        with contextlib.suppress(Exception):
            log.flush()
        if saved_fds is not None:
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])
        root.removeHandler(handler)
        log.close()


class FdForwarder:
    """Points file descriptors 1 and 2 of this process at a pipe and copies what arrives into
    the current try's log (or, between tries, to the process's original stderr).

    :meth:`end_try` sends a marker through the pipe and waits until the thread has copied
    everything written before it, so a try's output never lands in the next try's log.
    """

    installed: FdForwarder | None = None
    _MARK = b"\x00\x1bweir-end-of-try\x1b\x00"

    def __init__(self) -> None:
        read_end, write_end = os.pipe()
        self._stderr = os.dup(2)
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        self._read_end = read_end
        self._target: LogWriter | None = None
        self._synced = threading.Event()
        threading.Thread(target=self._pump, name="weir-fd-forwarder", daemon=True).start()

    @classmethod
    def install(cls) -> FdForwarder:
        """Install the process's forwarder (once)."""
        if cls.installed is None:
            cls.installed = cls()
        return cls.installed

    def say(self, text: str) -> None:
        """Write ``text`` to the process's own stderr at once, never into a try's log (a worker
        explaining why it exits, just before it does)."""
        with contextlib.suppress(OSError):
            os.write(self._stderr, text.encode(errors="replace"))

    def start_try(self, log: LogWriter) -> None:
        self._target = log

    def end_try(self) -> None:
        self._synced.clear()
        os.write(1, self._MARK)  # one write under PIPE_BUF: it arrives whole and in order
        self._synced.wait(timeout=5.0)
        self._target = None

    def _pump(self) -> None:
        mark = self._MARK
        pending = b""
        while True:
            try:
                chunk = os.read(self._read_end, 65536)
            except OSError:
                return
            if not chunk:
                return
            data = pending + chunk
            pending = b""
            while True:
                at = data.find(mark)
                if at < 0:
                    break
                self._emit(data[:at])
                data = data[at + len(mark) :]
                self._synced.set()
            # Keep a tail that may be the start of a marker split across two reads.
            keep = next((n for n in range(len(mark) - 1, 0, -1) if data.endswith(mark[:n])), 0)
            if keep:
                data, pending = data[:-keep], data[-keep:]
            self._emit(data)

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        target = self._target
        if target is not None:
            with contextlib.suppress(Exception):
                target.write_bytes(data)
                return
        with contextlib.suppress(OSError):
            os.write(self._stderr, data)
