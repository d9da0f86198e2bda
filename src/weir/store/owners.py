"""Owners and their leases: which process drives which run, and until when.

A driving process (a scheduler, ``weir run``, a backfill) is an *owner* with a lease that it
renews by heartbeat. A run is claimed by compare-and-set on its ``owner``, and every claim raises
its fencing token (``runs.fence``); a write for a run carries the token its writer got, and
:func:`stale_fences` finds those that no longer match, so an owner whose run was adopted after
its lease expired can never write to it again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Exists, and_, bindparam, exists, insert, or_, select, update

from weir.store.fastpath import Prepared
from weir.store.records import OwnerRecord, RunRecord
from weir.store.runs import ACTIVE_STATES, run_of
from weir.store.tables import FlowRow, OwnerRow, RunRow

owners_t = OwnerRow.__table__
runs_t = RunRow.__table__
flows_t = FlowRow.__table__
_FIELDS = [f.name for f in dataclasses.fields(OwnerRecord)]


def register(conn: Connection, owner: OwnerRecord) -> None:
    """Record ``owner`` (once: registering it again changes nothing)."""
    if conn.execute(select(owners_t.c.id).where(owners_t.c.id == owner.id)).first() is None:
        conn.execute(insert(owners_t).values(**{name: getattr(owner, name) for name in _FIELDS}))


def renew(conn: Connection, owner_id: str, now: datetime, lease: float) -> bool:
    """Beat the heartbeat: the lease now lasts ``lease`` seconds from ``now``; False when the
    owner is not recorded."""
    result = conn.execute(
        update(owners_t)
        .where(owners_t.c.id == owner_id)
        .values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease))
    )
    return result.rowcount == 1


def expire(conn: Connection, owner_ids: Iterable[str], now: datetime) -> None:
    """End the leases of ``owner_ids`` now (their processes are known to be gone, or they stop)."""
    ids = list(owner_ids)
    if ids:
        conn.execute(update(owners_t).where(owners_t.c.id.in_(ids)).values(lease_expires_at=now))


def get(conn: Connection, owner_id: str) -> OwnerRecord | None:
    row = conn.execute(select(owners_t).where(owners_t.c.id == owner_id)).mappings().first()
    return None if row is None else OwnerRecord(**row)


def owners(conn: Connection, *, limit: int = 100) -> list[OwnerRecord]:
    """Owners, newest heartbeat first."""
    rows = conn.execute(select(owners_t).order_by(owners_t.c.heartbeat_at.desc()).limit(limit)).mappings()
    return [OwnerRecord(**row) for row in rows]


def live(conn: Connection, now: datetime) -> list[OwnerRecord]:
    """Owners whose lease is good at ``now``."""
    rows = conn.execute(select(owners_t).where(owners_t.c.lease_expires_at > now)).mappings()
    return [OwnerRecord(**row) for row in rows]


def _lease_held(now: datetime) -> Exists:
    """True for a run whose owner holds a good lease."""
    return exists().where(owners_t.c.id == runs_t.c.owner, owners_t.c.lease_expires_at > now)


def claimable(now: datetime, owner_id: str) -> ColumnElement[bool]:
    """True for a run nobody drives: no owner, ``owner_id`` itself, or an owner whose lease ended."""
    return or_(runs_t.c.owner.is_(None), runs_t.c.owner == owner_id, ~_lease_held(now))


def claim(conn: Connection, run_id: int, owner_id: str, now: datetime) -> int | None:
    """Make ``owner_id`` the driver of an unfinished run nobody else drives; returns its new
    fencing token, or None when another live owner has it (or it has ended)."""
    result = conn.execute(
        update(runs_t)
        .where(runs_t.c.id == run_id, runs_t.c.state.in_(ACTIVE_STATES), claimable(now, owner_id))
        .values(owner=owner_id, fence=runs_t.c.fence + 1)
    )
    if result.rowcount != 1:
        return None
    return conn.execute(select(runs_t.c.fence).where(runs_t.c.id == run_id)).scalar_one()


def candidates(
    conn: Connection,
    owner_id: str,
    now: datetime,
    *,
    exclude_flows: Iterable[str] = (),
    started_only: bool = False,
    limit: int = 100,
) -> list[RunRecord]:
    """Unfinished runs nobody drives, oldest first, leaving out ``exclude_flows`` (flows at their
    limit). On PostgreSQL the rows are locked until the transaction ends and rows another
    transaction holds are skipped (``FOR UPDATE SKIP LOCKED``); claim them in the same transaction.

    ``started_only``: only runs a dead owner had taken (adopted whatever the flows' limits).
    """
    only_here = exists().where(
        flows_t.c.name == runs_t.c.flow_name,
        flows_t.c.version == runs_t.c.flow_version,
        flows_t.c.code_kind == "pickle",
    )
    conditions = [
        runs_t.c.state.in_(ACTIVE_STATES),
        claimable(now, owner_id),
        runs_t.c.owner.is_distinct_from(owner_id),
        ~only_here,  # a flow only its own process has the code of: no other driver can run it
    ]
    if started_only:
        conditions.append(or_(runs_t.c.owner.is_not(None), runs_t.c.state == "running"))
    excluded = list(exclude_flows)
    if excluded:
        conditions.append(runs_t.c.flow_name.not_in(excluded))
    query = select(runs_t).where(and_(*conditions)).order_by(runs_t.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=runs_t, skip_locked=True)
    return [run_of(row) for row in conn.execute(query)]


def any_claimable(conn: Connection, owner_id: str, now: datetime) -> bool:
    """Whether some unfinished run waits for a driver (a cheap read before a claiming transaction)."""
    query = (
        select(runs_t.c.id)
        .where(
            runs_t.c.state.in_(ACTIVE_STATES),
            claimable(now, owner_id),
            runs_t.c.owner.is_distinct_from(owner_id),
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def release(conn: Connection, run_id: int, owner_id: str, fence: int) -> bool:
    """Give a run back (owner none) if ``owner_id`` still holds it with token ``fence``."""
    result = conn.execute(
        update(runs_t)
        .where(runs_t.c.id == run_id, runs_t.c.owner == owner_id, runs_t.c.fence == fence)
        .values(owner=None)
    )
    return result.rowcount == 1


def stale_fences(conn: Connection, owner_id: str, fences: Mapping[int, int]) -> list[int]:
    """The runs among ``fences`` (run id -> token) that ``owner_id`` no longer holds with that token.

    On PostgreSQL the runs' rows stay locked until the transaction ends, so no claim can slip
    in between this check and the writes it guards (on SQLite the transaction holds the lock).
    Run at every scheduler step, so one precompiled statement per run, on the DBAPI cursor.
    """
    stale = []
    for run_id, fence in fences.items():
        if _holder.first(conn, {"id": run_id}) != (owner_id, fence):
            stale.append(run_id)
    return sorted(stale)


# FOR UPDATE renders on PostgreSQL only (SQLite's compiler leaves it out).
_holder = Prepared(
    select(runs_t.c.owner, runs_t.c.fence).where(runs_t.c.id == bindparam("id")).with_for_update()
)


def active_by_flow(conn: Connection, now: datetime) -> dict[str, int]:
    """Unfinished runs that a live owner drives, per flow (what ``max_active_runs`` counts)."""
    from sqlalchemy import func

    rows = conn.execute(
        select(runs_t.c.flow_name, func.count())
        .where(runs_t.c.state.in_(ACTIVE_STATES), runs_t.c.owner.is_not(None), _lease_held(now))
        .group_by(runs_t.c.flow_name)
    )
    return {name: count for name, count in rows.all()}


def take_over(conn: Connection, run_id: int, now: datetime) -> None:
    """Take a run from whoever drove it (the caller checked that nobody live does): no owner,
    and its fencing token raised, so a former driver that comes back can never write to it."""
    conn.execute(update(runs_t).where(runs_t.c.id == run_id).values(owner=None, fence=runs_t.c.fence + 1))
