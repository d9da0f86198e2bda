"""Pool slots for one step of the loop: counted from the store (rows locked on PostgreSQL, the
database locked on SQLite, for the rest of the step's transaction), then handed out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from weir.store import pools

if TYPE_CHECKING:
    from sqlalchemy import Connection


class Gate:
    """Free slots per pool, taken one by one by the tries dispatched in this step."""

    def __init__(self, slots: dict[str, int], free: dict[str, int]) -> None:
        self.slots = slots
        self.free = free

    def acquire(self, pool: str) -> str | None:
        """Take a slot of ``pool``: None when taken, else why the task waits."""
        if pool not in self.free:
            return f"waiting: pool {pool!r} does not exist (create it with `weir pools set {pool} SLOTS`)"
        if self.free[pool] <= 0:
            size = self.slots[pool]
            return f"waiting for a slot of pool {pool!r} ({size} slot{'s' if size != 1 else ''}, all in use)"
        self.free[pool] -= 1
        return None


def gate_for(conn: Connection, names: Iterable[str]) -> Gate:
    """The slots of ``names`` as the store counts them now, in ``conn``'s transaction."""
    found = pools.pools(conn, sorted(set(names)), lock=True)
    return Gate({p.name: p.slots for p in found}, {p.name: p.free for p in found})
