"""``weir pools set|list|delete``: pools limit how many tries of the tasks in them run at once,
across all runs and all schedulers (a task joins one with ``pool="db"``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from weir.cli.output import handles_errors, print_json, stdout_console, when

if TYPE_CHECKING:
    from weir.control.context import Context
    from weir.store.records import PoolRecord

app = typer.Typer(help="Set, list and delete pools (limits on tasks running at once).", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The pool's name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _context() -> Context:
    from weir.cli.project import context, load_settings

    return context(load_settings())


def _row(pool: PoolRecord) -> dict[str, Any]:
    return {
        "name": pool.name,
        "slots": pool.slots,
        "used": pool.used,
        "free": pool.free,
        "description": pool.description,
        "updated_at": pool.updated_at,
    }


@app.command("set")
@handles_errors
def set_pool(
    name: NameArgument,
    slots: Annotated[
        int, typer.Argument(metavar="SLOTS", help="Tries that may run at once (0 holds them all).")
    ],
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="What the pool guards.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a pool, or change its slots (and description). With 0 slots its tasks wait."""
    from weir.control.pools import set_pool as set_it

    pool = set_it(_context(), name, slots, description)
    if as_json:
        print_json(_row(pool))
        return
    print(f"pool {pool.name}: {pool.slots} slot{'s' if pool.slots != 1 else ''} ({pool.used} in use)")


@app.command("list")
@handles_errors
def list_pools(as_json: JsonOption = False) -> None:
    """Every pool with its slots, how many are in use and how many are free."""
    from weir.control.pools import list_pools as listed

    rows = [_row(pool) for pool in listed(_context())]
    if as_json:
        print_json(rows)
        return
    console = stdout_console()
    if not rows:
        console.print("no pools: create one with `weir pools set NAME SLOTS`", markup=False)
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("pool", "slots", "used", "free", "updated (UTC)", "description"):
        table.add_column(column, justify="right" if column in ("slots", "used", "free") else "left")
    for row in rows:
        table.add_row(
            row["name"],
            str(row["slots"]),
            str(row["used"]),
            str(row["free"]),
            when(row["updated_at"]),
            row["description"] or "",
        )
    console.print(table)


@app.command("delete")
@handles_errors
def delete_pool(name: NameArgument) -> None:
    """Delete a pool; tasks that name it then wait until it exists again."""
    from weir.control.pools import delete_pool as delete_it

    delete_it(_context(), name)
    print(f"pool {name} deleted")
