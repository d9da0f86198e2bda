"""Fresh stores for the benchmark scripts: SQLite in a folder, or a new PostgreSQL schema that is
dropped afterwards (so a benchmark never reads or leaves rows in an existing database)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

#: The variable the test suite reads its PostgreSQL URL from; the benchmarks take it as a default.
POSTGRES_ENV = "WEIR_TEST_POSTGRES_URL"


@contextmanager
def sqlite_store(folder: Path) -> Iterator[str]:
    """The URL of a new SQLite store in ``folder``."""
    try:
        yield f"sqlite:///{folder / 'weir.db'}"
    finally:
        from weir.store.db import dispose_engines

        dispose_engines()


@contextmanager
def postgres_store(base_url: str) -> Iterator[str]:
    """The URL of a new schema in the database at ``base_url``, dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in base_url else "?"
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        from weir.store.db import dispose_engines

        dispose_engines()  # the store's pooled connections, before the schema goes
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def fresh_store(folder: Path, postgres_url: str | None = None) -> AbstractContextManager[str]:
    """A new SQLite store in ``folder``, or a new schema at ``postgres_url`` when given."""
    return postgres_store(postgres_url) if postgres_url else sqlite_store(folder)
