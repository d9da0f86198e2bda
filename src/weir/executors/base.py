"""The executor contract: what a driving process hands over, and what comes back.

An executor runs :class:`WorkItem` s and reports :class:`Started` and :class:`Finished` for
each. It never touches the store, and neither do its workers: a work item names the flow's code
by module or by a path relative to the project root (which workers also have), and the result
store and log store by URL, so a worker needs neither the scheduler's disk nor database
credentials. The scheduler records everything the executor reports.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from weir.graph.snapshot import CodeRef
from weir.io.results import ResultRef

#: Identifies one try: (run id, task id, map index, try number).
TryKey = tuple[int, str, int, int]


class WorkKind(StrEnum):
    """What a work item asks a worker to do."""

    TASK = "task"  # one try of a task run
    CALLBACK = "callback"  # the callbacks of a task or of the flow, for one event
    CACHE_KEY = "cache_key"  # compute a task's cache_key_fn


class Outcome(StrEnum):
    """How a work item ended."""

    SUCCESS = "success"
    FAILED = "failed"  # the code raised (or could not be loaded)
    LOST = "lost"  # the worker died under it (killed, crashed, os._exit)
    CANCELLED = "cancelled"  # stopped on request (cancel, timeout)


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeSource:
    """How a worker finds a flow's code: the snapshot's code reference, and for a flow defined
    where no other process can import it (``__main__``), its cloudpickled value."""

    ref: CodeRef
    flow_name: str
    version: str
    payload: bytes | None = None

    @property
    def key(self) -> str:
        """Names the code's place and version, for the worker's cache of loaded flows."""
        return f"{self.flow_name}@{self.version}:{self.ref.kind}:{self.ref.target}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Storage:
    """Where a worker puts results and logs: the stores' URLs, and the inline result limit."""

    results_url: str
    logs_url: str
    inline_max: int = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackCall:
    """What a callback work item calls: the ``event`` callbacks of a task (``task_id`` set) or
    of the flow, with the outcome they are told about."""

    event: str
    state: str
    error: str | None = None
    traceback: str | None = None
    task_log: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkItem:
    """One try of one task run (or a callback call, or a cache-key call), with everything a
    worker needs to run it.

    Attributes:
        code: where the flow's code is.
        storage: where results and logs go.
        inputs: the results of the node's data upstream nodes, by task id; a mapped upstream
            node gives a list of refs, one per element.
        params: the run's params as JSON values (the worker binds them with the flow's signature).
        log_key, result_key: the try's log and (large) result, relative to their stores.
        report_length: the worker reports ``len(result)`` (a mapped node fans out over it).
        timeout: the task's timeout in seconds; the driver enforces it by cancelling the try,
            and an executor that cannot interrupt a running try also interrupts the code itself.
    """

    run_id: int
    task_id: str
    map_index: int
    try_number: int
    code: CodeSource
    storage: Storage
    kind: WorkKind = WorkKind.TASK
    inputs: dict[str, ResultRef | list[ResultRef]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    log_key: str = ""
    result_key: str = ""
    report_length: bool = False
    timeout: float | None = None
    callback: CallbackCall | None = None
    logical_date: datetime | None = None
    data_interval: tuple[datetime, datetime] | None = None

    @property
    def key(self) -> TryKey:
        if self.kind == WorkKind.TASK:
            return (self.run_id, self.task_id, self.map_index, self.try_number)
        event = f":{self.callback.event}" if self.callback else ""
        return (self.run_id, f"{self.task_id}::{self.kind}{event}", self.map_index, self.try_number)


def is_side_call(key: TryKey) -> bool:
    """Whether ``key`` is a callback or cache-key call rather than a try of a task run."""
    return "::" in key[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    """A try began on a worker."""

    key: TryKey
    at: datetime
    worker: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Finished:
    """A try ended, with its :class:`Outcome`.

    ``result`` is set on success. ``retryable`` is False when the task's ``retry_on``/``retry_if``
    rule out a retry of this error. ``complete`` says the task's ``complete()`` check found its
    work already done, so the task was not called. ``branch`` holds the ids a branch task chose;
    ``cache_key`` answers a cache-key call.
    """

    key: TryKey
    outcome: Outcome
    started_at: datetime
    ended_at: datetime
    result: ResultRef | None = None
    length: int | None = None
    error: str | None = None
    traceback: str | None = None
    worker: str = ""
    retryable: bool = True
    complete: bool = False
    cache_key: str | None = None
    branch: tuple[str, ...] | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.SUCCESS


Report = Started | Finished


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What an executor can do, for the driver and for the conformance suite.

    Attributes:
        interrupts: it can stop a running try (cancel, timeout) by stopping its worker.
        isolates: tries run in processes of their own, so a crash of a try (``os._exit``, a
            segfault) is reported as a lost worker instead of taking the driver down.
        shares_filesystem: its workers see this machine's files (local folders work as stores).
        reusable: one started instance can serve many runs in a process (a pool kept alive).
        runs_in_poll: nothing runs until :meth:`Executor.poll` is called with a wait (the inline
            executor), so the driver may record what it handed out just before that wait
            instead of before each hand-out.
    """

    interrupts: bool = True
    isolates: bool = True
    shares_filesystem: bool = True
    reusable: bool = False
    runs_in_poll: bool = False


class Executor(ABC):
    """Runs work items and reports on them. One instance serves one driving process."""

    name: str = ""
    capabilities: Capabilities = Capabilities()

    @property
    @abstractmethod
    def slots(self) -> int:
        """How many work items may be in flight (handed over and not yet finished) at once."""

    @property
    def parallelism(self) -> int:
        """How many work items run at the same moment (at most :attr:`slots`; the others of
        those in flight wait in the executor for a worker)."""
        return self.slots

    def start(self) -> None:  # noqa: B027 - optional hook
        """Get ready to run (start processes, connect to a cluster)."""

    @abstractmethod
    def submit(self, item: WorkItem) -> None:
        """Hand over one work item; at most :attr:`slots` are in flight at a time."""

    @abstractmethod
    def poll(self, timeout: float | None) -> list[Report]:
        """Reports that arrived, waiting up to ``timeout`` seconds (None: until one arrives)."""

    @abstractmethod
    def cancel(self, key: TryKey) -> None:
        """Stop a work item; it is then reported Finished with ``Outcome.CANCELLED``."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Stop everything and free resources."""
