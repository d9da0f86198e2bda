"""Retention in the store: which runs are old enough to delete, and deleting every row of theirs
(and only theirs), with the cache entries and result files nothing else needs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

import weir
from weir.runs import Run, run_flow
from weir.settings import Settings
from weir.store import retention
from weir.store.store import Store
from weir.store.tables import AuditRow, Base, CacheRow, RunRow

runs_t = RunRow.__table__
cache_t = CacheRow.__table__
NOW = datetime(2024, 6, 3, 12, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=30)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=1)


@weir.task
def numbers(n: int) -> list[int]:
    print(f"making {n} numbers")
    return list(range(n))


@weir.task
def square(x: int) -> int:
    return x * x


@weir.task
def total(xs: list[int]) -> int:
    return sum(xs)


@weir.flow
def squares(n: int = 3) -> int:
    return total(square.map(numbers(n)))


@weir.task(cache=True)
def big(n: int) -> str:
    return "x" * n


@weir.flow
def cached(n: int = 1000) -> str:
    return big(n)


@pytest.fixture
def settings(store_url: str) -> Settings:
    """Inline runs on the test's store; every result goes to the result store."""
    return Settings.from_env(executor="inline", result_inline_max=0)


@pytest.fixture
def make_run(settings: Settings, store: Store) -> Callable[..., int]:
    """``make_run(flow, params, ended=..., state=...)``: a real run of ``flow``, then moved in time
    (other keywords are columns of its row to set)."""

    def make(
        flow: Any = squares,
        params: dict[str, Any] | None = None,
        *,
        ended: datetime | None = OLD,
        **values: Any,
    ) -> int:
        run = run_flow(flow, params or {}, settings=settings)
        values = {"ended_at": ended, "created_at": (ended or OLD) - timedelta(minutes=1), **values}
        with store.transaction() as tx:
            tx.execute(update(runs_t).where(runs_t.c.id == run.id).values(**values))
        return run.id

    return make


def rows_of(store: Store, run_id: int) -> dict[str, int]:
    """How many rows of each run table (and ``runs``) belong to ``run_id``."""
    with store.read() as conn:
        counts = {
            table.name: conn.execute(
                select(func.count()).select_from(table).where(table.c.run_id == run_id)
            ).scalar_one()
            for table in retention.RUN_TABLES
        }
        counts["runs"] = conn.execute(
            select(func.count()).select_from(runs_t).where(runs_t.c.id == run_id)
        ).scalar_one()
    return counts


def old_runs(store: Store, **options: Any) -> list[int]:
    with store.read() as conn:
        below = retention.newest_run_id(conn)
        return retention.old_runs(conn, CUTOFF, below=options.pop("below", below), **options)


def test_every_table_whose_rows_belong_to_a_run_is_cleaned() -> None:
    with_run_id = {t.name for t in Base.metadata.tables.values() if "run_id" in t.c}
    assert with_run_id == {t.name for t in retention.RUN_TABLES} | {"cache"}
    assert "run_id" not in AuditRow.__table__.c  # the audit log is never cleaned


def test_old_runs_are_ended_runs_that_ended_before_the_cutoff(
    store: Store, make_run: Callable[..., int]
) -> None:
    succeeded = make_run()
    failed = make_run(state="failed")
    never_started = make_run(ended=None, state="cancelled")  # its creation time counts
    queued = make_run(ended=None, state="queued")
    running = make_run(state="running")
    recent = make_run(ended=RECENT)
    made_long_ago_ended_lately = make_run(ended=RECENT, created_at=OLD)
    newest = make_run()

    assert old_runs(store) == [succeeded, failed, never_started]
    assert old_runs(store, after=succeeded, limit=1) == [failed]
    assert {queued, running, recent, made_long_ago_ended_lately, newest}.isdisjoint(old_runs(store))


def test_the_newest_run_is_never_old_enough(store: Store, make_run: Callable[..., int]) -> None:
    first, second = make_run(), make_run()  # both old and ended

    with store.read() as conn:
        assert retention.newest_run_id(conn) == second
    assert old_runs(store) == [first]


