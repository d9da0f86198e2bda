"""Actions on flows: register what the registrar read, keep a project's files in step, pause and
unpause; and reading a stored flow version back as a snapshot."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weir.control.context import Context, record
from weir.control.files import FlowFiles
from weir.errors import SnapshotError
from weir.graph.snapshot import FlowSnapshot, snapshot_from_json, snapshot_to_json
from weir.store import flows
from weir.store.records import FlowRecord

if TYPE_CHECKING:
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
    with _parsed_lock:
        if len(_parsed) > 512:
            _parsed.clear()
        _parsed[key] = found
    return found


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

    A flow name defined in two files is kept from the first file (by path); the other file's
    error says so. A new flow's schedule starts paused when its ``paused=`` says so.
    """
    gone = list(gone)
    now = ctx.clock.now()
    out = Registered(gone=gone)
    with ctx.store.transaction() as tx:
        stored = {
            f.path: f
            for f in flows.files(tx)
            if f.path not in {r.path for r in results} and f.path not in gone
        }
        owners = {name: f.path for f in stored.values() for name in f.flows}
        taken: dict[str, list[str]] = {}  # a stored file -> its flows that an earlier path now keeps
        for result in sorted(results, key=lambda r: r.path):
            kept: list[dict[str, Any]] = []
            notes = [result.error] if result.error else []
            for snap in result.snapshots:
                first = owners.setdefault(snap["name"], result.path)
                if first != result.path and first < result.path:
                    notes.append(f"flow {snap['name']!r} is also defined in {first}; this one is ignored")
                    continue
                if first != result.path:
                    taken.setdefault(first, []).append(snap["name"])
                owners[snap["name"]] = result.path
                kept.append(snap)
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
            error = "; ".join(notes) or None
            flows.record_file(
                tx,
                path=result.path,
                digest=result.digest,
                flows=[s["name"] for s in kept],
                error=error,
                now=now,
            )
            out.files.append(result.path)
            if error:
                out.errors[result.path] = error
        for path, names in taken.items():
            # A file registered before, whose flow a file on an earlier path now defines: it
            # no longer holds that flow, and its error says why (as if both were read together).
            old = stored[path]
            notes = [old.error] if old.error else []
            notes += [f"flow {n!r} is also defined in {owners[n]}; this one is ignored" for n in names]
            out.errors[path] = "; ".join(notes)
            flows.record_file(
                tx,
                path=path,
                digest=old.digest,
                flows=[n for n in old.flows if n not in names],
                error=out.errors[path],
                now=old.loaded_at,
            )
        flows.forget_files(tx, gone)
        record(
            tx, ctx, "register", "flows", files=out.files or None, flows=out.flows or None, gone=gone or None
        )
    return out


def register_snapshot(ctx: Context, snapshot: FlowSnapshot, tx: Connection | None = None) -> str:
    """Store one flow version made in this process (``weir run FILE:FLOW``, ``flow.run()``);
    returns its version. In ``tx`` when given (the caller's transaction), else in one of its own."""
    data = snapshot_to_json(snapshot)
    if tx is not None:
        flows.add_version(tx, data, ctx.clock.now())
        return str(data["version"])
    with ctx.store.transaction() as own:
        if flows.add_version(own, data, ctx.clock.now()):
            record(own, ctx, "register", f"flow {snapshot.name}", version=data["version"])
    return str(data["version"])


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
    return register(ctx, results, gone=changes.gone)


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
            register(ctx, [result])  # a file of the project: recorded as the scheduler would
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
            problems = [f"{f.path}: {f.error}" for f in flows.file_errors(conn)]
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
