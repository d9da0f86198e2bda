"""``weir db upgrade|check``: the store's schema revision, migrated on request or only looked at."""

from __future__ import annotations

from typing import Annotated

import typer

from weir.cli.output import handles_errors, print_json, stdout_console

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
