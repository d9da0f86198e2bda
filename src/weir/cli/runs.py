"""``weir runs list|show|cancel|retry|clear|resume``: recorded runs, and the actions on one.

Reads come from :mod:`weir.control.reports`; actions are :mod:`weir.control.runs`. A run that
must run again (retry, clear, resume) is left to a live scheduler, or driven here in the
foreground when there is none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from weir.cli.output import (
    fail,
    first_line,
    handles_errors,
    print_json,
    seconds,
    shorten,
    stdout_console,
    styled,
    when,
)

if TYPE_CHECKING:
    from weir.control.context import Context

app = typer.Typer(help="List and inspect runs; cancel, retry, clear or resume one.", no_args_is_help=True)

RunArgument = Annotated[int, typer.Argument(metavar="RUN", help="The run id.")]
ExecutorOption = Annotated[
    str | None,
    typer.Option("--executor", "-e", help="inline or local (default: $WEIR_EXECUTOR, else local)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _context(executor: str | None = None) -> Context:
    from weir.cli.project import context, load_settings

    overrides: dict[str, Any] = {} if executor is None else {"executor": executor}
    return context(load_settings(None, **overrides))


def print_task_runs(details: dict[str, Any]) -> None:
    """A table of the task runs of ``details`` (``control.reports.run_details``), then why each
    waiting task run waits."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("task", "state", "tries", "pool", "duration", "error"):
        table.add_column(column, overflow="fold" if column == "error" else "ellipsis")
    for row in details["task_runs"]:
        label = row["label"] + (f" (mapped x{row['map_count']})" if row["map_count"] is not None else "")
        table.add_row(
            label,
            styled(row["state"]),
            f"{len(row['tries'])}/{row['max_tries']}" if row["map_index"] >= 0 or row["tries"] else "",
            row["pool"] or "",
            seconds(row["duration"]),
            shorten(first_line(row["error"]), 120),
        )
    console = stdout_console()
    console.print(table)
    waiting = [row for row in details["task_runs"] if row["note"]]
    if waiting:
        console.print()
        console.print("[bold]waiting[/bold]")
        for row in waiting:
            console.print(f"  {row['label']}: {row['note']}", markup=False)


