"""The task cache: entries kept under a key, found while unexpired, replaced per key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from weir.store import cache, tasks
from weir.store.records import CacheEntry, Changes
from weir.store.store import Store

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def entry(key: str, *, run_id: int = 1, expires_at: datetime | None = None, data: bytes = b"r") -> CacheEntry:
    return CacheEntry(
        key=key,
        flow_name="etl",
        task_id="extract",
        run_id=run_id,
        result_data=data,
        result_path=None,
        result_size=len(data),
        result_length=None,
        created_at=NOW,
        expires_at=expires_at,
        result_digest="d" * 64,
    )


def keep(store: Store, *entries: CacheEntry) -> None:
    with store.transaction() as tx:
        cache.store_entries(tx, list(entries))


def test_lookup_finds_unexpired_entries_and_skips_expired_ones(store: Store) -> None:
    forever = entry("forever")
    fresh = entry("fresh", expires_at=NOW + timedelta(hours=1))
    stale = entry("stale", expires_at=NOW)
    keep(store, forever, fresh, stale)
    with store.read() as conn:
        assert cache.lookup(conn, ["forever", "fresh", "stale", "unknown"], NOW) == {
            "forever": forever,
            "fresh": fresh,
        }
        assert cache.lookup(conn, ["fresh"], NOW + timedelta(hours=2)) == {}
        assert cache.lookup(conn, [], NOW) == {}


def test_entries_gives_expired_entries_too(store: Store) -> None:
    stale = entry("stale", expires_at=NOW - timedelta(days=1))
    keep(store, stale)
    with store.read() as conn:
        assert cache.entries(conn, ["stale", "unknown"]) == {"stale": stale}
        assert cache.entries(conn, []) == {}


def test_store_entries_replaces_the_entry_of_a_key(store: Store) -> None:
    keep(store, entry("k", run_id=1, data=b"old"), entry("other"))
    keep(store, entry("k", run_id=2, data=b"new"))
    with store.read() as conn:
        found = cache.entries(conn, ["k", "other"])
    assert (found["k"].run_id, found["k"].result_data) == (2, b"new")
    assert found["other"].run_id == 1


def test_the_last_entry_of_a_key_in_one_batch_is_kept(store: Store) -> None:
    keep(store, entry("k", run_id=1), entry("k", run_id=2))
    with store.read() as conn:
        assert cache.entries(conn, ["k"])["k"].run_id == 2


def test_a_step_keeps_its_cache_entries(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run()
    kept = entry("k", run_id=run_id)
    with store.transaction() as tx:
        tasks.apply_changes(tx, Changes(cache_entries=[kept]))
    with store.read() as conn:
        assert cache.lookup(conn, ["k"], NOW) == {"k": kept}
