"""``weir flows list|show|next|errors|register``: registered flows, a flow's graph with each task's
policy, its coming fire times, problems with flow files and flows, and registering them now.

Flows are stored snapshots: nothing here imports a flow file (the registrar reads them, in a
process of its own, when the store is brought in step with the project).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weir.cli.output import fail, first_line, handles_errors, print_json, stdout_console, styled, when
from weir.cli.project import FLOW_HELP, FlowsOption, load_settings

if TYPE_CHECKING:
    from weir.control.flows import Registered
    from weir.graph.snapshot import FlowSnapshot
    from weir.settings import Settings

app = typer.Typer(
    help="List, show and register flows; their coming fire times, and problems with flow files.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("list")
@handles_errors
def list_flows(
    tag: Annotated[str | None, typer.Option("--tag", metavar="TAG", help="Only flows with this tag.")] = None,
    flows: FlowsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every registered flow (scheduled or not), with its schedule, run count and last run.

    In a project, the project's flow files are registered first when they changed.
    """
    from weir.cli.project import context, sync_project
    from weir.control import reports

    ctx = context(load_settings(flows))
    sync_project(ctx)
    with ctx.store.read() as conn:
        summaries = reports.flow_summaries(conn, ctx.clock.now(), tag=tag, recent=1)
    rows: list[dict[str, Any]] = [
        {
            "name": s.name,
            "version": s.record.version,
            "description": first_line(s.record.description),
            "tags": s.tags,
            "path": s.record.path,
            "module": s.record.module,
            "schedule": s.schedule,
            "paused": s.paused,
            "next_run_at": s.next_run_at,
            "tasks": s.tasks,
            "run_count": s.run_count,
            "last_state": s.recent[0][1] if s.recent else None,
            "recorded_at": s.record.created_at,
        }
        for s in summaries
    ]
    if as_json:
        print_json(rows)
        return
    console = stdout_console()
    if not rows:
        if tag:
            console.print(f"no flow is tagged {tag!r}", markup=False)
        else:
            console.print(
                "no flows recorded yet: `weir flows register` registers a project's flows, "
                "`weir run FILE.py:FLOW` records one",
                markup=False,
            )
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in (
        "flow",
        "version",
        "tags",
        "schedule",
        "next run (UTC)",
        "runs",
        "last run",
        "description",
    ):
        table.add_column(column, justify="right" if column == "runs" else "left")
    for row in rows:
        table.add_row(
            row["name"],
            row["version"][:8],
            ", ".join(row["tags"]),
            row["schedule"] or "",
            "paused" if row["paused"] else when(row["next_run_at"]),
            str(row["run_count"]),
            styled(row["last_state"]),
            row["description"],
        )
    console.print(table)


def describe_flow(snapshot: FlowSnapshot) -> dict[str, Any]:
    """A flow's snapshot as JSON-able data: where it is, its params, schedule, and its graph
    (each node with its effective policy, grouped as the snapshot stores it)."""
    from weir.control.reports import describe_schedule
    from weir.graph.snapshot import graph_to_json

    graph = graph_to_json(snapshot.graph)
    params = []
    for spec in snapshot.params:
        entry: dict[str, Any] = {"name": spec.name, "required": spec.required}
        if spec.type is not None:
            entry["type"] = spec.type
        if not spec.required:
            entry["default"] = spec.default
        params.append(entry)
    return {
        "name": snapshot.name,
        "version": snapshot.version,
        "description": snapshot.description,
        "tags": list(snapshot.tags),
        "code": snapshot.code.to_dict(),
        "location": f"{snapshot.code.target}:{snapshot.source_line}",
        "schedule": describe_schedule(dict(snapshot.schedule) if snapshot.schedule else None),
        "timeout": snapshot.timeout,
        "params": params,
        "nodes": [
            {key: node[key] for key in ("task_id", "task", "upstream", "mapped", "location", "policy")}
            for node in graph["nodes"]
        ],
        "edges": graph["edges"],
    }


