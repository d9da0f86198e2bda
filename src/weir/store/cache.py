"""The task cache: results kept under a key made of a task's code and inputs."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from weir.store.records import CacheEntry
from weir.store.tables import CacheRow

cache_t = CacheRow.__table__
_FIELDS = [f.name for f in dataclasses.fields(CacheEntry)]


def lookup(conn: Connection, keys: list[str], now: datetime) -> dict[str, CacheEntry]:
    """The unexpired entries for ``keys``."""
    if not keys:
        return {}
    found = {}
    for row in conn.execute(select(cache_t).where(cache_t.c.key.in_(keys))).mappings():
        entry = CacheEntry(**row)
        if entry.expires_at is None or entry.expires_at > now:
            found[entry.key] = entry
    return found


def entries(conn: Connection, keys: list[str]) -> dict[str, CacheEntry]:
    """The entries for ``keys``, expired or not (a task run whose result came from one keeps it)."""
    if not keys:
        return {}
    return {
        row["key"]: CacheEntry(**row)
        for row in conn.execute(select(cache_t).where(cache_t.c.key.in_(keys))).mappings()
    }


def store_entries(conn: Connection, entries: list[CacheEntry]) -> None:
    """Keep ``entries`` (the newest entry of a key replaces the one before)."""
    latest = {e.key: e for e in entries}
    conn.execute(delete(cache_t).where(cache_t.c.key.in_(list(latest))))
    conn.execute(insert(cache_t), [{name: getattr(e, name) for name in _FIELDS} for e in latest.values()])
