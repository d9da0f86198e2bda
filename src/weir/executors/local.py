"""The local executor: a pool of long-lived worker processes on this machine (the default).

Each worker is ``python -m weir.worker.process`` (see :mod:`weir.worker.process`), started
with :class:`subprocess.Popen` on one end of a socket pair, never with
``multiprocessing``'s spawn: spawn re-imports the user's ``__main__``, which would re-run an
unguarded ``flow.run()``. A worker runs one try at a time and keeps the flow modules it has
imported, so a flow's code is loaded once per worker, not once per try.

A worker that dies under a try (killed, crashed, ``os._exit``) is noticed at once (its
socket closes), its try is reported lost, and a replacement is started.

Each try starts from the worker's own state and ends every process it started, including those
that escaped its process group with ``setsid`` (Linux; elsewhere only what stays in the worker's
process group or below it): see :mod:`weir.worker.hygiene`. A worker a try left changed beyond
repair (a lowered hard resource limit), or that has run ``max_tries_per_worker`` tries, says so
before its last report and exits; a new worker takes its place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections import deque
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING

from weir.executors.base import Capabilities, Executor, Finished, Outcome, Report, Started, TryKey, WorkItem
from weir.worker.processes import kill_process_tree

if TYPE_CHECKING:
    from weir.settings import Settings

#: Seconds :meth:`LocalExecutor.shutdown` lets workers finish before killing them.
_STOP_GRACE = 2.0
#: Workers in a row that may die before running anything before the pool stops replacing them.
_MAX_FAILED_STARTS = 3


def _now() -> datetime:
    return datetime.now(UTC)


def create(settings: Settings) -> LocalExecutor:
    """The registry's factory: a pool of ``settings.pool_size`` worker processes."""
    return LocalExecutor(
        size=settings.pool_size,
        project_root=settings.project_root,
        max_tries_per_worker=settings.max_tries_per_worker,
    )