def policy_marks(policy: dict[str, Any]) -> list[str]:
    """A node's policy (as the snapshot stores it) in words, leaving out what is the default."""
    marks = []
    if policy["trigger"] != "all_success":
        marks.append(f"trigger {policy['trigger']}")
    retry = policy["retry"]
    if retry["retries"]:
        wait = [f"delay {retry['delay']:g}s"] if retry["delay"] else []
        if retry["backoff"] != 1:
            wait.append(f"backoff x{retry['backoff']:g}")
        marks.append(f"retries {retry['retries']}" + (f" ({', '.join(wait)})" if wait else ""))
    if policy["timeout"] is not None:
        marks.append(f"timeout {policy['timeout']:g}s")
    if policy["pool"]:
        marks.append(f"pool {policy['pool']}")
    if policy["priority"]:
        marks.append(f"priority {policy['priority']}")
    cache = policy["cache"]
    if cache["enabled"]:
        marks.append("cache" + (f" {cache['expires']:g}s" if cache["expires"] else ""))
    if policy["branch"]:
        marks.append("branch")
    if policy["complete"]:
        marks.append(f"complete {policy['complete']}")
    for event, hooks in policy["callbacks"].items():
        if hooks:
            marks.append(f"on {event} {', '.join(hooks)}")
    if policy["tags"]:
        marks.append(f"tags {', '.join(policy['tags'])}")
    return marks


@app.command("show")
@handles_errors
def show_flow(
    target: Annotated[str, typer.Argument(metavar="FLOW", help=FLOW_HELP)],
    flows: FlowsOption = None,
    as_json: JsonOption = False,
) -> None:
    """A flow: its params, then its tasks in topological order, each with its upstream and the
    policy it runs with (trigger, retries, timeout, pool, ...)."""
    from weir.cli.project import context, resolve_flow

    described = describe_flow(resolve_flow(context(load_settings(flows)), target))
    if as_json:
        print_json(described)
        return
    console = stdout_console()
    console.print(f"[bold]flow {described['name']}[/bold]  version {described['version'][:8]}")
    if described["description"]:
        console.print(f"  {first_line(described['description'])}", markup=False)
    console.print(f"  defined at {described['location']}", markup=False)
    for label in ("schedule", "timeout", "tags"):
        value = described[label]
        if value:
            shown = ", ".join(value) if label == "tags" else f"{value:g}s" if label == "timeout" else value
            console.print(f"  {label}: {shown}", markup=False)
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
        marks.extend(policy_marks(node["policy"]))
        suffix = f"  [{', '.join(marks)}]" if marks else ""
        console.print(f"  {node['task_id']}{suffix}", markup=False, highlight=False)
        ups = [f"{up} ({kinds.get((up, node['task_id']), 'data')})" for up in node["upstream"]]
        if ups:
            console.print(f"      <- {', '.join(ups)}", markup=False)


@app.command("errors")
@handles_errors
def flow_errors(flows: FlowsOption = None, as_json: JsonOption = False) -> None:
    """Problems with flows: flow files that did not load, and flows whose tasks name a pool that
    does not exist. In a project, its flow files are registered first when they changed.
    Exit 0 either way."""
    from weir.cli.project import context, store_exists, sync_project
    from weir.control import reports

    settings = load_settings(flows)
    rows: list[dict[str, Any]] = []
    if settings.flows_dirs or store_exists(settings):  # no project, no store: nothing to make
        ctx = context(settings)
        sync_project(ctx)
        with ctx.store.read() as conn:
            found = reports.problems(conn)
        rows = [p.as_json() for p in found]
    if as_json:
        print_json(rows)
        return
    console = stdout_console()
    if not rows:
        where = ", ".join(map(str, settings.flows_dirs)) or "the store"
        console.print(
            f"no flow file errors, and no flow names a missing pool (looked in {where})", markup=False
        )
        return
    for row in rows:
        seen = f" (read {when(row['at'])} UTC)" if row["at"] else ""
        console.print(f"[bold]{row['where']}[/bold]{seen}", highlight=False)
        console.print(f"  {row['error']}", markup=False)


