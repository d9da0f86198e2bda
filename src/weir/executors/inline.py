"""The inline executor: runs each try in the calling thread, one at a time (tests, debugging)."""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, datetime

from weir.executors.base import Executor, Finished, Report, Started, TryKey, WorkItem
from weir.worker.flows import find_flow
from weir.worker.runner import InputCache, execute


class InlineExecutor(Executor):
    """Runs tries in the driving thread; values pass in memory.

    ``poll`` reports a try as started first, and runs it on the next call, so the
    scheduler records ``running`` before the task's code begins.
    """

    name = "inline"

    def __init__(self) -> None:
        self._queue: deque[WorkItem] = deque()
        self._started: WorkItem | None = None
        self._cache = InputCache()
        self._cancelled: list[Report] = []
        self._root_level: int | None = None

    @property
    def slots(self) -> int:
        return 1

    def submit(self, item: WorkItem) -> None:
        self._queue.append(item)

    def start(self) -> None:
        # Task logs capture INFO records, as a worker process does; restored at shutdown.
        root = logging.getLogger()
        self._root_level = root.level
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)

    def shutdown(self) -> None:
        if self._root_level is not None:
            logging.getLogger().setLevel(self._root_level)
            self._root_level = None

    def poll(self, timeout: float | None) -> list[Report]:
        """Report the next try as started; run a started try only when allowed to wait.

        ``poll(0)`` never runs task code, so the scheduler can record ``running`` first.
        """
        if self._cancelled:
            reports, self._cancelled = self._cancelled, []
            return reports
        if self._started is not None:
            if timeout == 0:
                return []
            item, self._started = self._started, None
            return [execute(item, find_flow(item.flow), in_process=True, cache=self._cache)]
        if self._queue:
            self._started = self._queue.popleft()
            return [Started(key=self._started.key, at=datetime.now(UTC), worker="inline")]
        return []

    def cancel(self, key: TryKey) -> None:
        # A try runs to its end once started in this thread; one not yet started is dropped.
        now = datetime.now(UTC)
        for item in list(self._queue):
            if item.key == key:
                self._queue.remove(item)
        if self._started is not None and self._started.key == key:
            self._started = None
            self._cancelled.append(
                Finished(key=key, ok=False, started_at=now, ended_at=now, error="cancelled")
            )
