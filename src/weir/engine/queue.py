"""The task runs of one run that wait to be dispatched: ready ones by priority, retries whose
wait is over, and those waiting for a pool slot."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Protocol

from weir.graph.model import Graph

TaskKey = tuple[str, int]


class ReadyQueue:
    """Ready task runs (higher priority first, then graph order), due retries, pool waiters."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._order = {tid: i for i, tid in enumerate(graph.nodes)}
        self._ready: list[tuple[int, int, TaskKey]] = []
        self.due: list[TaskKey] = []  # up_for_retry task runs whose wait is over
        self.pool_waiting: list[TaskKey] = []
        #: Nothing more is dispatched (the run is being handed back).
        self.holding = False

    def __bool__(self) -> bool:
        """Whether anything is ready or due (pool waiters wait to be given another chance)."""
        return bool(self._ready or self.due)

    def push(self, key: TaskKey) -> None:
        """A task run that is ready to run."""
        node = self._graph.nodes[key[0]]
        heapq.heappush(self._ready, (-node.policy.priority, self._order[key[0]] * 1_000_000 + key[1], key))

    def pop(self) -> TaskKey | None:
        """The next ready task run, or None."""
        return heapq.heappop(self._ready)[2] if self._ready else None

    def pop_due(self) -> TaskKey | None:
        """The next retry whose wait is over, or None."""
        return self.due.pop(0) if self.due else None

    def waiting(self) -> Iterator[TaskKey]:
        """Every task run waiting here, in no particular order."""
        yield from self.pool_waiting
        yield from self.due
        yield from (key for _, _, key in self._ready)

    def clear(self) -> None:
        self._ready.clear()
        self.due.clear()
        self.pool_waiting.clear()


class PoolGate(Protocol):
    """Admits tries of pooled tasks while their pool has free slots (the loop keeps the counts)."""

    def acquire(self, pool: str) -> str | None:
        """Take a slot of ``pool``: None when taken, else why the task must wait."""
        ...
