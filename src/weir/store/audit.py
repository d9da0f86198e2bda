"""The audit log: one row per action taken, by whom, through what (cli, api, ui, scheduler)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from weir.store.records import AuditRecord
from weir.store.tables import AuditRow

audit_t = AuditRow.__table__


def append(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    via: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one row, in the caller's transaction (the action's own)."""
    conn.execute(
        insert(audit_t).values(
            at=at, actor=actor[:200], via=via, action=action, target=target[:300], detail=detail or None
        )
    )


def entries(
    conn: Connection,
    *,
    action: str | None = None,
    target: str | None = None,
    actor: str | None = None,
    before: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[AuditRecord]:
    """Rows, newest first, filtered; ``before`` (a row id) pages backwards, ``offset`` skips rows."""
    query = select(audit_t).where(*_filters(action, target, actor)).order_by(audit_t.c.id.desc())
    if before is not None:
        query = query.where(audit_t.c.id < before)
    query = query.limit(limit).offset(offset)
    return [AuditRecord(**row) for row in conn.execute(query).mappings()]


def count(
    conn: Connection, *, action: str | None = None, target: str | None = None, actor: str | None = None
) -> int:
    """How many rows match the filters (as :func:`entries` takes them, without a cursor)."""
    query = select(func.count()).select_from(audit_t).where(*_filters(action, target, actor))
    return int(conn.execute(query).scalar_one())


def _filters(action: str | None, target: str | None, actor: str | None) -> list[Any]:
    conditions: list[Any] = []
    if action:
        conditions.append(audit_t.c.action == action)
    if target:
        conditions.append(audit_t.c.target == target)
    if actor:
        conditions.append(audit_t.c.actor == actor)
    return conditions
