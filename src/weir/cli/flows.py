"""``weir flows list`` and ``weir flows show``: recorded flows, and the graph of a flow file."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weir.cli.output import first_line, handles_errors, jsonable, print_json, stdout_console, styled, when

if TYPE_CHECKING:
    from weir.sdk.flow import Flow

app = typer.Typer(help="List recorded flows and show a flow's graph.", no_args_is_help=True)


@app.command("list")
@handles_errors
def list_flows(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Flows recorded in the store (each flow that has been run), with their run counts."""
    from weir.cli.runs import open_store
    from weir.store import queries

    with open_store().connect() as conn:
        flows = queries.list_flows(conn)
    rows = [
        {
            "name": record.name,
            "version": record.version,
            "description": first_line(record.description),
            "path": record.path,
            "module": record.module,
            "runs": count,
            "last_state": last,
            "recorded_at": record.created_at,
        }
        for record, count, last in flows
    ]
    if as_json:
        print_json(rows)
        return
    console = stdout_console()
    if not rows:
        console.print("no flows recorded yet: `weir run FILE.py:FLOW` records one")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("flow", "version", "runs", "last run", "recorded (UTC)", "description"):
        table.add_column(column, justify="right" if column == "runs" else "left")
    for row in rows:
        table.add_row(
            row["name"],
            row["version"][:8],
            str(row["runs"]),
            styled(row["last_state"]),
            when(row["recorded_at"]),
            row["description"],
        )
    console.print(table)


def describe_flow(flow: Flow) -> dict[str, Any]:
    """A flow's graph and params as JSON-able data (defaults that are not JSON as their repr)."""
    graph = flow.graph.to_dict()
    params = []
    for param in flow.signature.parameters.values():
        entry: dict[str, Any] = {"name": param.name, "required": param.default is inspect.Parameter.empty}
        if param.annotation is not inspect.Parameter.empty:
            annotation = param.annotation
            entry["type"] = annotation if isinstance(annotation, str) else _type_name(annotation)
        if param.default is not inspect.Parameter.empty:
            entry["default"] = jsonable(param.default)[1]
        params.append(entry)
    return {
        "name": flow.name,
        "version": flow.version,
        "description": flow.description,
        "location": flow.location,
        "params": params,
        "nodes": graph["nodes"],
        "edges": graph["edges"],
    }


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


@app.command("show")
@handles_errors
def show_flow(
    target: Annotated[str, typer.Argument(metavar="FILE.py:FLOW", help="The flow file and flow name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A flow's graph: its params, then its tasks in topological order with their upstream."""
    from weir.sdk.loader import load_flow

    described = describe_flow(load_flow(target))
    if as_json:
        print_json(described)
        return
    console = stdout_console()
    console.print(f"[bold]flow {described['name']}[/bold]  version {described['version'][:8]}")
    if described["description"]:
        console.print(f"  {first_line(described['description'])}", markup=False)
    console.print(f"  defined at {described['location']}", markup=False)
    console.print()
    if described["params"]:
        console.print("[bold]params[/bold]")
        for p in described["params"]:
            kind = f": {p['type']}" if "type" in p else ""
            default = " (required)" if p["required"] else f" = {p['default']!r}"
            console.print(f"  {p['name']}{kind}{default}", markup=False)
        console.print()
    kinds: dict[tuple[str, str], str] = {(up, down): kind for up, down, kind in described["edges"]}
    console.print(f"[bold]tasks[/bold] ({len(described['nodes'])}, in topological order)")
    for node in described["nodes"]:
        marks = []
        if node["task"] != node["task_id"]:
            marks.append(f"task {node['task']}")
        if node["mapped"]:
            marks.append("mapped")
        policy = node["policy"]
        if policy["trigger"] != "all_success":
            marks.append(f"trigger {policy['trigger']}")
        if policy["retries"]:
            marks.append(f"retries {policy['retries']}")
        if policy["branch"]:
            marks.append("branch")
        suffix = f"  [{', '.join(marks)}]" if marks else ""
        console.print(f"  {node['task_id']}{suffix}", markup=False, highlight=False)
        ups = [f"{up} ({kinds.get((up, node['task_id']), 'data')})" for up in node["upstream"]]
        if ups:
            console.print(f"      <- {', '.join(ups)}", markup=False)
