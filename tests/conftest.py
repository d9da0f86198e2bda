"""Shared fixtures: a private WEIR_HOME for every test, and the store on SQLite and PostgreSQL.

PostgreSQL tests run when ``WEIR_TEST_POSTGRES_URL`` is set (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets a schema of its own,
dropped afterwards. A URL that is set but does not answer fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

POSTGRES_ENV = "WEIR_TEST_POSTGRES_URL"


def _dispose_store_engines() -> None:
    # Only when the store was imported: pure tests never pay for SQLAlchemy.
    db = sys.modules.get("weir.store.db")
    if db is not None:
        db.dispose_engines()


@pytest.fixture(autouse=True)
def weir_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own WEIR_HOME and none of the caller's weir settings."""
    home = tmp_path / "weir-home"
    monkeypatch.setenv("WEIR_HOME", str(home))
    for name in ("WEIR_DATABASE_URL", "WEIR_EXECUTOR", "WEIR_RESULT_INLINE_MAX", "WEIR_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    yield home
    _dispose_store_engines()


def _postgres_schema_url(base_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, pool_pre_ping=True)
    try:
        try:
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:
            pytest.fail(f"{POSTGRES_ENV}={base_url} is set but PostgreSQL does not answer: {exc}")
        separator = "&" if "?" in base_url else "?"
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
        _dispose_store_engines()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(
    request: pytest.FixtureRequest, weir_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The URL of an empty store, also set as ``WEIR_DATABASE_URL`` so ``flow.run`` uses it."""
    if request.param == "sqlite":
        url = f"sqlite:///{weir_home / 'weir.db'}"
        monkeypatch.setenv("WEIR_DATABASE_URL", url)
        yield url
        return
    base_url = os.environ.get(POSTGRES_ENV)
    if not base_url:
        pytest.skip(f"set {POSTGRES_ENV} to run the PostgreSQL variant")
    for url in _postgres_schema_url(base_url):
        monkeypatch.setenv("WEIR_DATABASE_URL", url)
        yield url


@pytest.fixture
def engine(store_url: str) -> Any:
    """The store's engine (migrated on first use)."""
    from weir.store.db import get_engine

    return get_engine(store_url)


def _task_states(run: Any) -> dict[str, str]:
    """``{label: state}`` for every task run of ``run``; mapped elements are ``task[i]``."""
    return {record.label: str(record.state) for record in run.task_runs}


@pytest.fixture
def states() -> Callable[[Any], dict[str, str]]:
    """A function giving ``{label: state}`` for a run's task runs."""
    return _task_states
