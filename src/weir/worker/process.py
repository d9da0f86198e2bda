"""A worker process of the local executor: runs the tries its parent sends, one at a time.

Started by :class:`~weir.executors.local.LocalExecutor` as
``python -m weir.worker.process FD``, where ``FD`` is its end of a socket pair. The
protocol is framed pickles (:class:`multiprocessing.connection.Connection`):

- parent -> worker: first an init dict ``{"sys_path": [...], "cwd": "...", "project_root": "..."}``, then
  ``("run", key, pickled WorkItem)`` for each try and ``("stop",)`` to exit;
- worker -> parent: a :class:`~weir.executors.base.Started` then a
  :class:`~weir.executors.base.Finished` for each try.

The worker exits when told to stop, when its socket closes (the parent died), or, while a
task runs, when it notices it has been orphaned. Imports stay light so a worker starts fast:
the user's flow module is imported on its first try and kept for the next ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from weir.executors.base import Finished, Started, TryKey, WorkItem, WorkKind
from weir.worker.capture import FdForwarder
from weir.worker.flows import find_flow
from weir.worker.runner import InputCache, execute, not_run

if TYPE_CHECKING:
    from weir.sdk.flow import Flow

#: How often (seconds) a busy worker checks that its parent is still alive.
_ORPHAN_CHECK = 1.0


def main(argv: list[str]) -> int:
    """Serve tries on the connection whose file descriptor is ``argv[0]``; returns the exit code."""
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m weir.worker.process FD", file=sys.stderr)
        return 2
    # Ctrl-C reaches the whole process group; the parent handles it and stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            # sys.stdout is typed TextIO, which has no reconfigure(); here it is a TextIOWrapper,
            # and the AttributeError of any other stream is suppressed above.
            stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    conn = Connection(int(argv[0]))
    try:
        init = conn.recv()
    except (EOFError, OSError):
        return 0
    # Task logs capture INFO records (capture() leaves the root level to the executor).
    logging.getLogger().setLevel(logging.INFO)
    # Descriptors 1 and 2 become a pipe copied into each try's log (see capture.py).
    FdForwarder.install()
    sys.path[:] = init["sys_path"]
    os.chdir(init["cwd"])
    project_root = Path(init.get("project_root") or init["cwd"])
    _watch_parent(os.getppid())
    me = f"pid {os.getpid()}"
    cache = InputCache()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return 0  # the parent is gone
        if message[0] == "stop":
            return 0
        _, key, data = message
        try:
            # The flow's code is loaded before the try is reported started, so a task's
            # timeout measures the task, not the first import of its flow file.
            item, flow, failure = _load(key, data, project_root, cache)
            conn.send(Started(key=key, at=datetime.now(UTC), worker=me))
            finished = failure or _run(key, item, flow, cache)
            conn.send(dataclasses.replace(finished, worker=me))
        except (EOFError, OSError):
            return 0


def _load(
    key: TryKey, data: bytes, project_root: Path, cache: InputCache
) -> tuple[WorkItem | None, Flow | None, Finished | None]:
    """The try and its flow; or, when either cannot be loaded, the failed Finished saying why."""
    item: WorkItem | None = None
    try:
        item = pickle.loads(data)
        assert item is not None
        flow = find_flow(item.code, project_root)
        if item.kind != WorkKind.CALLBACK:
            cache.params(item, flow)  # bound before the try is reported started, as its code is loaded
        return item, flow, None
    except BaseException as exc:
        return item, None, not_run(key, item, exc, datetime.now(UTC))


def _run(key: TryKey, item: WorkItem | None, flow: Flow | None, cache: InputCache) -> Finished:
    """Run one try; every failure of weir's own becomes a not-ok Finished (the task's are already)."""
    started = datetime.now(UTC)
    assert item is not None and flow is not None
    try:
        return execute(item, flow, in_process=False, cache=cache)
    except BaseException as exc:
        return not_run(key, item, exc, started)


def _watch_parent(parent: int) -> None:
    """Exit when the parent dies while a task runs (between tries, ``recv`` sees the socket close)."""

    def watch() -> None:
        while True:
            time.sleep(_ORPHAN_CHECK)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="weir-orphan-check", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
