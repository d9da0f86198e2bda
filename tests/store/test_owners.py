"""Owners, leases, claims and fencing: who drives which run, until when, and who may still write."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

import weir
from weir.graph.snapshot import CodeKind, CodeRef, snapshot_to_json
from weir.sdk.snapshot import snapshot_of
from weir.store import flows, owners, runs, tasks
from weir.store.records import Changes, OwnerRecord, RunChange
from weir.store.store import Store

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
LEASE = 30.0


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@weir.task
def step() -> int:
    return 1


@weir.flow
def scripted() -> object:
    return step()


def owner(store: Store, owner_id: str, *, lease_until: datetime | None) -> None:
    """Record ``owner_id`` with a lease good until ``lease_until``."""
    with store.transaction() as tx:
        owners.register(
            tx,
            OwnerRecord(
                id=owner_id,
                host="host-1",
                pid=100,
                kind="scheduler",
                started_at=at(-600),
                heartbeat_at=at(-1),
                lease_expires_at=lease_until,
            ),
        )


def live_owner(store: Store, owner_id: str) -> None:
    owner(store, owner_id, lease_until=at(LEASE))


def dead_owner(store: Store, owner_id: str) -> None:
    owner(store, owner_id, lease_until=at(-1))


def claim(store: Store, run_id: int, owner_id: str, now: datetime = NOW) -> int | None:
    with store.transaction() as tx:
        return owners.claim(tx, run_id, owner_id, now)


def held(store: Store, run_id: int) -> tuple[str | None, int]:
    with store.read() as conn:
        run = runs.get_run(conn, run_id)
    return run.owner, run.fence


def end(store: Store, run_id: int) -> None:
    with store.transaction() as tx:
        tasks.apply_changes(
            tx, Changes(runs=[RunChange(run_id=run_id, expected="queued", state="cancelled")])
        )


def start(store: Store, run_id: int) -> None:
    with store.transaction() as tx:
        tasks.apply_changes(tx, Changes(runs=[RunChange(run_id=run_id, expected="queued", state="running")]))


# -- owners and leases ---------------------------------------------------------------------------------


def test_register_records_an_owner_once(store: Store) -> None:
    live_owner(store, "a")
    with store.transaction() as tx:
        owners.register(
            tx, OwnerRecord(id="a", host="elsewhere", pid=1, kind="run", started_at=NOW, heartbeat_at=NOW)
        )
    with store.read() as conn:
        recorded = owners.get(conn, "a")
        assert owners.get(conn, "b") is None
    assert recorded is not None
    assert (recorded.host, recorded.pid, recorded.kind, recorded.lease_expires_at) == (
        "host-1",
        100,
        "scheduler",
        at(LEASE),
    )


def test_renew_makes_the_lease_last_from_now(store: Store) -> None:
    dead_owner(store, "a")
    with store.transaction() as tx:
        assert owners.renew(tx, "a", at(10), LEASE) is True
        assert owners.renew(tx, "unknown", at(10), LEASE) is False
    with store.read() as conn:
        renewed = owners.get(conn, "a")
    assert renewed is not None
    assert (renewed.heartbeat_at, renewed.lease_expires_at) == (at(10), at(10 + LEASE))
    assert renewed.holds_lease(at(10 + LEASE - 1))
    assert not renewed.holds_lease(at(10 + LEASE))


def test_live_gives_the_owners_whose_lease_is_good_now(store: Store) -> None:
    live_owner(store, "a")
    dead_owner(store, "b")
    owner(store, "c", lease_until=None)
    with store.read() as conn:
        assert [o.id for o in owners.live(conn, NOW)] == ["a"]
        assert owners.live(conn, at(LEASE)) == []


def test_owners_are_listed_newest_heartbeat_first(store: Store) -> None:
    for owner_id, beat in (("a", 5), ("b", 20), ("c", 10)):
        live_owner(store, owner_id)
        with store.transaction() as tx:
            owners.renew(tx, owner_id, at(beat), LEASE)
    with store.read() as conn:
        assert [o.id for o in owners.owners(conn)] == ["b", "c", "a"]
        assert [o.id for o in owners.owners(conn, limit=1)] == ["b"]


def test_expire_ends_leases_now(store: Store) -> None:
    for owner_id in ("a", "b", "c"):
        live_owner(store, owner_id)
    with store.transaction() as tx:
        owners.expire(tx, ["a", "b"], NOW)
        owners.expire(tx, [], NOW)
    with store.read() as conn:
        assert [o.id for o in owners.live(conn, NOW)] == ["c"]


# -- claims and fencing ----------------------------------------------------------------------------------


def test_a_run_with_no_owner_is_claimed_and_its_fence_raised(
    store: Store, add_run: Callable[..., int]
) -> None:
    run_id = add_run()
    assert claim(store, run_id, "a") == 1
    assert held(store, run_id) == ("a", 1)


def test_a_run_whose_owners_lease_expired_is_adopted(store: Store, add_run: Callable[..., int]) -> None:
    dead_owner(store, "a")
    run_id = add_run(owner="a")
    assert claim(store, run_id, "b") == 1
    assert held(store, run_id) == ("b", 1)


def test_a_run_whose_owner_is_not_recorded_is_adopted(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run(owner="vanished")
    assert claim(store, run_id, "b") == 1


def test_an_owner_claims_its_own_run_again(store: Store, add_run: Callable[..., int]) -> None:
    live_owner(store, "a")
    run_id = add_run(owner="a")
    assert claim(store, run_id, "a") == 1
    assert claim(store, run_id, "a") == 2
    assert held(store, run_id) == ("a", 2)


def test_a_run_whose_owner_holds_a_live_lease_is_not_claimed(
    store: Store, add_run: Callable[..., int]
) -> None:
    live_owner(store, "a")
    run_id = add_run()
    assert claim(store, run_id, "a") == 1
    assert claim(store, run_id, "b") is None
    assert held(store, run_id) == ("a", 1)


def test_the_same_run_is_claimable_once_the_lease_runs_out(store: Store, add_run: Callable[..., int]) -> None:
    live_owner(store, "a")
    run_id = add_run(owner="a")
    assert claim(store, run_id, "b", at(LEASE - 1)) is None
    assert claim(store, run_id, "b", at(LEASE)) == 1


def test_an_ended_run_is_not_claimed(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run()
    end(store, run_id)
    assert claim(store, run_id, "a") is None
    assert held(store, run_id) == (None, 0)


def test_a_running_run_is_claimed(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run()
    start(store, run_id)
    assert claim(store, run_id, "a") == 1


def test_every_claim_raises_the_fence_by_one(store: Store, add_run: Callable[..., int]) -> None:
    dead_owner(store, "a")
    dead_owner(store, "b")
    run_id = add_run()
    assert [claim(store, run_id, who) for who in ("a", "b", "a", "c")] == [1, 2, 3, 4]
    assert held(store, run_id) == ("c", 4)


def test_stale_fences_reports_a_run_adopted_by_another_owner(
    store: Store, add_run: Callable[..., int]
) -> None:
    owner(store, "a", lease_until=at(10))
    adopted, kept = add_run(), add_run()
    assert (claim(store, adopted, "a"), claim(store, kept, "a")) == (1, 1)
    fences = {adopted: 1, kept: 1}
    assert claim(store, adopted, "b", at(11)) == 2
    with store.transaction() as tx:
        assert owners.stale_fences(tx, "a", fences) == [adopted]
        assert owners.stale_fences(tx, "b", {adopted: 2}) == []
        assert owners.stale_fences(tx, "a", {}) == []


def test_stale_fences_reports_a_run_whose_fence_changed_under_the_same_owner(
    store: Store, add_run: Callable[..., int]
) -> None:
    run_id = add_run()
    first = claim(store, run_id, "a")
    second = claim(store, run_id, "a")
    assert (first, second) == (1, 2)
    with store.transaction() as tx:
        assert owners.stale_fences(tx, "a", {run_id: 1}) == [run_id]
        assert owners.stale_fences(tx, "a", {run_id: 2}) == []


def test_stale_fences_reports_a_run_that_is_gone(store: Store) -> None:
    with store.transaction() as tx:
        assert owners.stale_fences(tx, "a", {999: 1}) == [999]


def test_release_works_only_with_the_current_fence(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run()
    claim(store, run_id, "a")
    fence = claim(store, run_id, "a")
    with store.transaction() as tx:
        assert owners.release(tx, run_id, "a", 1) is False
        assert owners.release(tx, run_id, "b", 2) is False
    assert held(store, run_id) == ("a", 2)
    with store.transaction() as tx:
        assert fence is not None and owners.release(tx, run_id, "a", fence) is True
    assert held(store, run_id) == (None, 2)


def test_take_over_raises_the_fence_and_clears_the_owner(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run()
    fence = claim(store, run_id, "a")
    assert fence == 1
    with store.transaction() as tx:
        owners.take_over(tx, run_id, NOW)
    assert held(store, run_id) == (None, 2)
    with store.transaction() as tx:
        assert owners.stale_fences(tx, "a", {run_id: fence}) == [run_id]
        assert owners.release(tx, run_id, "a", fence) is False


# -- candidates ------------------------------------------------------------------------------------------


def test_candidates_are_the_unclaimed_runs_in_id_order(store: Store, add_run: Callable[..., int]) -> None:
    live_owner(store, "me")
    live_owner(store, "other")
    dead_owner(store, "dead")
    free = add_run()
    orphan = add_run(owner="dead")
    add_run(owner="other")
    add_run(owner="me")
    ended = add_run()
    end(store, ended)
    running_free = add_run()
    start(store, running_free)
    with store.transaction() as tx:
        found = owners.candidates(tx, "me", NOW)
        first = owners.candidates(tx, "me", NOW, limit=1)
    assert [r.id for r in found] == [free, orphan, running_free]
    assert [r.id for r in first] == [free]


def test_candidates_leave_out_excluded_flows(store: Store, add_run: Callable[..., int]) -> None:
    etl = add_run("etl")
    add_run("busy")
    report = add_run("report")
    with store.transaction() as tx:
        assert [r.id for r in owners.candidates(tx, "me", NOW, exclude_flows=["busy"])] == [etl, report]
        assert [r.id for r in owners.candidates(tx, "me", NOW, exclude_flows=["busy", "etl"])] == [report]


def test_candidates_leave_out_runs_of_a_flow_only_its_own_process_can_run(
    store: Store, add_run: Callable[..., int]
) -> None:
    pickled = snapshot_to_json(
        snapshot_of(scripted, code=CodeRef(kind=CodeKind.PICKLE, target="__main__:scripted"))
    )
    module = snapshot_to_json(snapshot_of(scripted))
    with store.transaction() as tx:
        flows.add_version(tx, pickled, NOW)
        flows.add_version(tx, module, NOW)
    add_run("scripted", version=pickled["version"])
    importable = add_run("scripted", version=module["version"])
    unregistered = add_run("scripted", version="not-stored")
    with store.transaction() as tx:
        assert [r.id for r in owners.candidates(tx, "me", NOW)] == [importable, unregistered]


def test_candidates_started_only_are_the_runs_a_dead_owner_had(
    store: Store, add_run: Callable[..., int]
) -> None:
    dead_owner(store, "dead")
    live_owner(store, "other")
    add_run()
    orphan = add_run(owner="dead")
    add_run(owner="other")
    taken_over = add_run(owner="dead")
    start(store, taken_over)
    with store.transaction() as tx:
        owners.take_over(tx, taken_over, NOW)
    with store.transaction() as tx:
        found = owners.candidates(tx, "me", NOW, started_only=True)
        busy_excluded = owners.candidates(tx, "me", NOW, started_only=True, exclude_flows=["etl"])
    assert [r.id for r in found] == [orphan, taken_over]
    assert busy_excluded == []


def test_active_by_flow_counts_only_runs_a_live_owner_drives(
    store: Store, add_run: Callable[..., int]
) -> None:
    live_owner(store, "a")
    dead_owner(store, "dead")
    add_run("etl", owner="a")
    add_run("etl", owner="a")
    add_run("etl", owner="dead")
    add_run("etl")
    add_run("report", owner="a")
    ended = add_run("report", owner="a")
    end(store, ended)
    add_run("idle", owner="dead")
    with store.read() as conn:
        assert owners.active_by_flow(conn, NOW) == {"etl": 2, "report": 1}
        assert owners.active_by_flow(conn, at(LEASE)) == {}


# -- two drivers at once -----------------------------------------------------------------------------------


def test_concurrent_candidates_on_postgresql_never_share_a_run(
    store: Store, add_run: Callable[..., int]
) -> None:
    if not store.skip_locked:
        pytest.skip("SQLite serialises writers instead of skipping locked rows")
    ids = [add_run() for _ in range(3)]
    with store.transaction() as first:
        mine = owners.candidates(first, "a", NOW, limit=2)
        with store.transaction() as second:
            theirs = owners.candidates(second, "b", NOW)
            assert [owners.claim(second, r.id, "b", NOW) for r in theirs] == [1]
        assert [owners.claim(first, r.id, "a", NOW) for r in mine] == [1, 1]
    assert [r.id for r in mine] == ids[:2]
    assert [r.id for r in theirs] == ids[2:]
    assert [held(store, run_id)[0] for run_id in ids] == ["a", "a", "b"]


def test_a_second_claim_waits_for_the_first_transaction_and_then_fails(
    store: Store, add_run: Callable[..., int]
) -> None:
    live_owner(store, "a")
    live_owner(store, "b")
    run_id = add_run()
    second: list[int | None] = []
    waiter = threading.Thread(target=lambda: second.append(claim(store, run_id, "b")))
    with store.transaction() as tx:
        assert owners.claim(tx, run_id, "a", NOW) == 1
        waiter.start()
        # The second writer is held by the first transaction (SQLite's one write lock; the run's
        # row lock on PostgreSQL) for as long as it stays open.
        waiter.join(timeout=0.5)
        assert waiter.is_alive()
        assert second == []
    waiter.join(timeout=30)
    assert second == [None]
    assert held(store, run_id) == ("a", 1)


def test_a_second_writer_on_sqlite_waits_for_the_first_and_sees_its_rows(
    store: Store, add_run: Callable[..., int]
) -> None:
    if store.skip_locked:
        pytest.skip("PostgreSQL writers run side by side and skip each other's locked rows")
    seen: list[list[int]] = []

    def second_writer() -> None:
        with store.transaction() as tx:
            seen.append([r.id for r in owners.candidates(tx, "b", NOW)])

    waiter = threading.Thread(target=second_writer)
    with store.transaction() as tx:
        run_id = runs.create_run(
            tx,
            flow_name="etl",
            flow_version="v1",
            params={},
            trigger="manual",
            executor="inline",
            now=NOW,
            task_runs=[],
        )
        waiter.start()
        waiter.join(timeout=0.5)
        assert waiter.is_alive()
    waiter.join(timeout=30)
    assert seen == [[run_id]]
