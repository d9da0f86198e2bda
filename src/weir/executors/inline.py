"""The inline executor: runs each try in the calling thread, one at a time (tests, debugging)."""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from weir.executors.base import Capabilities, Executor, Finished, Outcome, Report, Started, TryKey, WorkItem
from weir.worker.flows import find_flow
from weir.worker.runner import InputCache, execute, not_run

if TYPE_CHECKING:
    from weir.settings import Settings


def create(settings: Settings) -> InlineExecutor:
    """The registry's factory: a new inline executor."""
    return InlineExecutor(project_root=settings.project_root)


class InlineExecutor(Executor):
    """Runs tries in the driving thread; values pass in memory.

    ``poll`` reports a try as started first, and runs it on the next call, so the
    scheduler records ``running`` before the task's code begins.
    """

    name = "inline"
    # One try at a time in the driving thread: a running try cannot be stopped from outside
    # (its timeout interrupts its Python code with SIGALRM), and a crash of it is the driver's.
    capabilities = Capabilities(
        interrupts=False, isolates=False, shares_filesystem=True, reusable=False, runs_in_poll=True
    )

    def __init__(self, project_root: Path | None = None) -> None:
        self._project_root = project_root
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
            return [self._run(item)]
        if self._queue:
            self._started = self._queue.popleft()
            return [Started(key=self._started.key, at=datetime.now(UTC), worker="inline")]
        return []

    def _run(self, item: WorkItem) -> Report:
        # What the user's code raises is the report's error already (see execute); what weir
        # raises around it (the flow's code not found, a store that cannot be opened) fails the
        # try as a worker process would, instead of leaving the driver's poll.
        started = datetime.now(UTC)
        try:
            flow = find_flow(item.code, self._project_root)
            return execute(item, flow, in_process=True, cache=self._cache)
        except Exception as exc:
            return not_run(item.key, item, exc, started)

    def cancel(self, key: TryKey) -> None:
        # A try runs to its end once running in this thread; one queued, or reported started but
        # not yet run, is dropped. Either way it is reported cancelled, as the contract says.
        now = datetime.now(UTC)
        dropped = [item for item in self._queue if item.key == key]
        for item in dropped:
            self._queue.remove(item)
        if self._started is not None and self._started.key == key:
            dropped.append(self._started)
            self._started = None
        if dropped:
            self._cancelled.append(
                Finished(key=key, outcome=Outcome.CANCELLED, started_at=now, ended_at=now, error="cancelled")
            )
