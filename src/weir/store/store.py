"""The store object: opened once per process from the database URL, with transactions, reads
and what the database can do. Queries live in one module per aggregate beside this one
(``runs``, ``tasks``, ``flows``, ``owners``, ``pools``, ``audit``, ``cache``, ``inbox``); each is a
verb taking a connection, and never commits: the caller owns the transaction.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from weir.store.db import get_engine, write

if TYPE_CHECKING:
    from sqlalchemy import Engine


class Store:
    """The metadata store: SQLite (one writer at a time, WAL) or PostgreSQL.

    Args:
        url: the database URL; the engine behind it is made (and the schema migrated) on first use.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine  # noqa: B018 - open (and migrate) now, so a bad URL fails here

    @property
    def engine(self) -> Engine:
        """The process's engine for this URL."""
        return get_engine(self.url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def skip_locked(self) -> bool:
        """Whether claims can skip rows another transaction holds (``FOR UPDATE SKIP LOCKED``).

        On SQLite a write transaction takes the database's one write lock up front (``BEGIN
        IMMEDIATE``): claims are serialised by that lock instead.
        """
        return self.dialect == "postgresql"

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction: ``with store.transaction() as tx: ...`` commits on success."""
        return write(self.engine)

    def read(self) -> AbstractContextManager[Connection]:
        """A connection for reading (no write lock is taken)."""
        return self.engine.connect()

    def connect(self) -> Connection:
        """A connection the caller keeps (the loop's), opening its own transactions."""
        return self.engine.connect().execution_options(weir_write=True)

    def ping(self) -> None:
        """Raise when the database does not answer."""
        with self.read() as conn:
            conn.execute(text("SELECT 1")).scalar()


_stores: dict[str, Store] = {}
_lock = threading.Lock()


def open_store(url: str) -> Store:
    """The process's store for ``url``, opened (and migrated) on first use.

    Raises:
        SettingsError: the URL is not one weir can use.
    """
    store = _stores.get(url)
    if store is not None:
        return store
    with _lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = Store(url)
    return store
