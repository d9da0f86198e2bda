"""Actions on flows: register what the registrar read, keep a project's files in step, pause and
unpause; and reading a stored flow version back as a snapshot."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from weir.control.context import Context, record
from weir.control.files import FlowFiles
from weir.errors import SnapshotError
from weir.graph.snapshot import FlowSnapshot, snapshot_from_json, snapshot_to_json
from weir.store import flows
from weir.store.records import FlowFileRecord, FlowRecord

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import Connection

    from weir.worker.registrar import FileResult, Registrar


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered:
    """What a registration stored: the files read, the flows found, new versions, files in error."""

    files: list[str] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)
    reread: list[str] = field(default_factory=list)  # files to read again: see register()
    shadowed: dict[str, list[str]] = field(default_factory=dict)  # file -> flows ignored there


_parsed: dict[tuple[str, str], FlowSnapshot] = {}
_parsed_lock = threading.Lock()


def snapshot_of_record(record: FlowRecord) -> FlowSnapshot:
    """The snapshot of a stored flow version (parsed once per process).

    Raises:
        SnapshotError: the version was stored by an older weir without a snapshot, or by a newer one.
    """
    key = (record.name, record.version)
    found = _parsed.get(key)
    if found is not None:
        return found
    if record.snapshot is None:
        raise SnapshotError(
            f"flow {record.name!r} version {record.version} was stored by an older weir, without a snapshot: "
            "register it again (`weir flows register`, or run it once with `weir run FILE.py:FLOW`)"
        )
    found = snapshot_from_json(record.snapshot)
    _remember(found)
    return found


def _remember(snapshot: FlowSnapshot) -> None:
    with _parsed_lock:
        if len(_parsed) > 512:
            _parsed.clear()
        _parsed[(snapshot.name, snapshot.version)] = snapshot


def get_snapshot(conn: Connection, name: str, version: str | None = None) -> FlowSnapshot:
    """A flow's snapshot: the given version, or the newest.

    Raises:
        NotFoundError: no such flow (or version). SnapshotError: see :func:`snapshot_of_record`.
    """
    if version is not None:
        known = _parsed.get((name, version))
        if known is not None:
            return known  # a version never changes: no need to read it again
    return snapshot_of_record(flows.get_version(conn, name, version))


def register(ctx: Context, results: Sequence[FileResult], *, gone: Iterable[str] = ()) -> Registered:
    """Store what the registrar read from flow files: each file's flows (a new version when a
    snapshot changed), its error, and forget files that are ``gone``. One transaction, audited.

    A flow name defined in two files stays with the file that registered it first; the other
    file's definition is ignored (both files' errors name the other: see :func:`file_problems`).
    When the holding file goes or drops the flow, the files that defined it too are listed in
    ``Registered.reread``: read them again and one takes it over (:func:`sync` does at once).
    A new flow's schedule starts paused when its ``paused=`` says so.
    """
    gone = list(gone)
    now = ctx.clock.now()
    out = Registered(gone=gone)
    read = {r.path for r in results}
    with ctx.store.transaction() as tx:
        stored = {f.path: f for f in flows.files(tx)}
        holder = {name: f.path for f in stored.values() if f.path not in gone for name in f.flows}
        released: set[str] = set()
        for result in results:
            defined = {snap["name"] for snap in result.snapshots}
            for name in stored[result.path].flows if result.path in stored else ():
                if name not in defined and holder.get(name) == result.path:
                    del holder[name]
                    released.add(name)
        released.update(name for path in gone if path in stored for name in stored[path].flows)
        for result in sorted(results, key=lambda r: r.path):
            kept = [
                snap
                for snap in result.snapshots
                if holder.setdefault(snap["name"], result.path) == result.path
            ]
            shadowed = [snap["name"] for snap in result.snapshots if snap not in kept]
            for snap in kept:
                if flows.add_version(tx, snap, now):
                    out.new_versions.append(f"{snap['name']}@{snap['version']}")
                schedule = snap.get("schedule")
                flows.upsert_state(
                    tx,
                    name=snap["name"],
                    path=result.path,
                    schedule=schedule,
                    paused=bool(schedule and schedule.get("paused")),
                    now=now,
                )
                out.flows.append(snap["name"])
            flows.record_file(
                tx,
                path=result.path,
                digest=result.digest,
                flows=[s["name"] for s in kept],
                shadowed=shadowed,
                error=result.error,
                now=now,
            )
            out.files.append(result.path)
            if shadowed:
                out.shadowed[result.path] = shadowed
            notes = [result.error] if result.error else []
            notes += [_shadowed_note(name, holder[name]) for name in shadowed]
            if notes:
                out.errors[result.path] = "; ".join(notes)
        orphaned = released - holder.keys()
        for path, known in stored.items():
            if path not in read and path not in gone and orphaned & set(known.shadowed):
                # It defines a flow no file holds now: read it again (its digest is cleared so a
                # later look does so even if this process stops first).
                flows.record_file(
                    tx,
                    path=path,
                    digest="",
                    flows=known.flows,
                    shadowed=known.shadowed,
                    error=known.error,
                    now=known.loaded_at,
                )
                out.reread.append(path)
        flows.forget_files(tx, gone)
        record(
            tx, ctx, "register", "flows", files=out.files or None, flows=out.flows or None, gone=gone or None
        )
    return out


def _shadowed_note(name: str, holder: str) -> str:
    return (
        f"flow {name!r} is also defined in {holder}, which registered it first; this definition is"
        " ignored (rename one of them)"
    )


def file_problems(conn: Connection) -> list[FlowFileRecord]:
    """The flow files with a problem, by path, each with its full error: why it did not load, and
    the flows it defines that another file defines too (on both files, naming the other)."""
    found = flows.files(conn)
    holders = {name: f.path for f in found for name in f.flows}
    shadows: dict[str, list[str]] = {}
    for f in found:
        for name in f.shadowed:
            shadows.setdefault(name, []).append(f.path)
    problems: list[FlowFileRecord] = []
    for f in found:
        notes = [f.error] if f.error else []
        for name in f.shadowed:
            first = holders.get(name)
            notes.append(
                _shadowed_note(name, first)
                if first
                else f"flow {name!r} is defined here and elsewhere; "
                "the file is read again to decide which holds it"
            )
        for name in f.flows:
            for other in shadows.get(name, []):
                notes.append(
                    f"flow {name!r} is also defined in {other}; "
                    "that definition is ignored (rename one of them)"
                )
        if notes:
            problems.append(replace(f, error="; ".join(notes)))
    return problems


def register_snapshot(ctx: Context, snapshot: FlowSnapshot, tx: Connection | None = None) -> str:
    """Store one flow version made in this process (``weir run FILE:FLOW``, ``flow.run()``);
    returns its version. In ``tx`` when given (the caller's transaction), else in one of its own.
    A version kept already is not encoded again (a flow run many times in one process)."""
    now = ctx.clock.now()
    if tx is not None:
        _add(tx, snapshot, now)
    else:
        with ctx.store.transaction() as own:
            if _add(own, snapshot, now):
                record(own, ctx, "register", f"flow {snapshot.name}", version=snapshot.version)
    _remember(snapshot)
    return snapshot.version


def _add(conn: Connection, snapshot: FlowSnapshot, now: datetime) -> bool:
    if flows.keep_again(conn, snapshot.name, snapshot.version, snapshot.tags, now):
        return False
    return flows.add_version(conn, snapshot_to_json(snapshot), now)


def sync(ctx: Context, registrar: Registrar, watcher: FlowFiles | None = None) -> Registered | None:
    """Bring the store in step with the project's flow files: register the new and changed ones
    (through the registrar: nothing is imported here), forget the deleted ones. None when
    nothing changed."""
    watcher = watcher or FlowFiles(ctx.settings.flows_dirs)
    with ctx.store.read() as conn:
        known = {f.path: f.digest for f in flows.files(conn)}
    changes = watcher.changes(known)
    if not changes:
        return None
    results = registrar.load(changes.changed) if changes.changed else []
    done = register(ctx, results, gone=changes.gone)
    if done.reread:  # a flow's holder went: a file that defines it too takes it over now
        again = register(ctx, registrar.load([Path(p) for p in done.reread]))
        done = Registered(
            files=done.files + again.files,
            flows=done.flows + again.flows,
            new_versions=done.new_versions + again.new_versions,
            errors={**done.errors, **again.errors},
            gone=done.gone,
        )
    return done


@dataclass(frozen=True, slots=True, kw_only=True)
class Paused:
    """What pausing or unpausing did."""

    name: str
    paused: bool
    was_paused: bool
    catchup: bool


def set_paused(ctx: Context, name: str, paused: bool) -> Paused:
    """Pause (no scheduled runs, triggers and events refused) or unpause a flow.

    Unpausing a flow without catchup starts its schedule from now: no flood of missed runs.

    Raises:
        NotFoundError: no flow ``name``.
    """
    now = ctx.clock.now()
    with ctx.store.transaction() as tx:
        snap = get_snapshot(tx, name)
        spec = snap.schedule_spec
        state = flows.get_state(tx, name) or flows.upsert_state(
            tx,
            name=name,
            path=snap.code.target,
            schedule=dict(snap.schedule) if snap.schedule else None,
            paused=bool(spec and spec.paused),
            now=now,
        )
        catchup = bool(spec and spec.catchup)
        reset = not paused and state.paused and not catchup
        flows.set_paused(tx, name, paused, now, reset_fire=reset)
        record(tx, ctx, "pause" if paused else "unpause", f"flow {name}")
    return Paused(name=name, paused=paused, was_paused=state.paused, catchup=catchup)


def is_paused(conn: Connection, snapshot: FlowSnapshot) -> bool:
    """Whether a flow is paused: as the store says, else as its ``paused=`` says."""
    state = flows.get_state(conn, snapshot.name)
    if state is not None:
        return state.paused
    spec = snapshot.schedule_spec
    return bool(spec and spec.paused)


def resolve(ctx: Context, target: str, registrar: Registrar) -> FlowSnapshot:
    """The flow ``target`` names: ``FILE.py:FLOW`` (or ``FILE.py`` with one flow), registered now
    through the registrar, or a flow name (the project's files are brought in step first).

    Raises:
        FlowLoadError: the file does not load, or holds no such flow. NotFoundError: no flow of
            that name (the message lists the flows there are).
    """
    from weir.errors import FlowLoadError, NotFoundError

    if ".py" in target:
        path_text, _, name = target.partition(":")
        if not path_text.endswith(".py"):
            raise FlowLoadError(f"{target!r}: expected FILE.py:FLOW, for example examples/hello.py:hello")
        path = Path(path_text).resolve()
        if not path.is_file():
            raise FlowLoadError(f"{path_text}: no such file")
        (result,) = registrar.load([path])
        names = [s["name"] for s in result.snapshots]
        if _in_project(ctx, path):
            done = register(ctx, [result])  # a file of the project: recorded as the scheduler would
            ignored = done.shadowed.get(result.path, [])
            if ignored and (name in ignored or (not name and names == ignored)):
                raise FlowLoadError(f"{path_text}: {done.errors[result.path]}")
        else:
            # Any other file: its flow versions are stored (to run, show, backfill them), but it
            # does not become a project file, so no scheduler fires its schedules.
            with ctx.store.transaction() as tx:
                for snap in result.snapshots:
                    flows.add_version(tx, snap, ctx.clock.now())
                record(tx, ctx, "register", f"file {path}", flows=names or None)
        if not name:
            if len(names) != 1:
                if result.error and not names:
                    raise FlowLoadError(result.error)
                listed = ", ".join(names) or "none"
                raise FlowLoadError(
                    f"{path_text} defines {len(names)} flows ({listed}): name one as {path_text}:FLOW"
                )
            name = names[0]
        elif name not in names:
            why = f"; {result.error}" if result.error else ""
            raise FlowLoadError(
                f"{path_text} has no flow named {name!r} (it has: {', '.join(names) or 'none'}){why}"
            )
        version = next(s["version"] for s in result.snapshots if s["name"] == name)
        with ctx.store.read() as conn:
            return get_snapshot(conn, name, version)
    if ctx.settings.flows_dirs:
        sync(ctx, registrar)
    with ctx.store.read() as conn:
        try:
            return get_snapshot(conn, target)
        except NotFoundError:
            known = ", ".join(sorted(r.name for r in flows.newest(conn))) or "none"
            problems = [f"{f.path}: {f.error}" for f in file_problems(conn)]
            hint = f"; files with errors: {' | '.join(problems)}" if problems else ""
            where = "the project" if ctx.settings.flows_dirs else "the store (no project here: FILE.py:FLOW?)"
            raise NotFoundError(f"no flow named {target!r} in {where} (found: {known}){hint}") from None


def _in_project(ctx: Context, path: Path) -> bool:
    """Whether ``path`` lies in one of the project's flow folders."""
    resolved = path.resolve()
    return any(
        resolved == root.resolve() or resolved.is_relative_to(root.resolve())
        for root in ctx.settings.flows_dirs
    )
