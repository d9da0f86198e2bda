"""``weir audit``: the actions taken (trigger, cancel, pause, set pool, ...), who took them and
through what (cli, api, ui, scheduler), newest first."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from weir.cli.output import handles_errors, print_json, stdout_console, when


@handles_errors
def audit(
    action: Annotated[
        str | None, typer.Option("--action", "-a", help="Only this action (trigger, cancel, pause, ...).")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", "-t", help="Only this target (`run 4`, `flow etl`, `pool db`).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most this many rows.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The audit log: one row per action taken, newest first."""
    from weir.cli.project import context, load_settings
    from weir.control.reports import audit_entries

    ctx = context(load_settings())
    with ctx.store.read() as conn:
        entries = audit_entries(conn, action=action, target=target, limit=limit)
    rows: list[dict[str, Any]] = [
        {
            "id": e.id,
            "at": e.at,
            "actor": e.actor,
            "via": e.via,
            "action": e.action,
            "target": e.target,
            "detail": e.detail,
        }
        for e in entries
    ]
    if as_json:
        print_json(rows)
        return
    console = stdout_console()
    if not rows:
        console.print("no actions recorded" + (" matching the filters" if action or target else " yet"))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("at (UTC)", "actor", "via", "action", "target", "detail"):
        table.add_column(column, overflow="fold" if column == "detail" else "ellipsis")
    for row in rows:
        detail = ", ".join(f"{k}={v}" for k, v in (row["detail"] or {}).items())
        cells = (when(row["at"]), row["actor"], row["via"], row["action"], row["target"], detail)
        table.add_row(*(Text(cell) for cell in cells))  # actors and targets are text, not markup
    console.print(table)
