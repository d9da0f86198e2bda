"""Events received (``weir events send``, the API): their ids make sending one twice harmless."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from weir.store.tables import EventInRow

events_in_t = EventInRow.__table__


def receive(conn: Connection, *, event_id: str, name: str, payload: Any, now: datetime) -> bool:
    """Record an event; False when one with this id was received before."""
    if conn.execute(select(events_in_t.c.id).where(events_in_t.c.id == event_id)).first():
        return False
    conn.execute(insert(events_in_t).values(id=event_id, name=name, payload=payload, received_at=now))
    return True
