"""The executor interface: what the scheduler hands over and what comes back.

An executor runs :class:`WorkItem` s and reports :class:`Started` and :class:`Finished`
for each. It never touches the store: the scheduler records everything it reports.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from weir.results import ResultRef

#: Identifies one try: (run id, task id, map index, try number).
TryKey = tuple[int, str, int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowRef:
    """How a worker finds a flow's code.

    ``kind`` is ``module`` (import ``target`` by module name), ``path`` (load the flow file
    at ``target``) or ``pickle`` (``payload`` is the cloudpickled Flow, for flows defined in
    ``__main__`` or inside a function). ``key`` names the flow version, for caching.
    """

    kind: str
    target: str
    flow_name: str
    key: str
    payload: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackCall:
    """What a ``kind="callback"`` work item calls: the ``event`` callbacks of a task
    (``task_id`` set) or of the flow, with the outcome they are told about."""

    event: str
    state: str
    error: str | None = None
    traceback: str | None = None
    task_log_path: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkItem:
    """One try of one task run, with everything a worker needs to run it.

    Attributes:
        inputs: the results of the node's data upstream nodes, by task id; a mapped
            upstream node gives a list of refs, one per element.
        params: the run's validated params (Python values).
        report_length: the worker reports ``len(result)`` (a mapped node fans out over it).
        kind: ``task`` (a try), ``callback`` (a task's or the flow's callbacks, see
            ``callback``) or ``cache_key`` (compute the task's ``cache_key_fn``).
        timeout: the task's timeout in seconds; the scheduler enforces it by cancelling the
            try, and the inline executor also interrupts the task's Python code.
    """

    run_id: int
    task_id: str
    map_index: int
    try_number: int
    flow: FlowRef
    inputs: dict[str, ResultRef | list[ResultRef]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    log_path: str = ""
    result_path: str = ""
    result_inline_max: int = 64 * 1024
    report_length: bool = False
    kind: str = "task"
    timeout: float | None = None
    callback: CallbackCall | None = None
    logical_date: datetime | None = None
    data_interval: tuple[datetime, datetime] | None = None

    @property
    def key(self) -> TryKey:
        if self.kind == "task":
            return (self.run_id, self.task_id, self.map_index, self.try_number)
        event = f":{self.callback.event}" if self.callback else ""
        return (self.run_id, f"{self.task_id}::{self.kind}{event}", self.map_index, self.try_number)


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    """A try began on a worker."""

    key: TryKey
    at: datetime
    worker: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Finished:
    """A try ended. ``ok`` with ``result``, or not ok with ``error`` and ``traceback``.

    ``lost`` is set when the worker process died under the try (killed, crashed).
    ``retryable`` is False when the task's ``retry_on``/``retry_if`` rule out a retry of
    this error. ``complete`` says the task's ``complete()`` check found its work already
    done, so the task was not called. ``cache_key`` answers a ``cache_key`` work item.
    """

    key: TryKey
    ok: bool
    started_at: datetime
    ended_at: datetime
    result: ResultRef | None = None
    length: int | None = None
    error: str | None = None
    traceback: str | None = None
    lost: bool = False
    worker: str = ""
    retryable: bool = True
    complete: bool = False
    cache_key: str | None = None


Report = Started | Finished


class Executor(ABC):
    """Runs work items and reports on them. One instance serves one driving process."""

    name: str = ""

    @property
    @abstractmethod
    def slots(self) -> int:
        """How many tries may run at once."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Get ready to run (start processes, connect to a cluster)."""

    @abstractmethod
    def submit(self, item: WorkItem) -> None:
        """Hand over one try; at most :attr:`slots` are in flight at a time."""

    @abstractmethod
    def poll(self, timeout: float | None) -> list[Report]:
        """Reports that arrived, waiting up to ``timeout`` seconds (None: until one arrives)."""

    @abstractmethod
    def cancel(self, key: TryKey) -> None:
        """Stop a running try; it is then reported Finished (not ok)."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Stop everything and free resources."""
