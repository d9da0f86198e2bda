"""The audit log: rows appended by actions, read newest first with filters and a cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from weir.store import audit
from weir.store.store import Store

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def append(store: Store, *rows: tuple[str, str, str]) -> None:
    """Rows of ``(actor, action, target)``, one second apart."""
    with store.transaction() as tx:
        for i, (actor, action, target) in enumerate(rows):
            audit.append(
                tx, at=NOW + timedelta(seconds=i), actor=actor, via="cli", action=action, target=target
            )


def test_an_appended_row_is_read_back(store: Store) -> None:
    with store.transaction() as tx:
        audit.append(
            tx, at=NOW, actor="ada", via="api", action="trigger", target="flow etl", detail={"run_id": 7}
        )
    with store.read() as conn:
        [entry] = audit.entries(conn)
    assert (entry.at, entry.actor, entry.via, entry.action, entry.target, entry.detail) == (
        NOW,
        "ada",
        "api",
        "trigger",
        "flow etl",
        {"run_id": 7},
    )


def test_an_empty_detail_is_kept_as_none_and_long_names_are_cut(store: Store) -> None:
    with store.transaction() as tx:
        audit.append(tx, at=NOW, actor="a" * 250, via="ui", action="pause", target="t" * 400, detail={})
    with store.read() as conn:
        [entry] = audit.entries(conn)
    assert entry.detail is None
    assert (len(entry.actor), len(entry.target)) == (200, 300)


def test_entries_come_newest_first_and_filter_by_action_target_and_actor(store: Store) -> None:
    append(
        store,
        ("ada", "trigger", "flow etl"),
        ("bob", "cancel", "run 1"),
        ("ada", "cancel", "run 2"),
        ("bob", "trigger", "flow etl"),
    )
    with store.read() as conn:
        every = audit.entries(conn)
        cancels = audit.entries(conn, action="cancel")
        on_etl = audit.entries(conn, target="flow etl")
        by_ada = audit.entries(conn, actor="ada")
        ada_cancels = audit.entries(conn, actor="ada", action="cancel")
    assert [(e.actor, e.target) for e in every] == [
        ("bob", "flow etl"),
        ("ada", "run 2"),
        ("bob", "run 1"),
        ("ada", "flow etl"),
    ]
    assert [e.target for e in cancels] == ["run 2", "run 1"]
    assert [e.actor for e in on_etl] == ["bob", "ada"]
    assert [e.target for e in by_ada] == ["run 2", "flow etl"]
    assert [e.target for e in ada_cancels] == ["run 2"]


def test_entries_page_backwards_before_a_row_id(store: Store) -> None:
    append(store, *[("ada", "trigger", f"flow f{i}") for i in range(5)])
    with store.read() as conn:
        first = audit.entries(conn, limit=2)
        second = audit.entries(conn, limit=2, before=first[-1].id)
        last = audit.entries(conn, limit=2, before=second[-1].id)
        cancels = audit.entries(conn, action="cancel", before=first[0].id)
    assert [e.target for e in first] == ["flow f4", "flow f3"]
    assert [e.target for e in second] == ["flow f2", "flow f1"]
    assert [e.target for e in last] == ["flow f0"]
    assert cancels == []
