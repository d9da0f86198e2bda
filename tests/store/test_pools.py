"""Pools: slots set and changed, slots in use counted from queued and running task runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from weir.store import pools, tasks
from weir.store.records import Changes, PoolRecord, TaskRunChange, TaskRunRecord
from weir.store.store import Store

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def in_pools(store: Store, add_run: Callable[..., int], states: dict[str, tuple[str, str | None]]) -> int:
    """A run whose task runs (``task_id: (state, pool)``) are in those states and pools."""
    run_id = add_run(tasks=tuple(states))
    with store.transaction() as tx:
        tasks.apply_changes(
            tx,
            Changes(
                task_runs=[
                    TaskRunChange(
                        expected="pending",
                        record=TaskRunRecord(run_id=run_id, task_id=task_id, state=state, pool=pool),
                    )
                    for task_id, (state, pool) in states.items()
                ]
            ),
        )
    return run_id


def test_set_pool_creates_a_pool_then_changes_it(store: Store) -> None:
    later = NOW + timedelta(minutes=1)
    with store.transaction() as tx:
        assert pools.set_pool(tx, "db", 2, "the warehouse", NOW) is True
        assert pools.set_pool(tx, "db", 5, None, later) is False
    with store.read() as conn:
        assert pools.pools(conn) == [
            PoolRecord(name="db", slots=5, description="the warehouse", updated_at=later)
        ]
    with store.transaction() as tx:
        pools.set_pool(tx, "db", 5, "the new warehouse", later)
    with store.read() as conn:
        assert pools.pools(conn)[0].description == "the new warehouse"


def test_pools_count_used_slots_from_queued_and_running_task_runs(
    store: Store, add_run: Callable[..., int]
) -> None:
    with store.transaction() as tx:
        pools.set_pool(tx, "db", 3, None, NOW)
        pools.set_pool(tx, "api", 1, None, NOW)
        pools.set_pool(tx, "idle", 1, None, NOW)
    in_pools(
        store,
        add_run,
        {
            "q": ("queued", "db"),
            "r": ("running", "db"),
            "s": ("scheduled", "db"),
            "done": ("success", "db"),
            "retry": ("up_for_retry", "db"),
            "call": ("running", "api"),
            "free": ("running", None),
        },
    )
    in_pools(store, add_run, {"q": ("queued", "db"), "call": ("queued", "api")})
    with store.read() as conn:
        found = {p.name: (p.slots, p.used, p.free) for p in pools.pools(conn)}
        assert [p.name for p in pools.pools(conn, ["idle", "db", "unknown"])] == ["db", "idle"]
        assert pools.used(conn, []) == {}
    assert found == {"api": (1, 2, 0), "db": (3, 3, 0), "idle": (1, 0, 1)}


def test_a_pool_is_deleted_once(store: Store) -> None:
    with store.transaction() as tx:
        pools.set_pool(tx, "db", 2, None, NOW)
    with store.transaction() as tx:
        assert pools.delete_pool(tx, "db") is True
        assert pools.delete_pool(tx, "db") is False
    with store.read() as conn:
        assert pools.pools(conn) == []


def test_pools_can_be_read_locked_in_a_write_transaction(store: Store, add_run: Callable[..., int]) -> None:
    with store.transaction() as tx:
        pools.set_pool(tx, "db", 2, None, NOW)
    in_pools(store, add_run, {"q": ("queued", "db")})
    with store.transaction() as tx:
        locked = pools.pools(tx, ["db"], lock=True)
        pools.set_pool(tx, "db", locked[0].slots + 1, None, NOW)
    assert [dataclasses.astuple(p) for p in locked] == [("db", 2, None, NOW, 1)]
    with store.read() as conn:
        assert pools.pools(conn)[0].free == 2
