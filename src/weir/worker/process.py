"""A worker process of the local executor: runs the tries its parent sends, one at a time.

Started by :class:`~weir.executors.local.LocalExecutor` as
``python -m weir.worker.process FD``, where ``FD`` is its end of a socket pair. The
protocol is framed pickles (:class:`multiprocessing.connection.Connection`):

- parent -> worker: first an init dict ``{"sys_path": [...], "cwd": "...", "project_root": "...",
  "max_tries": N}``, then ``("run", key, pickled WorkItem)`` for each try and ``("stop",)`` to exit;
- worker -> parent: a :class:`~weir.executors.base.Started` then a
  :class:`~weir.executors.base.Finished` for each try; before the Finished of its last try, a
  worker that will exit after it sends ``("retiring",)``, so no other try is sent to it.

Each try starts from the same process state and ends every process it started (see
:mod:`weir.worker.hygiene`); a worker whose state a try changed beyond repair, or that has run
``max_tries`` tries (0: no limit), exits after that try and the executor starts another.

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
from weir.io.logs import log_store
from weir.worker.capture import FdForwarder, capture
from weir.worker.flows import find_flow
from weir.worker.hygiene import Hygiene
from weir.worker.processes import kill_descendants
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
    forwarder = FdForwarder.install()
    sys.path[:] = init["sys_path"]
    os.chdir(init["cwd"])
    project_root = Path(init.get("project_root") or init["cwd"])
    # Recorded now: the state every try starts from and is put back to.
    hygiene = Hygiene(max_tries=int(init.get("max_tries") or 0))
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
            if flow is not None and item is not None:
                hygiene.prepare(item.code.key)
            conn.send(Started(key=key, at=datetime.now(UTC), worker=me))
            finished = failure or _run(key, item, flow, cache)
            problem = _clean_up(hygiene, item)
            if problem:
                forwarder.say(f"weir worker {me} exits after this try, to be replaced: {problem}\n")
            retiring = bool(problem) or hygiene.spent
            if retiring:
                conn.send(("retiring",))
            conn.send(dataclasses.replace(finished, worker=me))
            if retiring:
                return 0
        except (EOFError, OSError):
            return 0


def _load(
    key: TryKey, data: bytes, project_root: Path, cache: InputCache
) -> tuple[WorkItem | None, Flow | None, Finished | None]:
    """The try and its flow; or, when either cannot be loaded or its params cannot be bound, the
    failed Finished saying why (with the flow when that was loaded)."""
    item: WorkItem | None = None
    flow: Flow | None = None
    try:
        item = pickle.loads(data)
        assert item is not None
        flow = find_flow(item.code, project_root)
        if item.kind != WorkKind.CALLBACK:
            cache.params(item, flow)  # bound before the try is reported started, as its code is loaded
        return item, flow, None
    except BaseException as exc:
        return item, flow, not_run(key, item, exc, datetime.now(UTC))


def _run(key: TryKey, item: WorkItem | None, flow: Flow | None, cache: InputCache) -> Finished:
    """Run one try; every failure of weir's own becomes a not-ok Finished (the task's are already)."""
    started = datetime.now(UTC)
    assert item is not None and flow is not None
    try:
        return execute(item, flow, in_process=False, cache=cache)
    except BaseException as exc:
        return not_run(key, item, exc, started)


def _clean_up(hygiene: Hygiene, item: WorkItem | None) -> str | None:
    """End the try's processes and put the process back as it was; why the worker must now
    exit instead of running another try, if it must."""
    try:
        _end_processes(hygiene, item)
    except Exception:  # the try's log cannot be written: end them all the same
        with contextlib.suppress(Exception):
            hygiene.end_processes()
    try:
        return hygiene.finish()
    except Exception as exc:
        return f"cleaning up after the try failed: {type(exc).__name__}: {exc}"


def _end_processes(hygiene: Hygiene, item: WorkItem | None) -> None:
    """End the processes the try left running, saying which in its log (where their last
    words land too)."""
    if not hygiene.has_processes() or item is None or not item.log_key:
        hygiene.end_processes()
        return
    with capture(log_store(item.storage.logs_url).writer(item.log_key), fd_level=True) as log:
        ended = hygiene.end_processes()
        if ended:
            names = ", ".join(f"{name} (pid {pid})" for pid, name in ended)
            log.write(f"weir: the try has ended; ended the processes it left running: {names}\n")


def _watch_parent(parent: int) -> None:
    """Exit when the parent dies while a task runs (between tries, ``recv`` sees the socket close),
    taking the task's processes along."""

    def watch() -> None:
        while True:
            time.sleep(_ORPHAN_CHECK)
            if os.getppid() != parent:
                with contextlib.suppress(Exception):
                    kill_descendants()
                os._exit(1)

    threading.Thread(target=watch, name="weir-orphan-check", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
