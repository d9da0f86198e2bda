"""Pools: how many tries of the tasks in a pool may be queued or running at once, across all
runs and all schedulers. A slot is taken by a task run in ``queued`` or ``running``; dispatching
into a pool locks the pool's row (PostgreSQL) or the database (SQLite) for the count."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from weir.states import TASK_IN_FLIGHT
from weir.store.records import PoolRecord
from weir.store.tables import PoolRow, TaskRunRow

pools_t = PoolRow.__table__
task_runs_t = TaskRunRow.__table__


def set_pool(conn: Connection, name: str, slots: int, description: str | None, now: datetime) -> bool:
    """Create or change a pool; True when it is new."""
    known = conn.execute(select(pools_t.c.name).where(pools_t.c.name == name)).first()
    values = {"slots": slots, "updated_at": now}
    if description is not None:
        values["description"] = description
    if known:
        conn.execute(update(pools_t).where(pools_t.c.name == name).values(**values))
        return False
    conn.execute(insert(pools_t).values(name=name, description=description, slots=slots, updated_at=now))
    return True


def delete_pool(conn: Connection, name: str) -> bool:
    """Forget a pool; True when it existed."""
    return conn.execute(delete(pools_t).where(pools_t.c.name == name)).rowcount == 1


def used(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Slots taken in each of ``names``."""
    wanted = list(names)
    if not wanted:
        return {}
    rows = conn.execute(
        select(task_runs_t.c.pool, func.count())
        .where(task_runs_t.c.pool.in_(wanted), task_runs_t.c.state.in_([str(s) for s in TASK_IN_FLIGHT]))
        .group_by(task_runs_t.c.pool)
    )
    return {name: count for name, count in rows.all()}


def pools(conn: Connection, names: Iterable[str] | None = None, *, lock: bool = False) -> list[PoolRecord]:
    """Pools (all, or ``names``) with their slots in use, by name. ``lock`` holds their rows until
    the transaction ends (PostgreSQL), so two dispatchers never count the same free slot."""
    query = select(pools_t).order_by(pools_t.c.name)
    if names is not None:
        query = query.where(pools_t.c.name.in_(list(names)))
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    rows = list(conn.execute(query).mappings())
    taken = used(conn, [row["name"] for row in rows])
    return [PoolRecord(**row, used=taken.get(row["name"], 0)) for row in rows]
