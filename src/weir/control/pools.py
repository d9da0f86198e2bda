"""Pools: set, delete and list them. A task with ``pool="db"`` runs only while the pool has a free
slot, across all runs and all schedulers (as Airflow's pools do)."""

from __future__ import annotations

from weir.control.context import Context, record
from weir.errors import NotFoundError, PoolError
from weir.graph.policy import pool_name
from weir.store import pools
from weir.store.records import PoolRecord

#: The most slots a pool may have (a typo should not make a pool of billions).
MAX_SLOTS = 1_000_000


def set_pool(ctx: Context, name: str, slots: int, description: str | None = None) -> PoolRecord:
    """Create a pool or change its slots (0 holds every task in it until raised again).

    Raises:
        PoolError: a bad name or slot count (nothing is written).
    """
    try:
        if pool_name(name) is None:  # None means "no pool" on a task; a pool needs a name
            raise ValueError("pool must be a name of letters, digits, _ . and - (at most 100), not None")
    except ValueError as exc:
        raise PoolError(str(exc), fields=[("name", str(exc))]) from None
    if isinstance(slots, bool) or not isinstance(slots, int) or not 0 <= slots <= MAX_SLOTS:
        raise PoolError(
            f"slots must be a whole number from 0 to {MAX_SLOTS}, not {slots!r}",
            fields=[("slots", "out of range")],
        )
    with ctx.store.transaction() as tx:
        created = pools.set_pool(tx, name, slots, description, ctx.clock.now())
        record(tx, ctx, "set_pool", f"pool {name}", slots=slots, created=created or None)
        (made,) = pools.pools(tx, [name])
    return made


def delete_pool(ctx: Context, name: str) -> None:
    """Forget a pool; its tasks then wait (their pool does not exist).

    Raises:
        NotFoundError: no such pool.
    """
    with ctx.store.transaction() as tx:
        if not pools.delete_pool(tx, name):
            raise NotFoundError(f"there is no pool {name!r}")
        record(tx, ctx, "delete_pool", f"pool {name}")


def list_pools(ctx: Context) -> list[PoolRecord]:
    """Every pool with its slots in use, by name."""
    with ctx.store.read() as conn:
        return pools.pools(conn)
