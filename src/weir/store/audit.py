"""The audit log: one row per action taken, by whom, through what (cli, api, ui, scheduler)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

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
) -> list[AuditRecord]:
    """Rows, newest first, filtered; ``before`` (a row id) pages backwards."""
    query = select(audit_t).order_by(audit_t.c.id.desc()).limit(limit)
    if action:
        query = query.where(audit_t.c.action == action)
    if target:
        query = query.where(audit_t.c.target == target)
    if actor:
        query = query.where(audit_t.c.actor == actor)
    if before is not None:
        query = query.where(audit_t.c.id < before)
    return [AuditRecord(**row) for row in conn.execute(query).mappings()]
