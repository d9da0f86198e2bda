"""The store's tables, as SQLAlchemy 2 declarative models.

Task runs and tries use natural keys (run id, task id, map index, try number) so the
scheduler can write them in batches without reading ids back. Every state change also
appends a row to ``events``; the ``state`` columns are the current state, cached.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # Every model here maps a plain Table; saying so lets Core verbs (insert, update, delete)
    # take ``Model.__table__``, which SQLAlchemy types as the wider FromClause.
    __table__: ClassVar[Table]


class FlowRow(Base):
    """One version of a flow: its snapshot (JSON), and where its code lives.

    Rows written before snapshots existed (revision < 0004) have only ``graph``: they can be shown,
    not run; ``snapshot`` is the flow version as the scheduler and the API know it.
    """

    __tablename__ = "flows"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str | None] = mapped_column(Text)
    module: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    graph: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    code_kind: Mapped[str | None] = mapped_column(String(20))


class RunRow(Base):
    """One run of a flow."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_name: Mapped[str] = mapped_column(String(200))
    flow_version: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    executor: Mapped[str | None] = mapped_column(String(20))
    run_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    logical_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    interval_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    interval_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    result_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    result_path: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(100))
    #: The fencing token: raised by one at every claim; a write must carry the current one.
    fence: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_runs_flow_created", "flow_name", "created_at"),
        Index("ix_runs_state", "state"),
        Index("ix_runs_queued_owner", "state", "owner"),
    )


class TaskRunRow(Base):
    """One task run: a node of a run's graph, or one element of a mapped node (``map_index`` >= 0)."""

    __tablename__ = "task_runs"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer, primary_key=True, default=-1)
    state: Mapped[str] = mapped_column(String(20))
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    max_tries: Mapped[int] = mapped_column(Integer, default=1)
    map_count: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pool: Mapped[str | None] = mapped_column(String(100))
    #: Why the task run is in its state, when that needs saying ("waiting for pool 'db'").
    note: Mapped[str | None] = mapped_column(Text)
    #: For a task run whose result came from the task cache: the cache key that holds it.
    cache_key: Mapped[str | None] = mapped_column(String(64))
    #: Tries in a row lost with the process driving the run (not counted against retries).
    interruptions: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_task_runs_pool_state", "pool", "state"),)


class TryRow(Base):
    """One try of a task run, with its outcome, error, log file and result reference."""

    __tablename__ = "tries"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    log_path: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(100))
    result_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    result_path: Mapped[str | None] = mapped_column(Text)
    result_size: Mapped[int | None] = mapped_column(BigInteger)
    result_length: Mapped[int | None] = mapped_column(BigInteger)
    result_digest: Mapped[str | None] = mapped_column(String(64))


class EventRow(Base):
    """One state change of a run (``task_id`` empty) or of a task run."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[str | None] = mapped_column(String(200))
    map_index: Mapped[int | None] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_events_run", "run_id", "id"),)


class CallbackCallRow(Base):
    """One call of a task's or a flow's callbacks for one event, and how it went (a notification
    that could not be delivered is kept here, not only in the call's log)."""

    __tablename__ = "callback_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[str | None] = mapped_column(String(200))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    event: Mapped[str] = mapped_column(String(20))
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    log_key: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_callback_calls_run", "run_id", "id"),
        Index("ix_callback_calls_ok", "ok", "id"),
    )


class OwnerRow(Base):
    """A process that drives runs (a foreground ``weir run``, a scheduler), with its lease.

    The owner renews its lease by heartbeat; once ``lease_expires_at`` has passed, another
    process may adopt its runs (each adoption raises the run's fencing token).
    """

    __tablename__ = "owners"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CacheRow(Base):
    """A cached task result, found by a key made of the task's code and inputs."""

    __tablename__ = "cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_name: Mapped[str] = mapped_column(String(200))
    task_id: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int] = mapped_column(Integer)
    result_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    result_path: Mapped[str | None] = mapped_column(Text)
    result_size: Mapped[int | None] = mapped_column(BigInteger)
    result_length: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_digest: Mapped[str | None] = mapped_column(String(64))


class FlowStateRow(Base):
    """What the scheduler keeps per flow: where it lives, its schedule, paused, the last fire."""

    __tablename__ = "flow_state"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    path: Mapped[str | None] = mapped_column(Text)
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    last_fire: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_fire: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FlowFileRow(Base):
    """A flow file the scheduler loaded: its hash, and the error when it did not load."""

    __tablename__ = "flow_files"

    path: Mapped[str] = mapped_column(Text, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    flows: Mapped[list[str]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Flows the file defines that another file, registered first, holds (ignored here).
    shadowed: Mapped[list[str] | None] = mapped_column(JSON)


class EventInRow(Base):
    """An event received (``weir events send``); its id makes sending it twice harmless."""

    __tablename__ = "events_in"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FlowTagRow(Base):
    """A tag of a flow (its newest version's), for filtering flows and their runs."""

    __tablename__ = "flow_tags"

    flow_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)

    __table_args__ = (Index("ix_flow_tags_tag", "tag"),)


class PoolRow(Base):
    """A pool: how many tries of the tasks in it may be queued or running at once, everywhere."""

    __tablename__ = "pools"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    slots: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditRow(Base):
    """One action someone (or the scheduler) took: who, what, on what, when, and through what."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(300))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_target", "target", "id"), Index("ix_audit_action", "action", "id"))
