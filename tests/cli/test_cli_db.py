"""``weir db upgrade`` and ``weir db check``."""

from __future__ import annotations

import re

from weir.store import db


def test_db_upgrade_reports_the_revision_before_and_after(weir, home, database_url):
    first = weir("db", "upgrade")
    again = weir("db", "upgrade")

    assert first.code == 0, first
    upgraded = re.search(r"store upgraded: \(empty\) -> (\S+)", first.out)
    assert upgraded, first
    if database_url is None:
        assert (home / "weir.db").exists()
    assert again.code == 0
    assert f"store already at revision {upgraded[1]}" in again.out


def test_db_check_of_an_empty_store_says_migrations_are_pending_and_makes_nothing(weir, home, database_url):
    done = weir("db", "check")

    assert done.code == 1, done
    assert "revision: (empty)" in done.out
    assert f"newest:   {db.HEAD_REVISION}" in done.out
    assert "migrations are pending: run `weir db upgrade`" in done.out
    if database_url is None:
        assert not (home / "weir.db").exists()
    assert weir("db", "check", "--json").json()["revision"] is None


def test_db_check_of_an_older_store_exits_1_and_does_not_migrate_it(weir, home, database_url):
    url = database_url or f"sqlite:///{home / 'weir.db'}"
    engine = db._create(url)
    try:
        db.upgrade(engine, "0003")
    finally:
        engine.dispose()

    first = weir("db", "check", "--json")
    again = weir("db", "check", "--json")

    assert first.code == 1, first
    assert first.json() | {"store": None} == {
        "store": None,
        "revision": "0003",
        "head": db.HEAD_REVISION,
        "pending": True,
        "ahead": False,
    }
    assert again.json()["revision"] == "0003"


def test_db_check_after_an_upgrade_says_the_store_is_current(weir):
    assert weir("db", "upgrade").code == 0

    done = weir("db", "check")
    data = weir("db", "check", "--json").json()

    assert done.code == 0, done
    assert "the store is current" in done.out
    assert (data["revision"], data["head"], data["pending"]) == (db.HEAD_REVISION, db.HEAD_REVISION, False)
