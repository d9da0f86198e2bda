"""``weir.control.pools``: set, delete and list pools; bad names and slot counts are refused
before anything is written."""

from __future__ import annotations

import pytest

from weir.control.context import Context
from weir.control.pools import MAX_SLOTS, delete_pool, list_pools, set_pool
from weir.errors import NotFoundError, PoolError
from weir.states import TaskState
from weir.store import runs
from weir.store.records import TaskRunRecord

from .conftest import NOW, audit_rows


def test_set_pool_creates_a_pool_then_changes_its_slots(ctx: Context, audited) -> None:
    made, created = audited(lambda: set_pool(ctx, "db", 2, "the warehouse"))
    changed, updated = audited(lambda: set_pool(ctx, "db", 0))

    assert (made.name, made.slots, made.description, made.used, made.free) == ("db", 2, "the warehouse", 0, 2)
    assert (changed.slots, changed.description, changed.free) == (0, "the warehouse", 0)
    assert (created.actor, created.via, created.action, created.target) == (
        "ada",
        "cli",
        "set_pool",
        "pool db",
    )
    assert created.detail == {"slots": 2, "created": True}
    assert updated.detail == {"slots": 0}


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 101, 5, None])
def test_a_bad_pool_name_is_refused_naming_the_name_field(ctx: Context, name: object) -> None:
    with pytest.raises(PoolError) as caught:
        set_pool(ctx, name, 1)  # type: ignore[arg-type]

    assert [field for field, _ in caught.value.fields] == ["name"]
    assert list_pools(ctx) == [] and audit_rows(ctx) == []


@pytest.mark.parametrize("slots", [-1, MAX_SLOTS + 1, True, 1.5, "3", None])
def test_a_bad_slot_count_is_refused_naming_the_slots_field(ctx: Context, slots: object) -> None:
    with pytest.raises(PoolError, match="slots must be a whole number from 0 to 1000000") as caught:
        set_pool(ctx, "db", slots)  # type: ignore[arg-type]

    assert caught.value.fields == [("slots", "out of range")]
    assert list_pools(ctx) == [] and audit_rows(ctx) == []


def test_delete_pool_forgets_it_and_a_missing_pool_is_not_found(ctx: Context, audited) -> None:
    set_pool(ctx, "db", 1)

    _, row = audited(lambda: delete_pool(ctx, "db"))

    assert list_pools(ctx) == []
    assert (row.action, row.target) == ("delete_pool", "pool db")
    with pytest.raises(NotFoundError, match="no pool 'db'"):
        delete_pool(ctx, "db")


def test_list_pools_gives_every_pool_by_name_with_the_slots_its_queued_and_running_tasks_take(
    ctx: Context,
) -> None:
    set_pool(ctx, "web", 1)
    set_pool(ctx, "db", 3)
    with ctx.store.transaction() as tx:
        runs.create_run(
            tx,
            flow_name="etl",
            flow_version="v1",
            params={},
            trigger="manual",
            executor="inline",
            now=NOW,
            task_runs=[
                TaskRunRecord(run_id=0, task_id="a", pool="db", state=TaskState.QUEUED),
                TaskRunRecord(run_id=0, task_id="b", pool="db", state=TaskState.RUNNING),
                TaskRunRecord(run_id=0, task_id="c", pool="db", state=TaskState.PENDING),
                TaskRunRecord(run_id=0, task_id="d", pool="db", state=TaskState.SUCCESS),
            ],
        )

    listed = list_pools(ctx)

    assert [(p.name, p.slots, p.used, p.free) for p in listed] == [("db", 3, 2, 1), ("web", 1, 0, 1)]
