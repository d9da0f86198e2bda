"""The Store object: one per URL, write transactions that commit or roll back, reads, capabilities."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from weir.errors import NotFoundError, SettingsError
from weir.store import inbox, runs
from weir.store.store import Store, open_store

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def test_open_store_returns_the_same_store_for_a_url(store_url: str) -> None:
    assert open_store(store_url) is open_store(store_url)


def test_open_store_refuses_a_database_it_cannot_use() -> None:
    with pytest.raises(SettingsError, match="unsupported database"):
        open_store("mysql://nobody@localhost/db")


def test_a_transaction_commits_what_it_wrote(store: Store) -> None:
    with store.transaction() as tx:
        inbox.receive(tx, event_id="e1", name="arrived", payload={}, now=NOW)
    with store.transaction() as tx:
        assert inbox.receive(tx, event_id="e1", name="arrived", payload={}, now=NOW) is False


def test_a_transaction_that_raises_writes_nothing(store: Store, add_run: Callable[..., int]) -> None:
    class Boom(Exception):
        pass

    run_id = add_run()
    with pytest.raises(Boom), store.transaction() as tx:
        inbox.receive(tx, event_id="e1", name="arrived", payload={}, now=NOW)
        runs.request_cancel(tx, run_id)
        raise Boom
    with store.transaction() as tx:
        assert inbox.receive(tx, event_id="e1", name="arrived", payload={}, now=NOW) is True
    with store.read() as conn:
        assert runs.cancel_requests(conn, [run_id]) == []


def test_a_read_sees_committed_rows(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run("etl")
    with store.read() as conn:
        assert runs.get_run(conn, run_id).flow_name == "etl"
        with pytest.raises(NotFoundError, match=f"no run {run_id + 1}"):
            runs.get_run(conn, run_id + 1)


def test_a_kept_connection_opens_transactions_of_its_own(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run()
    with store.connect() as conn:
        with conn.begin():
            runs.request_cancel(conn, run_id)
        with conn.begin():
            assert runs.cancel_requests(conn, [run_id]) == [run_id]


def test_ping_answers_for_a_live_database(store: Store) -> None:
    store.ping()


def test_skip_locked_is_offered_on_postgresql_only(store: Store, store_url: str) -> None:
    expected = "postgresql" if store_url.startswith("postgresql") else "sqlite"
    assert store.dialect == expected
    assert store.skip_locked is (expected == "postgresql")
