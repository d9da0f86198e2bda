"""Registering a project's flow files: what ``weir.control.flows.sync`` costs with N files.

    .venv/bin/python benchmarks/registration.py                  # 1,000 files, SQLite
    .venv/bin/python benchmarks/registration.py --files 20       # a smoke test
    .venv/bin/python benchmarks/registration.py --database-url postgresql+psycopg://USER@HOST/DB

A project in a temporary folder holds ``--files`` flow files in ``flows/``, each with one small
flow (two tasks, a daily cron schedule). The store is new: SQLite under a temporary WEIR_HOME,
or with ``--database-url`` a new schema in that PostgreSQL database, dropped afterwards. Each
step is one call of ``sync(ctx, Registrar(project_root, timeout))``, as ``weir flows register``
makes it (the files are listed and hashed again at every call); the registrar is a process of
its own that forks a child per file to import and trace it, started by the first call:

1. first sync: every file is new, so each is loaded and its flow's first version stored;
2. second sync, nothing changed: the files are hashed and compared with the store, none loaded;
3. sync after ``--touch`` files (default 10) had their content changed (a new cron minute):
   only those are loaded again, and each stores a new version of its flow.

Printed per step: wall time, files loaded, new flow versions, and the time the registrar took
(the rest is listing and hashing the files and writing the store).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stores import fresh_store

FLOW = '''"""Flow file {k} of the registration benchmark."""

import weir


@weir.task
def extract(n: int) -> list[int]:
    return list(range(n))


@weir.task
def load(rows: list[int]) -> int:
    return len(rows)


@weir.flow(schedule="{minute} {hour} * * *")
def reg_{k:04d}(n: int = 10) -> int:
    """Extract n rows and load them."""
    return load(extract(n))
'''


def write_flow(folder: Path, k: int, minute: int) -> None:
    """Write flow file ``k``; its cron minute is ``minute``."""
    source = FLOW.format(k=k, minute=minute % 60, hour=k % 24)
    (folder / f"reg_{k:04d}.py").write_text(source, encoding="utf-8")


def timed_registrar(project: Path, timeout: float) -> Any:
    """A :class:`weir.worker.registrar.Registrar` that adds up the time its ``load`` calls take."""
    from weir.worker.registrar import FileResult, Registrar

    class TimedRegistrar(Registrar):
        seconds = 0.0
        files = 0

        def load(self, paths: Sequence[Path]) -> list[FileResult]:
            started = time.perf_counter()
            try:
                return super().load(paths)
            finally:
                self.seconds += time.perf_counter() - started
                self.files += len(paths)

    return TimedRegistrar(project, timeout)


def bench(
    url: str, project: Path, files: int, touch: int, timeout: float
) -> list[tuple[str, float, int, int, float]]:
    """The three syncs on the fresh store at ``url``; per step: its label, wall seconds, files
    loaded, new flow versions, and seconds spent in the registrar."""
    from weir.control.context import Context
    from weir.control.flows import sync
    from weir.settings import Settings

    flows_dir = project / "flows"
    settings = dataclasses.replace(
        Settings.from_env(database_url=url), flows_dirs=(flows_dir,), project_root=project
    )
    ctx = Context.of(settings, via="python")  # opens (and makes) the store: not part of a step
    registrar = timed_registrar(project, timeout)
    rows = []

    def step(label: str, files_expected: int, versions_expected: int) -> None:
        loaded, spent = registrar.files, registrar.seconds
        started = time.perf_counter()
        registered = sync(ctx, registrar)
        wall = time.perf_counter() - started
        new_versions = len(registered.new_versions) if registered is not None else 0
        errors = registered.errors if registered is not None else {}
        if errors:
            raise SystemExit(f"{label}: files in error: {errors}")
        loaded = registrar.files - loaded
        if (loaded, new_versions) != (files_expected, versions_expected):
            raise SystemExit(
                f"{label}: loaded {loaded} files and stored {new_versions} versions, "
                f"expected {files_expected} and {versions_expected}"
            )
        rows.append((label, wall, loaded, new_versions, registrar.seconds - spent))
        print(f"{label}: {wall:.2f} s", file=sys.stderr)

    try:
        step(f"first sync ({files:,} new files, registrar start included)", files, files)
        step("second sync, nothing changed", 0, 0)
        for k in range(touch):
            write_flow(flows_dir, k, minute=k + 1)  # a new schedule: a new version of the flow
        step(f"sync after changing {touch} files", touch, touch)
    finally:
        registrar.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000, help="flow files in the project (default 1,000)")
    parser.add_argument(
        "--touch", type=int, default=10, help="files changed before the last sync (default 10)"
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a PostgreSQL database (a new schema in it is used, then dropped)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds one file may take to load (registrar_timeout)"
    )
    args = parser.parse_args()
    if not 0 <= args.touch <= args.files:
        parser.error("--touch must be between 0 and --files")
    with tempfile.TemporaryDirectory(prefix="weir-bench-registration-") as tmp:
        folder = Path(tmp)
        os.environ["WEIR_HOME"] = str(folder / "home")
        os.environ.pop("WEIR_DATABASE_URL", None)
        project = folder / "project"
        flows_dir = project / "flows"
        flows_dir.mkdir(parents=True)
        for k in range(args.files):
            write_flow(flows_dir, k, minute=k)
        with fresh_store(folder, args.database_url) as url:
            backend = "postgresql" if args.database_url else "sqlite"
            rows = bench(url, project, args.files, args.touch, args.timeout)
    print(f"\n{args.files:,} flow files, {backend} store\n")
    print("| step | wall (s) | files loaded | new versions | registrar (s) |")
    print("|---|---:|---:|---:|---:|")
    for label, wall, loaded, versions, registrar in rows:
        print(f"| {label} | {wall:.3f} | {loaded:,} | {versions:,} | {registrar:.3f} |")
    first_wall, first_loaded = rows[0][1], rows[0][2]
    if first_loaded:
        print(f"\nfirst sync: {first_wall / first_loaded * 1000:.1f} ms per file")


if __name__ == "__main__":
    main()
