"""The inbox of events received: an event id is taken once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from weir.store import inbox
from weir.store.store import Store
from weir.store.tables import EventInRow

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def test_an_event_id_received_twice_is_refused_the_second_time(store: Store) -> None:
    with store.transaction() as tx:
        assert inbox.receive(tx, event_id="e1", name="orders.ready", payload={"day": 1}, now=NOW) is True
    with store.transaction() as tx:
        assert inbox.receive(tx, event_id="e1", name="orders.ready", payload={"day": 2}, now=NOW) is False
        assert inbox.receive(tx, event_id="e2", name="orders.ready", payload=None, now=NOW) is True
    events_in = EventInRow.__table__
    with store.read() as conn:
        rows = conn.execute(select(events_in).order_by(events_in.c.id)).mappings().all()
    assert [(r["id"], r["name"], r["payload"], r["received_at"]) for r in rows] == [
        ("e1", "orders.ready", {"day": 1}, NOW),
        ("e2", "orders.ready", None, NOW),
    ]
