"""``weir flows list|show|next|errors``: recorded flows, a flow's graph and coming fire times,
and the flow files that failed to load."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weir.cli.output import (
    fail,
    first_line,
    handles_errors,
    jsonable,
    print_json,
    stdout_console,
    styled,
    when,
)
from weir.cli.project import FLOW_HELP, FlowsOption, find_flow, load_settings

if TYPE_CHECKING:
    from weir.sdk.flow import Flow

app = typer.Typer(
    help="List flows, show a flow's graph, its coming fire times, and files that failed to load.",
    no_args_is_help=True,
)


@app.command("list")
@handles_errors
def list_flows(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Flows recorded in the store (each flow that has been run), with their run counts."""
    from weir.cli.runs import open_store
    from weir.store import queries

    with open_store().connect() as conn:
        flows = queries.list_flows(conn)
    rows: list[dict[str, Any]] = [
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
    target: Annotated[str, typer.Argument(metavar="FLOW", help=FLOW_HELP)],
    flows: FlowsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A flow's graph: its params, then its tasks in topological order with their upstream."""
    settings = load_settings(flows)
    described = describe_flow(find_flow(target, settings))
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


@app.command("errors")
@handles_errors
def flow_errors(
    flows: FlowsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Flow files that failed to load: read again now from the project's flow folders, and as
    the scheduler last recorded them. Exit 0 either way."""
    from weir.cli.project import store_exists

    settings = load_settings(flows)
    found: dict[str, dict[str, Any]] = {}
    if settings.flows_dirs:
        from weir.sdk.discovery import Discovery

        discovery = Discovery(settings.flows_dirs)
        discovery.refresh()
        for file_path, error in sorted(discovery.errors.items()):
            name = str(file_path)
            found[name] = {"path": name, "error": error, "source": "files", "loaded_at": None}
        looked = {str(p) for p in discovery.files}
    else:
        looked = set()
    if store_exists(settings):
        from weir.cli.runs import open_store
        from weir.store import queries

        with open_store(settings).connect() as conn:
            recorded = queries.flow_file_errors(conn)
        for path, error, loaded_at in recorded:
            if path in looked:
                continue  # read again just now: what the files say wins over the record
            found[path] = {"path": path, "error": error, "source": "scheduler", "loaded_at": loaded_at}
    rows = sorted(found.values(), key=lambda r: r["path"])
    if as_json:
        print_json(rows)
        return
    console = stdout_console()
    if not rows:
        where = ", ".join(map(str, settings.flows_dirs)) or "the store"
        console.print(f"no flow file errors (looked in {where})", markup=False)
        return
    for row in rows:
        seen = f" (recorded by the scheduler {when(row['loaded_at'])} UTC)" if row["loaded_at"] else ""
        console.print(f"[bold]{row['path']}[/bold]{seen}", highlight=False)
        console.print(f"  {row['error']}", markup=False)


@app.command("next")
@handles_errors
def next_fires(
    target: Annotated[str, typer.Argument(metavar="FLOW", help=FLOW_HELP)],
    count: Annotated[int, typer.Option("--count", "-n", min=1, max=1000, help="How many fire times.")] = 5,
    flows: FlowsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A flow's coming scheduled runs: when each fires, its logical date and data interval."""
    from datetime import UTC, datetime

    from weir.cli.project import flow_state
    from weir.schedules import next_fire_time

    settings = load_settings(flows)
    flow = find_flow(target, settings)
    spec = flow.schedule_spec
    if spec is None or spec.timetable is None:
        from weir.backfill import describe

        how = f": it runs {describe(spec)}" if spec and spec.schedules else ""
        fail(f"flow {flow.name!r} has no time schedule (cron or interval){how}")
    timetable = spec.timetable
    state = flow_state(settings, flow.name)
    paused = state.paused if state is not None else spec.paused
    rows: list[dict[str, datetime]] = []
    after = datetime.now(UTC)
    while len(rows) < count:
        fire = next_fire_time(spec, after)
        if fire is None:
            break
        start, end = timetable.interval_for(fire)
        rows.append({"fire_at": fire, "logical_date": start, "interval_start": start, "interval_end": end})
        after = fire
    if as_json:
        print_json({"flow": flow.name, "schedule": timetable.describe(), "paused": paused, "runs": rows})
        return
    console = stdout_console()
    note = "  [yellow](paused: no run is made until `weir unpause`)[/yellow]" if paused else ""
    console.print(f"[bold]flow {flow.name}[/bold]  {timetable.describe()}{note}", highlight=False)
    if not rows:
        console.print("no coming runs: the schedule has ended")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("fires at (UTC)", "logical date", "data interval"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(
            when(row["fire_at"]),
            when(row["logical_date"]),
            f"{when(row['interval_start'])} -> {when(row['interval_end'])}",
        )
    console.print(table)
