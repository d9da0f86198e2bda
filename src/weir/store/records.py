"""Records read from and written to the store: plain dataclasses, no SQLAlchemy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowRecord:
    """One stored flow version: its snapshot (None for a version stored before snapshots)."""

    name: str
    version: str
    path: str | None
    module: str | None
    description: str | None
    graph: dict[str, Any]
    created_at: datetime
    snapshot: dict[str, Any] | None = None
    code_kind: str | None = None

    @property
    def graph_json(self) -> dict[str, Any]:
        """The graph as JSON (nodes with their policies, edges), from the snapshot when there is one."""
        if self.snapshot is not None:
            graph: dict[str, Any] = self.snapshot.get("graph", {})
            return graph
        return self.graph if isinstance(self.graph, dict) else {}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    id: int
    flow_name: str
    flow_version: str
    state: str
    params: dict[str, Any]
    trigger: str
    executor: str | None
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str | None = None
    logical_date: datetime | None = None
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    result_data: bytes | None = None
    result_path: str | None = None
    cancel_requested: bool = False
    owner: str | None = None
    fence: int = 0

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(slots=True, kw_only=True)
class TaskRunRecord:
    """A task run's current state; the scheduler keeps these in memory while it drives a run."""

    run_id: int
    task_id: str
    map_index: int = -1
    state: str = "pending"
    try_number: int = 0
    max_tries: int = 1
    map_count: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    pool: str | None = None
    note: str | None = None
    cache_key: str | None = None
    interruptions: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.task_id, self.map_index)

    @property
    def label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(slots=True, kw_only=True)
class TryRecord:
    """One try of a task run."""

    run_id: int
    task_id: str
    map_index: int
    number: int
    state: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    traceback: str | None = None
    log_path: str | None = None
    worker: str | None = None
    result_data: bytes | None = None
    result_path: str | None = None
    result_size: int | None = None
    result_length: int | None = None
    result_digest: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    run_id: int
    task_id: str | None
    map_index: int | None
    from_state: str | None
    to_state: str
    at: datetime
    reason: str | None = None


@dataclass(slots=True, kw_only=True)
class TaskRunChange:
    """A compare-and-set of one task run: from ``expected`` to the values of ``record``."""

    expected: str
    record: TaskRunRecord


@dataclass(slots=True, kw_only=True)
class RunChange:
    """A compare-and-set of a run's state, with the fields that change with it."""

    run_id: int
    expected: str
    state: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str | None = None
    result_data: bytes | None = None
    result_path: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackCallRecord:
    """One call of a task's callbacks (``task_id``) or a flow's (``task_id`` None) for one event,
    and whether each callback in it (a notifier, a function) did its work."""

    run_id: int
    task_id: str | None
    map_index: int
    try_number: int
    event: str  # success, failure, retry
    ok: bool
    error: str | None  # each failed callback, "name: Error: message", joined by "; "
    log_key: str | None  # the call's own log in the log store
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheEntry:
    """A task result kept under a cache key (code hash + inputs)."""

    key: str
    flow_name: str
    task_id: str
    run_id: int
    result_data: bytes | None
    result_path: str | None
    result_size: int | None
    result_length: int | None
    created_at: datetime
    expires_at: datetime | None = None
    result_digest: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnerRecord:
    """A process that drives runs, and when it last said it was alive."""

    id: str
    host: str
    pid: int
    kind: str
    started_at: datetime
    heartbeat_at: datetime
    lease_expires_at: datetime | None = None

    def holds_lease(self, now: datetime) -> bool:
        """Whether the owner's lease is still good at ``now``."""
        return self.lease_expires_at is not None and self.lease_expires_at > now


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowStateRecord:
    """The scheduler's view of a flow: its file, schedule (as JSON), paused, fire times."""

    name: str
    path: str | None
    schedule: dict[str, Any] | None
    paused: bool
    last_fire: datetime | None
    next_fire: datetime | None
    updated_at: datetime


@dataclass(slots=True, kw_only=True)
class Changes:
    """Everything one scheduler step writes, applied in one transaction."""

    cache_entries: list[CacheEntry] = field(default_factory=list)
    new_task_runs: list[TaskRunRecord] = field(default_factory=list)
    task_runs: list[TaskRunChange] = field(default_factory=list)
    new_tries: list[TryRecord] = field(default_factory=list)
    tries: list[TryRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    runs: list[RunChange] = field(default_factory=list)
    callback_calls: list[CallbackCallRecord] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.callback_calls
            or self.new_task_runs
            or self.task_runs
            or self.new_tries
            or self.tries
            or self.events
            or self.runs
            or self.cache_entries
        )

    def extend(self, other: Changes) -> None:
        """Add ``other``'s changes to these (several runs written in one transaction)."""
        self.cache_entries.extend(other.cache_entries)
        self.new_task_runs.extend(other.new_task_runs)
        self.task_runs.extend(other.task_runs)
        self.new_tries.extend(other.new_tries)
        self.tries.extend(other.tries)
        self.events.extend(other.events)
        self.runs.extend(other.runs)
        self.callback_calls.extend(other.callback_calls)


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolRecord:
    """A pool, and how many of its slots are taken (queued or running tries of its tasks)."""

    name: str
    slots: int
    description: str | None
    updated_at: datetime
    used: int = 0

    @property
    def free(self) -> int:
        return max(self.slots - self.used, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One action taken: who (``actor``), through what (``via``), what, on what, when."""

    id: int
    at: datetime
    actor: str
    via: str
    action: str
    target: str
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowFileRecord:
    """A flow file as the registrar last read it: its hash, the flows it holds, or why it did not
    load; ``shadowed``: flows it defines that another file, registered first, holds."""

    path: str
    digest: str
    flows: list[str]
    error: str | None
    loaded_at: datetime
    shadowed: list[str] = field(default_factory=list)
