"""The timers of one run: retries that are due, tries that overrun their timeout, the run's own
timeout. Times are monotonic seconds."""

from __future__ import annotations

import heapq

from weir.executors.base import TryKey

TaskKey = tuple[str, int]


class Timers:
    """Retry times per task run, deadlines per try, and the run's deadline."""

    def __init__(self) -> None:
        self._retries: list[tuple[float, TaskKey]] = []
        self._deadlines: list[tuple[float, TryKey]] = []
        self.run_deadline: float | None = None

    def retry_at(self, when: float, task: TaskKey) -> None:
        heapq.heappush(self._retries, (when, task))

    def deadline_at(self, when: float, try_key: TryKey) -> None:
        heapq.heappush(self._deadlines, (when, try_key))

    def due_retries(self, now: float) -> list[TaskKey]:
        """Task runs whose retry is due at ``now``, earliest first."""
        due = []
        while self._retries and self._retries[0][0] <= now:
            due.append(heapq.heappop(self._retries)[1])
        return due

    def due_deadlines(self, now: float) -> list[TryKey]:
        """Tries whose timeout has passed at ``now``."""
        due = []
        while self._deadlines and self._deadlines[0][0] <= now:
            due.append(heapq.heappop(self._deadlines)[1])
        return due

    def run_overdue(self, now: float) -> bool:
        """True once, when the run's deadline has passed (it is then cleared)."""
        if self.run_deadline is not None and now >= self.run_deadline:
            self.run_deadline = None
            return True
        return False

    def clear_retries(self) -> None:
        self._retries.clear()

    def next_time(self, include_run: bool) -> float | None:
        """The earliest timer, if any."""
        times = [heap[0][0] for heap in (self._retries, self._deadlines) if heap]
        if include_run and self.run_deadline is not None:
            times.append(self.run_deadline)
        return min(times) if times else None
