"""Flows: their versions (snapshots), tags, scheduling state (schedule, paused, fire times) and
the flow files the registrar read (with the error of each file that did not load)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from weir.errors import NotFoundError
from weir.store.records import FlowFileRecord, FlowRecord, FlowStateRecord
from weir.store.tables import FlowFileRow, FlowRow, FlowStateRow, FlowTagRow

flows_t = FlowRow.__table__
flow_state_t = FlowStateRow.__table__
flow_files_t = FlowFileRow.__table__
flow_tags_t = FlowTagRow.__table__


def add_version(conn: Connection, snapshot: dict[str, Any], now: datetime) -> bool:
    """Keep a flow version's snapshot (JSON, as ``snapshot_to_json`` makes it) unless it is kept
    already, and make it the flow's newest and its tags the flow's; True when the version is new.

    A version kept already that is added again after a newer one (its flow file was reverted)
    becomes the newest again: it is the code the flow has now.
    """
    name, version = snapshot["name"], snapshot["version"]
    code = snapshot["code"]
    if keep_again(conn, name, version, snapshot.get("tags", ()), now):
        return False
    set_tags(conn, name, snapshot.get("tags", ()))
    conn.execute(
        insert(flows_t).values(
            name=name,
            version=version,
            path=code["target"] if code["kind"] == "file" else None,
            module=code["target"] if code["kind"] == "module" else None,
            description=snapshot.get("description"),
            graph={},
            snapshot=snapshot,
            code_kind=code["kind"],
            created_at=now,
        )
    )
    return True


def keep_again(conn: Connection, name: str, version: str, tags: Iterable[str], now: datetime) -> bool:
    """When the version is kept already: make it the flow's newest (see :func:`add_version`) and
    its tags the flow's, and return True; False (nothing done) when it is not."""
    exists = conn.execute(
        select(flows_t.c.created_at).where(flows_t.c.name == name, flows_t.c.version == version)
    ).first()
    if not exists:
        return False
    set_tags(conn, name, tags)
    newest = select(func.max(flows_t.c.created_at)).where(flows_t.c.name == name)
    newest_at = conn.execute(newest).scalar_one()
    if exists.created_at < newest_at < now:
        conn.execute(
            update(flows_t).where(flows_t.c.name == name, flows_t.c.version == version).values(created_at=now)
        )
    return True


def set_tags(conn: Connection, name: str, tags: Iterable[str]) -> None:
    wanted = set(tags)
    have = {row.tag for row in conn.execute(select(flow_tags_t.c.tag).where(flow_tags_t.c.flow_name == name))}
    if wanted == have:
        return
    conn.execute(delete(flow_tags_t).where(flow_tags_t.c.flow_name == name))
    if wanted:
        conn.execute(insert(flow_tags_t), [{"flow_name": name, "tag": t} for t in sorted(wanted)])


def get_version(conn: Connection, name: str, version: str | None = None) -> FlowRecord:
    """The given version of a flow, or its newest; raises NotFoundError."""
    query = select(flows_t).where(flows_t.c.name == name)
    if version is not None:
        query = query.where(flows_t.c.version == version)
    row = conn.execute(query.order_by(flows_t.c.created_at.desc()).limit(1)).mappings().first()
    if row is None:
        raise NotFoundError(f"there is no flow {name!r}" + (f" at version {version}" if version else ""))
    return FlowRecord(**row)


def newest(
    conn: Connection, *, tag: str | None = None, names: Iterable[str] | None = None
) -> list[FlowRecord]:
    """The newest version of each flow (with ``tag``, or of ``names``), by name."""
    latest = select(flows_t.c.name, func.max(flows_t.c.created_at).label("created_at")).group_by(
        flows_t.c.name
    )
    if tag:
        latest = latest.where(
            flows_t.c.name.in_(select(flow_tags_t.c.flow_name).where(flow_tags_t.c.tag == tag))
        )
    if names is not None:
        latest = latest.where(flows_t.c.name.in_(list(names)))
    sub = latest.subquery()
    rows = conn.execute(
        select(flows_t)
        .join(sub, (flows_t.c.name == sub.c.name) & (flows_t.c.created_at == sub.c.created_at))
        .order_by(flows_t.c.name)
    ).mappings()
    found: dict[str, FlowRecord] = {}
    for row in rows:
        found.setdefault(row["name"], FlowRecord(**row))
    return list(found.values())