@app.command("register")
@handles_errors
def register(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="[FILE.py]...", help="Flow files to read again (default: the project's)."),
    ] = None,
    flows: FlowsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bring the store in step with the project's flow files now: register new and changed files,
    forget deleted ones. With FILE.py arguments, read those files again (changed or not).

    Prints the flows registered, their new versions and the files in error; exit 1 when a
    file is in error.
    """
    from weir.cli.project import context, registrar, require_flows_dirs
    from weir.control import flows as flow_actions
    from weir.control import reports
    from weir.control.files import python_files

    settings = load_settings(flows)
    given = [p.resolve() for p in paths or []]
    not_python = [str(p) for p in given if p.suffix != ".py"]
    if not_python:
        fail(f"not a flow file (FILE.py): {', '.join(not_python)}")
    if not given:
        require_flows_dirs(settings)
    ctx = context(settings)
    if given:
        registered: Registered | None = flow_actions.register(ctx, registrar(settings).load(given))
        scope = {str(p) for p in given}
    else:
        registered = flow_actions.sync(ctx, registrar(settings))
        scope = {str(p) for p in python_files(settings.flows_dirs)}
    with ctx.store.read() as conn:
        errors = {p.where: p.error for p in reports.problems(conn) if p.where in scope}
    _print_registered(settings, registered, errors, len(scope), as_json)
    raise typer.Exit(1 if errors else 0)


def _print_registered(
    settings: Settings, done: Registered | None, errors: dict[str, str], files: int, as_json: bool
) -> None:
    if as_json:
        print_json(
            {
                "changed": done is not None,
                "files": done.files if done else [],
                "flows": done.flows if done else [],
                "new_versions": done.new_versions if done else [],
                "gone": done.gone if done else [],
                "errors": errors,
            }
        )
        return
    out = stdout_console()
    if done is None:
        out.print(
            f"nothing changed: the store is in step with the project's {files} flow files", markup=False
        )
    else:
        count, new = len(done.files), len(done.new_versions)
        out.print(
            f"registered {count} file{'s' if count != 1 else ''}: {len(done.flows)} flows, "
            f"{new} new version{'s' if new != 1 else ''}",
            markup=False,
        )
        if done.flows:
            out.print(f"  flows: {', '.join(sorted(done.flows))}", markup=False)
        for version in done.new_versions:
            out.print(f"  new version: {version}", markup=False)
        for path in done.gone:
            out.print(f"  forgotten (deleted): {_relative(settings, path)}", markup=False)
    for path, error in sorted(errors.items()):
        out.print(f"error: {_relative(settings, path)}: {error}", markup=False)


def _relative(settings: Settings, path: str) -> str:
    try:
        return Path(path).relative_to(settings.project_root).as_posix()
    except ValueError:
        return path


@app.command("next")
@handles_errors
def next_fires(
    target: Annotated[str, typer.Argument(metavar="FLOW", help=FLOW_HELP)],
    count: Annotated[int, typer.Option("--count", "-n", min=1, max=1000, help="How many fire times.")] = 5,
    flows: FlowsOption = None,
    as_json: JsonOption = False,
) -> None:
    """A flow's coming scheduled runs: when each fires, its logical date and data interval."""
    import dataclasses

    from weir.cli.project import context, resolve_flow
    from weir.control.backfill import coming

    ctx = context(load_settings(flows))
    snapshot = resolve_flow(ctx, target)
    with ctx.store.read() as conn:
        found = coming(conn, snapshot, ctx.clock.now(), count)
    if found.schedule is None:
        fail(found.note or f"flow {snapshot.name!r} has no time schedule")
    rows = [dataclasses.asdict(run) for run in found.runs]
    if as_json:
        print_json(
            {"flow_name": found.flow_name, "schedule": found.schedule, "paused": found.paused, "runs": rows}
        )
        return
    console = stdout_console()
    note = "  [yellow](paused: no run is made until `weir unpause`)[/yellow]" if found.paused else ""
    console.print(f"[bold]flow {snapshot.name}[/bold]  {found.schedule}{note}", highlight=False)
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
