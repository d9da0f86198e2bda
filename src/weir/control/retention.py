"""Cleaning up old runs: ``weir db clean`` and the scheduler's ``retention_days``.

:func:`clean` deletes the ended runs older than a cutoff with every row of theirs (see
:mod:`weir.store.retention`), a batch of runs per transaction so that it never holds the write
lock for long, then their files: each run's folder in the log store (``<run id>/``) and the
results its tries stored in the result store. Files go after their rows' transaction commits: a
file left behind by a crash is harmless, a row naming a missing file is not.

Batches commit one by one, so unlike other actions a clean is not one transaction: its audit row
(action ``db.clean``, with the counts) is appended after the last batch, and only when something
was removed (the scheduler cleans every hour, mostly finding nothing).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from weir.control.context import Context, record
from weir.io.results import local_path
from weir.store import retention

log = logging.getLogger("weir.control.retention")

#: Runs deleted per transaction.
BATCH = 500
#: No run is older than this: an age reaching further back cleans what ended before it.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class CleanReport:
    """What a clean removed or, for a dry run, would remove.

    Attributes:
        cutoff: runs that ended (or, never started, were made) before this were cleaned.
        dry_run: nothing was removed.
        runs, task_runs, tries, events, callback_calls, cache_entries: rows deleted.
        log_files, log_bytes: the runs' logs removed from the log store.
        result_files, result_bytes: their results removed from the result store.
        limited: the clean stopped at its ``limit``: older runs may be left.
    """

    cutoff: datetime
    dry_run: bool
    runs: int = 0
    task_runs: int = 0
    tries: int = 0
    events: int = 0
    callback_calls: int = 0
    cache_entries: int = 0
    log_files: int = 0
    log_bytes: int = 0
    result_files: int = 0
    result_bytes: int = 0
    limited: bool = False

    def counts(self) -> dict[str, int]:
        """The counts by name (``runs``, ``tries``, ``log_bytes``, ...)."""
        return {name: getattr(self, name) for name in _COUNTS}


#: The report's counts, by field name.
_COUNTS = tuple(
    f.name for f in dataclasses.fields(CleanReport) if f.name not in ("cutoff", "dry_run", "limited")
)
#: The report's field for each table's rows, where it is not the table's name.
_FIELDS = {"cache": "cache_entries"}


def clean(
    ctx: Context,
    older_than: timedelta,
    *,
    flow: str | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    batch: int = BATCH,
) -> CleanReport:
    """Delete the ended runs (success, failed, cancelled; never queued or running) that ended
    more than ``older_than`` ago, with their rows, logs and results; keep the audit log.

    Args:
        older_than: the age; 0 cleans every ended run (the newest run is always kept: see
            :mod:`weir.store.retention`).
        flow: only runs of this flow.
        dry_run: count what would go, remove nothing.
        limit: stop after about this many runs (the scheduler's clean, so that one pass stays short).
        batch: runs deleted per transaction.

    Raises:
        ValueError: ``older_than`` is negative, or ``batch`` or ``limit`` below 1.
    """
    if older_than < timedelta(0):
        raise ValueError(f"older_than must not be negative, got {older_than}")
    if batch < 1 or (limit is not None and limit < 1):
        raise ValueError("batch and limit must be at least 1")
    now = ctx.clock.now()
    cutoff = now - min(older_than, max(now - _EPOCH, timedelta(0)))
    totals: Counter[str] = Counter()
    after = 0
    with ctx.store.read() as conn:
        newest = retention.newest_run_id(conn)
    while limit is None or totals["runs"] < limit:
        size = batch if limit is None else min(batch, limit - totals["runs"])
        found = _batch(ctx, cutoff, now, newest=newest, flow=flow, after=after, size=size, dry_run=dry_run)
        if found is None:
            break
        ids, rows, results = found
        for table, count in rows.items():
            totals[_FIELDS.get(table, table)] += count
        totals.update(_logs(ctx.settings.logs, ids, remove=not dry_run))
        totals.update(_results(ctx.settings.results, results, remove=not dry_run))
        after = ids[-1]
    report = CleanReport(
        cutoff=cutoff,
        dry_run=dry_run,
        limited=limit is not None and totals["runs"] >= limit,
        **{name: totals[name] for name in _COUNTS},
    )
    if not dry_run and report.runs:
        with ctx.store.transaction() as tx:
            counts = {name: count for name, count in report.counts().items() if count}
            record(
                tx, ctx, "db.clean", f"flow {flow}" if flow else "runs", cutoff=cutoff.isoformat(), **counts
            )
    return report


def _batch(
    ctx: Context,
    cutoff: datetime,
    now: datetime,
    *,
    newest: int,
    flow: str | None,
    after: int,
    size: int,
    dry_run: bool,
) -> tuple[list[int], dict[str, int], dict[str, int]] | None:
    """The next batch of old runs: their ids, their rows by table and their result files, deleted
    (counted only, for a dry run); None when none is left."""
    if dry_run:
        with ctx.store.read() as conn:
            ids = retention.old_runs(conn, cutoff, below=newest, flow=flow, after=after, limit=size)
            if not ids:
                return None
            return ids, retention.count_rows(conn, ids, now), retention.result_files(conn, ids, now)
    with ctx.store.transaction() as tx:
        ids = retention.old_runs(tx, cutoff, below=newest, flow=flow, after=after, limit=size, lock=True)
        if not ids:
            return None
        results = retention.result_files(tx, ids, now)
        return ids, retention.delete_runs(tx, ids, now), results


# -- files ----------------------------------------------------------------------------------------
# These know the stores' layouts (weir.io.logs, weir.io.results): a log is the file ``<key>``
# (local) or the parts under ``<key>.parts/`` (fsspec); a result is the object at its URL.


def _logs(url: str, run_ids: Iterable[int], *, remove: bool) -> Counter[str]:
    """The logs under each run's folder ``<run id>/`` of the log store at ``url`` (counted, and
    removed with ``remove``), as ``log_files`` and ``log_bytes``."""
    found: Counter[str] = Counter()
    local = local_path(url)
    if local is not None:
        root = local.absolute()
        for run_id in run_ids:
            folder = root / str(run_id)
            if folder.is_symlink() or not folder.is_dir():
                continue  # never follow a link out of the store
            found += _walk(folder, remove=remove)
        return found
    fs, root_path = _fsspec(url)
    for run_id in run_ids:
        run_folder = f"{root_path}/{run_id}"
        try:
            objects: dict[str, Any] = fs.find(run_folder, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            continue
        # An fsspec log is a folder of parts: one log, however many parts.
        logs = {
            path.rsplit("/", 1)[0] if path.rsplit("/", 2)[-2].endswith(".parts") else path for path in objects
        }
        found["log_files"] += len(logs)
        found["log_bytes"] += sum(int(entry.get("size") or 0) for entry in objects.values())
        if remove and objects:
            try:
                fs.rm(run_folder, recursive=True)
            except OSError as exc:
                log.warning("cannot remove the logs of run %s: %s", run_id, exc)
    return found


def _results(url: str, files: dict[str, int], *, remove: bool) -> Counter[str]:
    """The result ``files`` (URL: size) that lie in the result store at ``url`` (counted, and
    removed with ``remove``), as ``result_files`` and ``result_bytes``; those elsewhere are left."""
    found: Counter[str] = Counter()
    local = local_path(url)
    if local is not None:
        root = local.resolve()
        for file_url, size in files.items():
            file_path = local_path(file_url)
            path = file_path.resolve() if file_path is not None else None
            if path is None or path == root or not path.is_relative_to(root):
                continue
            found["result_files"] += 1
            found["result_bytes"] += size
            if remove:
                _remove_local(path, root)
        return found
    prefix = url.rstrip("/") + "/"
    inside = {u: size for u, size in files.items() if u.startswith(prefix) and ".." not in u.split("/")}
    found["result_files"] = len(inside)
    found["result_bytes"] = sum(inside.values())
    if remove and inside:
        fs, root_path = _fsspec(url)
        paths = [f"{root_path}/{u.removeprefix(prefix)}" for u in inside]
        try:
            fs.rm(paths)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove %d result files: %s", len(paths), exc)
    return found


def _walk(folder: Path, *, remove: bool) -> Counter[str]:
    """The files under a local ``folder`` as ``log_files`` and ``log_bytes``; with ``remove``,
    removed with the folder (links are removed, never followed)."""
    found: Counter[str] = Counter()
    for parent, folders, names in os.walk(folder, topdown=False):
        links = [name for name in folders if os.path.islink(os.path.join(parent, name))]
        for name in (*names, *links):
            path = os.path.join(parent, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue  # gone meanwhile
            found["log_files"] += 1
            found["log_bytes"] += info.st_size if stat.S_ISREG(info.st_mode) else 0
            if remove:
                try:
                    os.unlink(path)
                except OSError as exc:
                    log.warning("cannot remove %s: %s", path, exc)
        if remove:
            try:
                os.rmdir(parent)
            except OSError as exc:
                log.warning("cannot remove %s: %s", parent, exc)
    return found


def _remove_local(path: Path, root: Path) -> None:
    """Remove the file ``path``, then the folders above it that it leaves empty, up to ``root``."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot remove %s: %s", path, exc)
        return
    for folder in path.parents:
        if folder == root or not folder.is_relative_to(root):
            return
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or not ours to remove)


def _fsspec(url: str) -> tuple[Any, str]:
    import fsspec  # type: ignore[import-untyped, unused-ignore]  # fsspec ships no py.typed

    fs, root = fsspec.core.url_to_fs(url.rstrip("/"))
    return fs, str(root).rstrip("/")