class _Worker:
    """One worker process, its connection, and what the parent knows about it."""

    def __init__(self, project_root: Path | None = None, max_tries: int = 0) -> None:
        parent_end, child_end = socket.socketpair()
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "weir.worker.process", str(child_end.fileno())],
                pass_fds=[child_end.fileno()],
                stdin=subprocess.DEVNULL,
                # Its own process group, so cancelling a try also stops the subprocesses it started.
                start_new_session=True,
            )
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        self.pid = self.popen.pid
        self.conn = Connection(parent_end.detach())
        #: Keys of the flows whose code this worker has been sent (pickle FlowRefs).
        self.flow_keys: set[str] = set()
        self.item: WorkItem | None = None
        self.started_at: datetime | None = None
        self.spoke = False  # has sent a message: it started and loaded weir
        self.retiring = False  # exits after its current try: send it no other
        self.alive = True
        with contextlib.suppress(OSError):
            root = str(project_root) if project_root is not None else os.getcwd()
            self.conn.send(
                {"sys_path": list(sys.path), "cwd": os.getcwd(), "project_root": root, "max_tries": max_tries}
            )

    def kill(self) -> None:
        """SIGKILL the worker, every process below it and everything in its process group, and
        reap it."""
        # The processes its try started, even those that left its group: the worker adopts them
        # (a subreaper), so they are below it until it dies.
        with contextlib.suppress(OSError):
            kill_process_tree(self.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        self.popen.wait()
        self.close()

    def reap(self) -> int:
        """Wait for a worker whose socket closed; returns its exit status (negative: a signal)."""
        try:
            code = self.popen.wait(timeout=_STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.popen.returncode
        # Subprocesses it started must not outlive it (the group id stays valid while they exist).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.close()
        return code

    def close(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):
            self.conn.close()


def for_worker(item: WorkItem, flow_keys: set[str]) -> WorkItem:
    """``item`` as sent to a worker that has already been sent the flows in ``flow_keys``.

    A pickled flow's payload goes to each worker once; later tries of that flow are sent
    without it (the worker keeps the flow). ``flow_keys`` is updated.
    """
    code = item.code
    if code.payload is None:
        return item
    if code.key in flow_keys:
        return dataclasses.replace(item, code=dataclasses.replace(code, payload=None))
    flow_keys.add(code.key)
    return item


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class LocalExecutor(Executor):
    """Runs tries in ``size`` long-lived worker processes on this machine.

    Args:
        size: how many worker processes (and so how many tries at once).
        project_root: the folder flow files are named relative to (default: the current one).
        max_tries_per_worker: tries after which a worker exits and a new one replaces it, as
            Celery's ``max_tasks_per_child`` (0: no limit).

    Tries submitted while every worker is busy wait in a FIFO queue. :meth:`shutdown`
    (also run at interpreter exit) stops the workers; workers exit by themselves when the
    process that started them dies.
    """

    name = "local"
    capabilities = Capabilities(interrupts=True, isolates=True, shares_filesystem=True, reusable=True)

    def __init__(self, size: int, project_root: Path | None = None, max_tries_per_worker: int = 0) -> None:
        if size < 1:
            raise ValueError(f"a local executor needs at least one worker, not {size}")
        if max_tries_per_worker < 0:
            raise ValueError(f"max_tries_per_worker must be 0 (no limit) or more, not {max_tries_per_worker}")
        self._size = size
        self._project_root = project_root
        self._max_tries = max_tries_per_worker
        self._workers: dict[int, _Worker] = {}  # by pid
        self._queue: deque[WorkItem] = deque()
        self._reports: list[Report] = []  # made here (cancelled, lost on send), reported on next poll
        self._failed_starts = 0
        self._last_death = ""
        self._started = False
        # Runs at shutdown(), when the executor is collected, or at interpreter exit, whichever
        # comes first; it holds the workers, not the executor, so it never keeps it alive.
        self._finalizer = weakref.finalize(self, _stop_all, self._workers)

    @property
    def slots(self) -> int:
        """How many tries may be in flight: one running on each worker and one waiting for each,
        so a worker that finishes a try starts the next at once, while the scheduler records it
        (tries run at most one per worker)."""
        return 2 * self._size

    @property
    def parallelism(self) -> int:
        """One try per worker."""
        return self._size

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        return list(self._workers)

    def start(self) -> None:
        """Start the worker processes, without waiting for them to be ready."""
        if self._started:
            return
        self._started = True
        for _ in range(self._size):
            self._spawn()

    def submit(self, item: WorkItem) -> None:
        """Give ``item`` to an idle worker, or queue it until one is free."""
        if not self._started:
            self.start()
        self._queue.append(item)
        self._dispatch()

    def poll(self, timeout: float | None) -> list[Report]:
        """Reports from the workers, in arrival order, waiting up to ``timeout`` seconds.

        Returns at once when reports are already waiting, or when ``timeout`` is None and
        nothing is running or queued (nothing would ever arrive). A finite ``timeout`` is
        waited out even then: the scheduler uses it to sleep until a retry is due.
        """
        busy = any(w.item is not None for w in self._workers.values())
        if self._reports or (timeout is None and not (busy or self._queue)):
            timeout = 0
        # wait() is typed to return any waitable (Connection | socket | int); it returns some of
        # the objects it was given, so look each up and use the worker's own Connection.
        conns: dict[object, _Worker] = {w.conn: w for w in self._workers.values()}
        if conns:
            ready = wait([w.conn for w in conns.values()], timeout)
        else:
            ready = []
            if timeout:
                time.sleep(timeout)
        for ready_conn in ready:
            worker = conns[ready_conn]
            conn = worker.conn
            while worker.alive:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    self._lost(worker)
                    break
                self._receive(worker, message)
                try:
                    if not conn.poll():
                        break
                except (EOFError, OSError):
                    self._lost(worker)
                    break
        self._dispatch()
        reports, self._reports = self._reports, []
        return reports

    def cancel(self, key: TryKey) -> None:
        """Stop the try ``key``: kill its worker (a replacement starts) or drop it from the queue.

        It is reported ``Finished`` with ``Outcome.CANCELLED`` on the next :meth:`poll`.
        """
        now = _now()
        for item in list(self._queue):
            if item.key == key:
                self._queue.remove(item)
                self._reports.append(
                    Finished(
                        key=key, outcome=Outcome.CANCELLED, started_at=now, ended_at=now, error="cancelled"
                    )
                )
        for worker in list(self._workers.values()):
            if worker.item is not None and worker.item.key == key:
                worker.kill()
                del self._workers[worker.pid]
                self._reports.append(
                    Finished(
                        key=key,
                        outcome=Outcome.CANCELLED,
                        started_at=worker.started_at or now,
                        ended_at=_now(),
                        error="cancelled",
                        worker=f"pid {worker.pid}",
                    )
                )
                if not worker.retiring:  # else its successor is already started
                    self._spawn()
        # No dispatch here: the caller may be cancelling the run's other tries, queued ones
        # included, which must not reach the new worker first; the next poll hands work out.

    def shutdown(self) -> None:
        """Stop the workers: ask them to exit, wait up to 2 s, then kill the rest. Idempotent."""
        self._finalizer()
        self._queue.clear()

    # -- internals --------------------------------------------------------------------------

    def _spawn(self) -> None:
        if not self._finalizer.alive:
            return
        worker = _Worker(self._project_root, self._max_tries)
        self._workers[worker.pid] = worker

    def _dispatch(self) -> None:
        """Hand queued items to idle workers, oldest first."""
        while self._queue:
            worker = next((w for w in self._workers.values() if w.item is None and not w.retiring), None)
            if worker is None:
                if not self._workers:
                    self._fail_queue()
                return
            item = self._queue.popleft()
            try:
                data = pickle.dumps(for_worker(item, worker.flow_keys), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # a try that cannot be sent fails; the pool goes on
                now = _now()
                self._reports.append(
                    Finished(
                        key=item.key,
                        outcome=Outcome.FAILED,
                        started_at=now,
                        ended_at=now,
                        error=f"the try cannot be sent to a worker process: {type(exc).__name__}: {exc}",
                    )
                )
                continue
            worker.item = item
            worker.started_at = _now()
            try:
                worker.conn.send(("run", item.key, data))
            except OSError:
                self._lost(worker)

    def _receive(self, worker: _Worker, message: Report | tuple[str]) -> None:
        worker.spoke = True
        self._failed_starts = 0
        if isinstance(message, tuple):  # ("retiring",): it exits after this try; start its successor now
            if not worker.retiring:
                worker.retiring = True
                self._spawn()
            return
        if worker.item is None or message.key != worker.item.key:
            return  # not the try it is running now (cannot happen with one try at a time)
        if isinstance(message, Started):
            worker.started_at = message.at
        elif isinstance(message, Finished):
            worker.item = None
            worker.started_at = None
        self._reports.append(message)

    def _lost(self, worker: _Worker) -> None:
        """``worker``'s socket closed: reap it, report its try lost, start a replacement."""
        reason = _death(worker.reap())
        self._workers.pop(worker.pid, None)
        if worker.item is not None:
            self._reports.append(
                Finished(
                    key=worker.item.key,
                    outcome=Outcome.LOST,
                    started_at=worker.started_at or _now(),
                    ended_at=_now(),
                    error=f"worker process {worker.pid} died ({reason}) while running this task",
                    worker=f"pid {worker.pid}",
                )
            )
        if worker.retiring:
            return  # it exited as it said it would; its successor is already started
        self._last_death = reason
        if not worker.spoke:
            self._failed_starts += 1
            if self._failed_starts >= _MAX_FAILED_STARTS:
                return  # workers die as they start (see their stderr): do not spin restarting them
        self._spawn()

    def _fail_queue(self) -> None:
        now = _now()
        error = (
            f"no worker process is running: they exit as they start ({self._last_death}); see their stderr"
            if self._finalizer.alive
            else "the local executor has been shut down"
        )
        while self._queue:
            item = self._queue.popleft()
            self._reports.append(
                Finished(key=item.key, outcome=Outcome.FAILED, started_at=now, ended_at=now, error=error)
            )


def _stop_all(workers: dict[int, _Worker]) -> None:
    """Ask every worker to exit, give them :data:`_STOP_GRACE` seconds in all, then kill the rest."""
    for worker in workers.values():
        with contextlib.suppress(OSError):
            worker.conn.send(("stop",))
    deadline = time.monotonic() + _STOP_GRACE
    for worker in workers.values():
        try:
            worker.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.kill()
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(worker.pid, signal.SIGKILL)
        worker.close()
    workers.clear()
