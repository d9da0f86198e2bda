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


def test_db_clean_dry_run_says_what_would_go_then_clean_removes_it(weir, flows_file, home, store_runs):
    for flow in ("squares", "squares", "failing"):
        weir("run", f"flows.py:{flow}", "-e", "inline")
    assert (home / "logs" / "1").is_dir()

    planned = weir("db", "clean", "--older-than", "0d", "--dry-run")
    planned_json = weir("db", "clean", "--older-than", "0d", "--dry-run", "--json")
    assert [r["id"] for r in store_runs()] == [1, 2, 3]
    done = weir("db", "clean", "--older-than", "0d", "--json")
    again = weir("db", "clean", "--older-than", "0")

    assert planned.code == 0, planned
    assert planned.out.startswith("would remove 2 runs that ended before ")
    assert "  rows:    12 task runs, 10 tries," in planned.out  # numbers, square (and 3 elements), total
    assert done.code == 0, done
    assert done.json() | {"cutoff": None, "dry_run": None} == planned_json.json() | {
        "cutoff": None,
        "dry_run": None,
    }
    assert done.json()["runs"] == 2 and done.json()["log_files"] > 0
    assert [r["id"] for r in store_runs()] == [3]  # the newest run is always kept
    assert not (home / "logs" / "1").exists() and (home / "logs" / "3").is_dir()
    assert again.code == 0 and again.out.startswith("removed 0 runs"), again
    assert "db.clean" in weir("audit").out


def test_db_clean_refuses_a_bad_age_in_one_line_and_removes_nothing(weir, flows_file, store_runs):
    weir("run", "flows.py:squares", "-e", "inline")
    weir("run", "flows.py:squares", "-e", "inline")

    for bad in ("3x", "-1d", "1.5d", "d", "99999999999d"):
        done = weir("db", "clean", "--older-than", bad)
        assert done.code == 2, (bad, done)
        assert done.out == "" and done.err.count("\n") == 1, (bad, done)
        assert done.err.startswith(f"error: --older-than: {bad!r} is not an age"), (bad, done)
        assert "30d, 12h, 90m or 2w" in done.err
    assert len(store_runs()) == 2
