"""Retention: the ended runs old enough to forget, and deleting them with every row of theirs.

A run's rows are its own row and those of :data:`RUN_TABLES` (task runs, tries, events, callback
calls), found by run id, plus its cache entries that nothing needs any more: expired (an entry
not yet expired may still be hit by the next run) and not the entry a kept task run took its
result from. Audit rows are never deleted: they are the history of actions.

The newest run is always kept, whatever its age: SQLite hands the largest id out again once its
row is gone, and a run id must never name two runs (the audit log and the log and result stores
name runs by id).

Every function takes a connection and never commits: the caller owns the transaction, and
deletes a batch of runs per transaction, so a long clean never holds the write lock for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, exists, func, not_, or_, select

from weir.states import RUN_TERMINAL
from weir.store.tables import CacheRow, CallbackCallRow, EventRow, RunRow, TaskRunRow, TryRow

runs_t = RunRow.__table__
task_runs_t = TaskRunRow.__table__
tries_t = TryRow.__table__
cache_t = CacheRow.__table__

#: The tables whose rows belong to one run, by their ``run_id`` (a test checks none is missing).
RUN_TABLES: tuple[Table, ...] = (task_runs_t, tries_t, EventRow.__table__, CallbackCallRow.__table__)
#: Statements are kept below SQLite's limit on bound values (and PostgreSQL's plans small).
_CHUNK = 500


def newest_run_id(conn: Connection) -> int:
    """The largest run id (0 for an empty store): that run is never deleted (see the module)."""
    return conn.execute(select(func.coalesce(func.max(runs_t.c.id), 0))).scalar_one()


def old_runs(
    conn: Connection,
    cutoff: datetime,
    *,
    below: int,
    flow: str | None = None,
    after: int = 0,
    limit: int = _CHUNK,
    lock: bool = False,
) -> list[int]:
    """Ids of ended runs (success, failed, cancelled) that ended before ``cutoff`` (or were made
    before it, for one that has no end time), with ``after < id < below``, in id order.

    Args:
        below: the newest run's id (see :func:`newest_run_id`), which is never returned.
        flow: only runs of this flow.
        after: a cursor: the last id of the batch before.
        limit: the most ids returned.
        lock: lock the runs until the transaction ends, skipping those another transaction
            holds (PostgreSQL; SQLite's one write lock serialises writers already), so an action
            on a run (a retry) cannot interleave with its deletion.
    """
    ended_before = or_(
        and_(runs_t.c.ended_at.is_not(None), runs_t.c.ended_at < cutoff),
        and_(runs_t.c.ended_at.is_(None), runs_t.c.created_at < cutoff),
    )
    conditions = [
        runs_t.c.state.in_(sorted(RUN_TERMINAL)),
        runs_t.c.id > after,
        runs_t.c.id < below,
        ended_before,
    ]
    if flow is not None:
        conditions.append(runs_t.c.flow_name == flow)
    query = select(runs_t.c.id).where(*conditions).order_by(runs_t.c.id).limit(limit)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(conn.execute(query).scalars())


def count_rows(conn: Connection, run_ids: Sequence[int], now: datetime) -> dict[str, int]:
    """How many rows :func:`delete_runs` of ``run_ids`` at ``now`` would delete, by table (reads only)."""
    ids = list(run_ids)
    return {
        table.name: conn.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
        for table, condition in _doomed(ids, now)
    }


def result_files(conn: Connection, run_ids: Sequence[int], now: datetime) -> dict[str, int]:
    """The results (URL as recorded: size in bytes) that deleting ``run_ids`` at ``now`` leaves
    unused: those the runs' tries recorded, but for the ones a row that stays refers to (another
    run's result can be one, when it came from a cache entry of these runs)."""
    ids = list(run_ids)
    query = select(tries_t.c.result_path, func.coalesce(tries_t.c.result_size, 0)).where(
        tries_t.c.run_id.in_(ids), tries_t.c.result_path.is_not(None)
    )
    recorded: dict[str, int] = {url: size for url, size in conn.execute(query)}
    kept = still_used(conn, list(recorded), ids, now)
    return {url: size for url, size in recorded.items() if url not in kept}


def delete_runs(conn: Connection, run_ids: Sequence[int], now: datetime) -> dict[str, int]:
    """Delete the runs ``run_ids`` and their rows (see the module); returns rows deleted by table."""
    ids = list(run_ids)
    return {
        table.name: conn.execute(delete(table).where(condition)).rowcount
        for table, condition in _doomed(ids, now)
    }


def still_used(conn: Connection, urls: Sequence[str], run_ids: Sequence[int], now: datetime) -> set[str]:
    """Which result ``urls`` rows that outlive the deletion of ``run_ids`` refer to.

    Only two kinds of row can refer to another run's result: a run whose output came from a cache
    hit, and a kept cache entry. A try's result is always its own run's.
    """
    ids = list(run_ids)
    used: set[str] = set()
    for start in range(0, len(urls), _CHUNK):
        chunk = list(urls[start : start + _CHUNK])
        used.update(
            conn.execute(
                select(runs_t.c.result_path).where(runs_t.c.result_path.in_(chunk), runs_t.c.id.not_in(ids))
            ).scalars()
        )
        used.update(
            conn.execute(
                select(cache_t.c.result_path).where(
                    cache_t.c.result_path.in_(chunk), not_(_unneeded_cache(ids, now))
                )
            ).scalars()
        )
    return used


def _doomed(ids: list[int], now: datetime) -> list[tuple[Table, ColumnElement[bool]]]:
    """Each table with the condition its rows going with runs ``ids`` meet; the runs last."""
    return [
        (cache_t, _unneeded_cache(ids, now)),
        *((table, table.c.run_id.in_(ids)) for table in RUN_TABLES),
        (runs_t, runs_t.c.id.in_(ids)),
    ]


def _unneeded_cache(ids: list[int], now: datetime) -> ColumnElement[bool]:
    """Cache entries made by runs ``ids`` that have expired and give no kept task run its result."""
    taken_elsewhere = exists().where(
        task_runs_t.c.cache_key == cache_t.c.key, task_runs_t.c.run_id.not_in(ids)
    )
    return and_(
        cache_t.c.run_id.in_(ids),
        cache_t.c.expires_at.is_not(None),
        cache_t.c.expires_at <= now,
        ~taken_elsewhere,
    )
