"""Capturing a try's output into its log file, written as the task runs.

A log file is created on the first write, so a try that prints and logs nothing costs no
file: creating a file costs 0.1-0.9 ms on the machines measured here, more than the rest of
weir's work for a no-op task.

In a worker process of the local executor, file descriptors 1 and 2 are a pipe that one
thread (:class:`FdForwarder`) reads and copies into the current try's log, so output of C
code and subprocesses is captured too, while the task runs, without a file per try up front.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


@contextlib.contextmanager
def capture(path: Path, *, fd_level: bool) -> Iterator[TextIO]:
    """Send stdout, stderr and ``logging`` records to ``path`` while the block runs.

    The root logger's level is the executor's business (a worker sets INFO once), not
    changed here per try.

    With ``fd_level`` (a worker process of its own) what is written to file descriptors 1
    and 2 lands in the log too (through the process's :class:`FdForwarder`, or, when none is
    installed, by pointing the descriptors at the file for the try). Without it (the inline
    executor, sharing a terminal with the CLI) only Python's ``sys.stdout``/``sys.stderr``
    are swapped. Writes are line-buffered, so the log can be read while the task runs.
    """
    lazy = _LazyLog(path)
    # _LazyLog is an io.TextIOBase, which typeshed does not count as a typing.TextIO.
    log: TextIO = lazy  # type: ignore[assignment]
    handler = logging.StreamHandler(log)
    handler.setFormatter(_FORMAT)
    root = logging.getLogger()
    root.addHandler(handler)
    saved_fds: tuple[int, int] | None = None
    old_streams = (sys.stdout, sys.stderr)
    forwarder = FdForwarder.installed if fd_level else None
    try:
        for stream in old_streams:
            with contextlib.suppress(Exception):
                stream.flush()
        if forwarder is not None:
            forwarder.start_try(lazy)
        elif fd_level:
            saved_fds = (os.dup(1), os.dup(2))
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
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


def _open(path: Path) -> TextIO:
    try:
        return open(path, "a", buffering=1, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a", buffering=1, encoding="utf-8", errors="replace")


class _LazyLog(io.TextIOBase):
    """A log file created on the first write; safe to write from two threads."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: TextIO | None = None
        self._lock = threading.Lock()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def _real(self) -> TextIO:
        if self._file is None:
            self._file = _open(self._path)
        return self._file

    def write(self, text: str) -> int:
        with self._lock:
            return self._real().write(text)

    def write_bytes(self, data: bytes) -> None:
        """Raw output from file descriptors 1 and 2 (a character may be split across calls)."""
        text = self._decoder.decode(data)
        if text:
            self.write(text)

    def flush(self) -> None:
        with self._lock:
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
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None  # TextIOBase.close() flushes: it must not reach the closed file
        super().close()


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
        self._target: _LazyLog | None = None
        self._synced = threading.Event()
        threading.Thread(target=self._pump, name="weir-fd-forwarder", daemon=True).start()

    @classmethod
    def install(cls) -> FdForwarder:
        """Install the process's forwarder (once)."""
        if cls.installed is None:
            cls.installed = cls()
        return cls.installed

    def start_try(self, log: _LazyLog) -> None:
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