@app.command("list")
@handles_errors
def list_runs(
    flow: Annotated[str | None, typer.Option("--flow", "-f", help="Only runs of this flow.")] = None,
    state: Annotated[str | None, typer.Option("--state", "-s", help="Only runs in this state.")] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", metavar="TAG", help="Only runs of flows with this tag.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many runs.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Recorded runs, newest first."""
    from weir.states import RunState
    from weir.store import runs

    if state is not None and state not in {s.value for s in RunState}:
        fail(f"unknown run state {state!r}: choose one of {', '.join(s.value for s in RunState)}")
    ctx = _context()
    with ctx.store.read() as conn:
        page = runs.list_runs(conn, flow=flow, state=state, tag=tag, limit=limit, count=False)
    rows: list[dict[str, Any]] = [
        {
            "id": r.id,
            "flow_name": r.flow_name,
            "state": r.state,
            "trigger": r.trigger,
            "logical_date": r.logical_date,
            "created_at": r.created_at,
            "duration": r.duration,
            "reason": r.reason,
        }
        for r in page.runs
    ]
    if as_json:
        print_json(rows)
        return
    console = stdout_console()
    if not rows:
        console.print("no runs" + (" matching the filters" if flow or state or tag else " yet"))
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("id", "flow", "state", "trigger", "created (UTC)", "duration"):
        table.add_column(column, justify="right" if column == "id" else "left")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["flow_name"],
            styled(row["state"]),
            row["trigger"],
            when(row["created_at"]),
            seconds(row["duration"]),
        )
    console.print(table)


@app.command("show")
@handles_errors
def show_run(run_id: RunArgument, as_json: JsonOption = False) -> None:
    """A run: its flow, state, params and times, then each task run with its tries (and why a
    waiting one waits)."""
    from weir.cli.foreground import details_of

    details = details_of(_context(), run_id)
    if as_json:
        print_json(details)
        return
    console = stdout_console()
    console.print(
        f"[bold]run {details['id']}[/bold]  flow {details['flow_name']}  {styled(details['state'])}"
    )
    if details["reason"]:
        console.print(f"  reason:   {details['reason']}", markup=False)
    if details["waiting"]:
        console.print(f"  [yellow]{details['waiting']}[/yellow]")
    console.print(f"  params:   {details['params']}", markup=False)
    console.print(f"  trigger:  {details['trigger']}  executor: {details['executor'] or ''}")
    if details["owner"]:
        console.print(f"  driver:   {details['owner']}", markup=False)
    if details["logical_date"] is not None:
        interval = ""
        if details["interval_start"] is not None:
            start, end = when(details["interval_start"]), when(details["interval_end"])
            interval = f"  (data interval {start} -> {end})"
        console.print(f"  logical:  {when(details['logical_date'])} UTC{interval}")
    console.print(f"  created:  {when(details['created_at'])} UTC")
    console.print(f"  started:  {when(details['started_at'])}")
    console.print(f"  ended:    {when(details['ended_at'])}")
    console.print(f"  duration: {seconds(details['duration'])}")
    console.print()
    print_task_runs(details)
    failed = [c for c in details["callbacks"] if not c["ok"]]
    if failed:
        console.print()
        console.print("[bold red]callbacks that failed[/bold red]")
        for call in failed:
            whose = f"task {call['task_id']}" if call["task_id"] else "flow"
            console.print(f"  {whose} on_{call['event']}: {call['error']}", markup=False)
            if call["log"]:
                console.print(f"    log: {call['log']}", markup=False)


@app.command("cancel")
@handles_errors
def cancel(run_id: RunArgument, as_json: JsonOption = False) -> None:
    """Cancel a queued or running run: ask the process that drives it, or cancel it in place."""
    from weir.control import runs

    outcome = runs.cancel(_context(), run_id)
    if as_json:
        print_json({"id": run_id, "requested": outcome.requested})
        return
    if outcome.requested:
        print(f"run {run_id}: asked the process that drives it to cancel it (it stops within seconds)")
    else:
        print(f"run {run_id} cancelled (no live process was driving it)")


def _after(ctx: Context, run_id: int, what: str, cleared: list[str], *, as_json: bool) -> None:
    """Once a run is queued again (retried, cleared, released): leave it to a live scheduler that
    can run its code, or drive it here."""
    from weir.cli.foreground import drive_existing
    from weir.cli.project import live_scheduler
    from weir.control.flows import get_snapshot
    from weir.errors import RunClaimedError
    from weir.graph.snapshot import CodeKind
    from weir.store import runs

    with ctx.store.read() as conn:
        run = runs.get_run(conn, run_id, result=False)
        code = get_snapshot(conn, run.flow_name, run.flow_version).code
    # A flow defined in a script's __main__ has its code in no other process: nobody else can run it.
    scheduler = live_scheduler(ctx) if code.kind != CodeKind.PICKLE else None
    if scheduler is None:
        try:
            drive_existing(ctx, run_id, as_json=as_json)
            return
        except RunClaimedError:
            pass  # a scheduler took it first: it drives it
    taker = scheduler.id if scheduler is not None else None
    if as_json:
        print_json({"id": run_id, "state": "queued", "cleared": cleared, "scheduler": taker})
        return
    shown = f" ({', '.join(cleared)})" if cleared else ""
    by = f" ({taker})" if taker else ""
    print(
        f"run {run_id} {what}{shown}: it is queued for the running scheduler{by}; "
        f"follow it with `weir runs show {run_id}`"
    )


@app.command("retry")
@handles_errors
def retry(run_id: RunArgument, executor: ExecutorOption = None, as_json: JsonOption = False) -> None:
    """Run again the failed, cancelled and upstream-failed tasks of an ended run.

    Succeeded tasks keep their results. With a live scheduler the run is left queued for it;
    otherwise it is driven here: exit 0 when it succeeds, 1 when it does not.
    """
    from weir.control import runs

    ctx = _context(executor)
    cleared = runs.retry(ctx, run_id)
    _after(ctx, run_id, "retried", cleared, as_json=as_json)


@app.command("clear")
@handles_errors
def clear(
    run_id: RunArgument,
    task: Annotated[
        list[str], typer.Option("--task", "-t", metavar="TASK", help="A task to run again (repeatable).")
    ],
    downstream: Annotated[bool, typer.Option("--downstream", help="Also every task downstream.")] = False,
    upstream: Annotated[bool, typer.Option("--upstream", help="Also every task upstream.")] = False,
    executor: ExecutorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run again the chosen tasks of an ended run (and those downstream/upstream of them).

    With a live scheduler the run is left queued for it; otherwise it is driven here: exit 0
    when it succeeds, 1 when it does not.
    """
    from weir.control import runs

    ctx = _context(executor)
    cleared = runs.clear(ctx, run_id, task, downstream=downstream, upstream=upstream)
    _after(ctx, run_id, "cleared", cleared, as_json=as_json)


@app.command("resume")
@handles_errors
def resume(run_id: RunArgument, executor: ExecutorOption = None, as_json: JsonOption = False) -> None:
    """Take up an unfinished run whose driving process died, and drive it to the end.

    Tasks that succeeded are not run again. With a live scheduler, the run is left to it (it
    takes up such runs by itself).
    """
    from weir.control import runs

    ctx = _context(executor)
    runs.release(ctx, run_id)  # refuses an ended run, or one a live process drives
    _after(ctx, run_id, "released", [], as_json=as_json)
