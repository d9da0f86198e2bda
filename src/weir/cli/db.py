"""``weir db upgrade|check|clean``: the store's schema revision, migrated on request or only looked
at, and old runs removed."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer

from weir.cli.output import fail, handles_errors, print_json, stdout_console, when

app = typer.Typer(help="Manage the metadata store.", no_args_is_help=True)


@app.command("upgrade")
@handles_errors
def upgrade() -> None:
    """Apply the store's migrations up to the newest revision."""
    from weir.settings import Settings
    from weir.store import db

    settings = Settings.from_env()
    # Not get_engine(): it migrates on open, and this command reports the revision before.
    engine = db._create(settings.database_url)
    try:
        before = db.current_revision(engine)
        db.upgrade(engine)
        after = db.current_revision(engine)
    finally:
        engine.dispose()
    out = stdout_console()
    if before == after:
        out.print(f"store already at revision {after}", markup=False)
    else:
        out.print(f"store upgraded: {before or '(empty)'} -> {after}", markup=False)


@app.command("check")
@handles_errors
def check(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the store's schema revision and the newest this weir knows, without migrating.

    Exit 0 when the store is current, 1 when migrations are pending (`weir db upgrade`) or the
    store was migrated by a newer weir.
    """
    from weir.cli.project import shown_url, store_exists
    from weir.settings import Settings
    from weir.store import db

    settings = Settings.from_env()
    current = None
    if store_exists(settings):  # opening a SQLite file that is not there would make it
        engine = db._create(settings.database_url)  # not get_engine(): it would migrate
        try:
            current = db.current_revision(engine)
        finally:
            engine.dispose()
    # Revisions are zero-padded numbers: a store migrated by a newer weir sorts after our head.
    ahead = current is not None and current > db.HEAD_REVISION
    pending = current != db.HEAD_REVISION and not ahead
    if as_json:
        print_json(
            {
                "store": shown_url(settings.database_url),
                "revision": current,
                "head": db.HEAD_REVISION,
                "pending": pending,
                "ahead": ahead,
            }
        )
    else:
        out = stdout_console()
        out.print(f"store:    {shown_url(settings.database_url)}", markup=False)
        out.print(f"revision: {current or '(empty)'}", markup=False)
        out.print(f"newest:   {db.HEAD_REVISION}", markup=False)
        if ahead:
            out.print("the store was migrated by a newer weir: upgrade weir to use it", markup=False)
        elif pending:
            out.print("migrations are pending: run `weir db upgrade`", markup=False)
        else:
            out.print("the store is current", markup=False)
    raise typer.Exit(1 if pending or ahead else 0)


#: ``--older-than``: a whole number and a unit (none means days).
_AGE = re.compile(r"\s*(\d+)\s*([wdhm]?)\s*", re.IGNORECASE)
_UNITS = {"w": "weeks", "d": "days", "": "days", "h": "hours", "m": "minutes"}


def parse_age(text: str) -> timedelta:
    """An age as ``--older-than`` takes it: ``30d``, ``12h``, ``90m``, ``2w``, or ``30`` (days).

    Raises:
        ValueError: anything else, or an age too large to count.
    """
    found = _AGE.fullmatch(text)
    if found is None:
        raise ValueError(text)
    try:
        return timedelta(**{_UNITS[found[2].lower()]: int(found[1])})
    except OverflowError:
        raise ValueError(text) from None


@app.command("clean")
@handles_errors
def clean(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            metavar="AGE",
            help="Remove runs that ended longer ago than this: 30d, 12h, 90m, 2w, or a number of days.",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
    ] = False,
    flow: Annotated[str | None, typer.Option("--flow", help="Only runs of this flow.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Remove ended runs (success, failed, cancelled) older than AGE, with their task runs, tries,
    events, logs and results. The audit log is kept, and the clean is added to it."""
    try:
        age = parse_age(older_than)
    except ValueError:
        fail(
            f"--older-than: {older_than!r} is not an age: give a whole number with d (days), h (hours), "
            "m (minutes) or w (weeks), such as 30d, 12h, 90m or 2w, or a plain number of days"
        )
    from weir.cli.project import context, load_settings
    from weir.control.retention import clean as clean_runs

    report = clean_runs(context(load_settings()), age, flow=flow, dry_run=dry_run)
    if as_json:
        print_json({"cutoff": report.cutoff, "dry_run": report.dry_run, **report.counts()})
        return
    verb = "would remove" if dry_run else "removed"
    which = f" of flow {flow}" if flow else ""
    out = stdout_console()
    out.print(
        f"{verb} {_count(report.runs, 'run')}{which} that ended before {when(report.cutoff)} UTC",
        markup=False,
    )
    out.print(
        f"  rows:    {_count(report.task_runs, 'task run')}, {_count(report.tries, 'try', 'tries')}, "
        f"{_count(report.events, 'event')}, {_count(report.cache_entries, 'cache entry', 'cache entries')}",
        markup=False,
    )
    out.print(f"  logs:    {_count(report.log_files, 'file')}, {_size(report.log_bytes)}", markup=False)
    out.print(f"  results: {_count(report.result_files, 'file')}, {_size(report.result_bytes)}", markup=False)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _size(n: int) -> str:
    """``n`` bytes for people: ``512 B``, ``1.5 KiB``, ``3.2 MiB``, ``1.1 GiB``."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"