def test_old_runs_of_one_flow(store: Store, make_run: Callable[..., int]) -> None:
    of_squares = make_run(squares)
    make_run(cached)
    make_run(squares)  # the newest

    assert old_runs(store, flow="squares") == [of_squares]
    assert old_runs(store, flow="nothing") == []


def test_delete_runs_deletes_every_row_of_the_runs_and_nothing_else(
    store: Store, make_run: Callable[..., int]
) -> None:
    gone, kept = make_run(), make_run()
    before = rows_of(store, kept)
    with store.read() as conn:
        audit_rows = conn.execute(select(func.count()).select_from(AuditRow.__table__)).scalar_one()
        counted = retention.count_rows(conn, [gone], NOW)
    assert rows_of(store, gone)["tries"] == 5  # numbers, three squares, total

    with store.transaction() as tx:
        deleted = retention.delete_runs(tx, [gone], NOW)

    assert deleted == counted
    assert deleted["runs"] == 1 and deleted["task_runs"] == 6 and deleted["events"] > 6
    assert set(rows_of(store, gone).values()) == {0}
    assert rows_of(store, kept) == before
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(AuditRow.__table__)).scalar_one() == audit_rows


def test_result_files_are_the_results_of_the_runs_tries(
    store: Store, make_run: Callable[..., int], settings: Settings
) -> None:
    gone = make_run()
    with store.read() as conn:
        files = retention.result_files(conn, [gone], NOW)
    assert len(files) == 5
    assert all(url.startswith(f"{settings.results}/{gone}/") and size > 0 for url, size in files.items())


def expire(store: Store, run_id: int, at: datetime) -> None:
    with store.transaction() as tx:
        tx.execute(update(cache_t).where(cache_t.c.run_id == run_id).values(expires_at=at))


def test_an_expired_cache_entry_goes_with_its_run_and_an_unexpired_one_stays(
    store: Store, make_run: Callable[..., int]
) -> None:
    expired, unexpired = make_run(cached, {"n": 1}), make_run(cached, {"n": 2})
    expire(store, expired, NOW - timedelta(seconds=1))  # the other never expires

    with store.transaction() as tx:
        deleted = retention.delete_runs(tx, [expired, unexpired], NOW)

    with store.read() as conn:
        left = conn.execute(select(cache_t.c.run_id)).scalars().all()
    assert deleted["cache"] == 1 and left == [unexpired]


def run_and_hit_cache(make_run: Callable[..., int], settings: Settings) -> tuple[int, Run]:
    """An old run whose cached result a later run (kept) took, as its own result."""
    first = make_run(cached)
    second = run_flow(cached, {}, settings=settings)
    assert [r.state for r in second.task_runs] == ["cached"]
    return first, second


def test_a_cache_entry_a_kept_run_took_its_result_from_stays_with_its_file(
    store: Store, make_run: Callable[..., int], settings: Settings
) -> None:
    first, second = run_and_hit_cache(make_run, settings)
    expire(store, first, NOW - timedelta(days=1))  # expired, yet still needed

    with store.read() as conn:
        assert retention.count_rows(conn, [first], NOW)["cache"] == 0
        assert retention.result_files(conn, [first], NOW) == {}
    with store.transaction() as tx:
        assert retention.delete_runs(tx, [first], NOW)["cache"] == 0
    assert second.refresh().result() == "x" * 1000


def test_a_result_a_kept_run_returned_stays_when_the_cache_entry_is_gone(
    store: Store, make_run: Callable[..., int], settings: Settings
) -> None:
    first, second = run_and_hit_cache(make_run, settings)
    with store.transaction() as tx:  # the key's entry was replaced since, say
        tx.execute(cache_t.delete())
    with store.read() as conn:
        kept_url = conn.execute(select(runs_t.c.result_path).where(runs_t.c.id == second.id)).scalar_one()
        assert retention.still_used(conn, [kept_url, "elsewhere"], [first], NOW) == {kept_url}
        assert retention.result_files(conn, [first], NOW) == {}