def tags_of(conn: Connection, names: Iterable[str]) -> dict[str, list[str]]:
    rows = conn.execute(
        select(flow_tags_t.c.flow_name, flow_tags_t.c.tag)
        .where(flow_tags_t.c.flow_name.in_(list(names)))
        .order_by(flow_tags_t.c.tag)
    )
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row.flow_name, []).append(row.tag)
    return out


# -- scheduling state --------------------------------------------------------------------------------


def upsert_state(
    conn: Connection,
    *,
    name: str,
    path: str | None,
    schedule: dict[str, Any] | None,
    paused: bool,
    now: datetime,
) -> FlowStateRecord:
    """Record where a flow lives and its schedule; ``paused`` applies only when it is new."""
    row = conn.execute(select(flow_state_t).where(flow_state_t.c.name == name)).mappings().first()
    if row is None:
        values: dict[str, Any] = {
            "name": name,
            "path": path,
            "schedule": schedule,
            "paused": paused,
            "last_fire": None,
            "next_fire": None,
            "updated_at": now,
        }
        conn.execute(insert(flow_state_t).values(**values))
        return FlowStateRecord(**values)
    if row["path"] != path or row["schedule"] != schedule:
        conn.execute(
            update(flow_state_t)
            .where(flow_state_t.c.name == name)
            .values(path=path, schedule=schedule, updated_at=now)
        )
    return FlowStateRecord(**{**row, "path": path, "schedule": schedule})


def states(conn: Connection, names: Iterable[str] | None = None) -> dict[str, FlowStateRecord]:
    query = select(flow_state_t)
    if names is not None:
        query = query.where(flow_state_t.c.name.in_(list(names)))
    return {row["name"]: FlowStateRecord(**row) for row in conn.execute(query).mappings()}


def get_state(conn: Connection, name: str) -> FlowStateRecord | None:
    row = conn.execute(select(flow_state_t).where(flow_state_t.c.name == name)).mappings().first()
    return None if row is None else FlowStateRecord(**row)


def paused_names(conn: Connection) -> list[str]:
    """Names of the paused flows (cheap: no schedule JSON is read)."""
    rows = conn.execute(select(flow_state_t.c.name).where(flow_state_t.c.paused.is_(True)))
    return [row.name for row in rows]


def set_fire(conn: Connection, name: str, *, last_fire: datetime | None, next_fire: datetime | None) -> None:
    values: dict[str, Any] = {"next_fire": next_fire}
    if last_fire is not None:
        values["last_fire"] = last_fire
    conn.execute(update(flow_state_t).where(flow_state_t.c.name == name).values(**values))


def set_paused(conn: Connection, name: str, paused: bool, now: datetime, *, reset_fire: bool = False) -> bool:
    """Pause or unpause; True when the flow is known. ``reset_fire`` forgets the last fire
    (an unpaused flow without catchup starts from now, with no flood of missed runs)."""
    values: dict[str, Any] = {"paused": paused, "updated_at": now}
    if reset_fire:
        values["last_fire"] = now
    return (
        conn.execute(update(flow_state_t).where(flow_state_t.c.name == name).values(**values)).rowcount == 1
    )


# -- flow files ----------------------------------------------------------------------------------------


def record_file(
    conn: Connection,
    *,
    path: str,
    digest: str,
    flows: list[str],
    error: str | None,
    now: datetime,
    shadowed: list[str] | None = None,
) -> None:
    conn.execute(delete(flow_files_t).where(flow_files_t.c.path == path))
    conn.execute(
        insert(flow_files_t).values(
            path=path, digest=digest, flows=flows, error=error, loaded_at=now, shadowed=shadowed or None
        )
    )


def forget_files(conn: Connection, paths: Iterable[str]) -> None:
    gone = list(paths)
    if gone:
        conn.execute(delete(flow_files_t).where(flow_files_t.c.path.in_(gone)))


def files(conn: Connection) -> list[FlowFileRecord]:
    """Every flow file recorded, by path."""
    rows = conn.execute(select(flow_files_t).order_by(flow_files_t.c.path)).mappings()
    return [FlowFileRecord(**{**row, "shadowed": row["shadowed"] or []}) for row in rows]
