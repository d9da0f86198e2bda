"""Opening the store: migrations on first use, WAL on SQLite, aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

import weir
from weir.errors import SettingsError
from weir.store import flows, runs
from weir.store.db import (
    HEAD_REVISION,
    current_revision,
    dispose_engines,
    get_engine,
    upgrade_if_needed,
    write,
)


@weir.task
def one() -> int:
    return 1


@weir.flow
def tiny() -> object:
    return one()


def test_first_use_creates_the_schema_at_the_head_revision(store_url: str) -> None:
    engine = get_engine(store_url)
    assert current_revision(engine) == HEAD_REVISION
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert {"flows", "runs", "task_runs", "tries", "events", "alembic_version"} <= tables


def test_head_revision_is_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import weir.store.db

    config = Config()
    config.set_main_option("script_location", str(Path(weir.store.db.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


def test_opening_a_migrated_store_again_changes_nothing(store_url: str) -> None:
    engine = get_engine(store_url)
    assert upgrade_if_needed(engine) is False
    dispose_engines()
    assert current_revision(get_engine(store_url)) == HEAD_REVISION


def test_the_default_store_is_sqlite_in_wal_mode_under_weir_home(weir_home: Path) -> None:
    run = tiny.run(executor="inline")
    assert run.state == "success"
    assert (weir_home / "weir.db").is_file()
    engine = get_engine(f"sqlite:///{weir_home / 'weir.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_datetimes_come_back_aware_in_utc(store_url: str) -> None:
    run = tiny.run(executor="inline")
    record = run.record
    for value in (record.created_at, record.started_at, record.ended_at):
        assert value is not None
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
    assert record.started_at <= record.ended_at
    assert datetime.now(UTC) - record.created_at < timedelta(minutes=5)
    one_try = run.tries("one")[0]
    assert one_try.started_at is not None and one_try.started_at.utcoffset() == timedelta(0)


def test_a_datetime_in_another_zone_is_stored_as_the_same_instant_in_utc(store_url: str) -> None:
    engine = get_engine(store_url)
    paris = timezone(timedelta(hours=2))
    at = datetime(2024, 6, 1, 12, 0, tzinfo=paris)
    with write(engine) as conn:
        run_id = runs.create_run(
            conn,
            flow_name="f",
            flow_version="v",
            params={},
            trigger="manual",
            executor="inline",
            now=at,
            task_runs=[],
        )
    with engine.connect() as conn:
        created = runs.get_run(conn, run_id).created_at
    assert created == at
    assert created.tzinfo == UTC
    assert created.hour == 10


def test_a_naive_datetime_is_refused(store_url: str) -> None:
    engine = get_engine(store_url)
    with pytest.raises(Exception, match="naive datetime"), write(engine) as conn:
        runs.create_run(
            conn,
            flow_name="f",
            flow_version="v",
            params={},
            trigger="manual",
            executor="inline",
            now=datetime(2024, 1, 1),
            task_runs=[],
        )


def test_a_finished_run_is_listed_with_its_flow(store_url: str) -> None:
    run = tiny.run(executor="inline")
    with get_engine(store_url).connect() as conn:
        listed = runs.list_runs(conn, flow="tiny").runs
        flow = flows.get_version(conn, "tiny")
    assert [(r.id, r.state) for r in listed] == [(run.id, "success")]
    assert [n["task_id"] for n in flow.graph_json["nodes"]] == ["one"]


def test_an_unsupported_database_url_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="unsupported database"):
        get_engine("mysql://nobody@localhost/db")


def test_tables_module_is_the_only_schema(engine: Any) -> None:
    from weir.store.tables import Base

    with engine.connect() as conn:
        stored = set(inspect(conn).get_table_names()) - {"alembic_version"}
    assert stored == set(Base.metadata.tables)


def test_a_new_store_made_in_one_go_equals_one_made_by_every_migration(store_url: str) -> None:
    """The fast path for an empty database (the tables' definitions, stamped) and the migrations
    make the same schema: Alembic finds nothing to change between the migrated store and the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from weir.store.db import _create, upgrade
    from weir.store.tables import Base

    engine = _create(store_url)
    try:
        upgrade(engine)  # every migration, from nothing
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
