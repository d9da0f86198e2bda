"""``weir trigger``, ``weir pause``, ``weir unpause`` and ``weir backfill``: acting on a flow's
schedule from the command line, through :mod:`weir.control`."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weir.cli.output import fail, handles_errors, print_json, stderr_console, stdout_console, styled, when
from weir.cli.project import FLOW_HELP, FlowsOption, load_settings

if TYPE_CHECKING:
    from weir.control.backfill import Item
    from weir.control.context import Context
    from weir.graph.snapshot import FlowSnapshot
    from weir.scheduler.backfill import Report
    from weir.schedules import DueRun

FlowArgument = Annotated[str, typer.Argument(metavar="FLOW", help=FLOW_HELP)]
ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", metavar="KEY=VALUE", help="A flow param (repeatable); JSON values."),
]


@handles_errors
def trigger(
    target: FlowArgument,
    param: ParamOption = None,
    flows: FlowsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Queue a run of a flow now, for the scheduler to run (trigger "manual")."""
    from weir.cli.project import context, parse_params, resolve_flow
    from weir.control import runs

    params = parse_params(param or [])
    ctx = context(load_settings(flows))
    snapshot = resolve_flow(ctx, target)
    made = runs.trigger(ctx, snapshot.name, params, version=snapshot.version, refuse_paused=True)
    if as_json:
        print_json(
            {
                "id": made.run_id,
                "flow_name": made.flow_name,
                "flow_version": made.version,
                "state": "queued",
                "params": made.params,
                "waiting": made.waiting,
            }
        )
        return
    print(f"run {made.run_id} of flow {made.flow_name} queued")
    if made.waiting:
        hint = (
            f" (or run the flow in the foreground: `weir run {target}`)"
            if "no scheduler" in made.waiting
            else ""
        )
        print(f"note: {made.waiting}{hint}", file=sys.stderr)


def _set_paused(target: str, flows: list[Any] | None, paused: bool) -> None:
    from weir.cli.project import context, resolve_flow
    from weir.control.flows import set_paused

    ctx = context(load_settings(flows))
    name = resolve_flow(ctx, target).name
    done = set_paused(ctx, name, paused)
    word = "paused" if paused else "unpaused"
    if done.was_paused == paused:
        print(f"flow {name} was already {word}")
    elif paused:
        print(f"flow {name} paused: the scheduler makes no runs of it until `weir unpause {name}`")
    elif done.catchup:
        print(f"flow {name} unpaused: the scheduler catches up the intervals it missed")
    else:
        print(f"flow {name} unpaused: its next scheduled run comes at the next fire time")


@handles_errors
def pause(target: FlowArgument, flows: FlowsOption = None) -> None:
    """Pause a flow: the scheduler makes no scheduled runs of it, and triggers and events are refused."""
    _set_paused(target, flows, True)


@handles_errors
def unpause(target: FlowArgument, flows: FlowsOption = None) -> None:
    """Unpause a flow (without catchup, runs resume from the next fire time, skipping those missed)."""
    _set_paused(target, flows, False)


@handles_errors
def backfill(
    target: FlowArgument,
    start: Annotated[str, typer.Option("--start", "-s", help="First logical date (ISO date or datetime).")],
    end: Annotated[str, typer.Option("--end", "-e", help="Last logical date, included.")],
    max_active: Annotated[
        int | None, typer.Option("--max-active", min=1, help="Runs at a time (default: max_active_runs).")
    ] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="Newest interval first.")] = False,
    only_failed: Annotated[
        bool, typer.Option("--only-failed", help="Only retry the intervals whose run failed.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the intervals; write nothing.")] = False,
    param: ParamOption = None,
    flows: FlowsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, no progress.")] = False,
) -> None:
    """Run a flow for each past interval of its schedule whose logical date is in [--start, --end].

    Runs have the scheduler's keys, so nothing is made twice: an interval whose run succeeded is
    skipped, an unfinished one is taken up, a failed one is retried. Runs are driven here, at
    most --max-active at a time. Ctrl-C stops; the same command takes up where it stopped.
    Exit 0 when every run succeeded, 1 when one did not.
    """
    from weir.cli.project import context, parse_params, resolve_flow
    from weir.control import backfill as plan

    params = parse_params(param or [])
    ctx = context(load_settings(flows))
    snapshot = resolve_flow(ctx, target)
    first = plan.parse_date(start, field="start", snapshot=snapshot)
    last = plan.parse_date(end, field="end", snapshot=snapshot)
    intervals = plan.plan(snapshot, first, last, reverse=reverse, now=ctx.clock.now())
    snapshot.validate_params(params)  # refused before anything is written
    if dry_run:
        items = plan.preview(ctx, snapshot, intervals, only_failed=only_failed)
        _print_plan(snapshot, items, as_json)
        return
    if not intervals:
        fail(f"no interval of flow {snapshot.name!r} with a logical date from {start} to {end} has ended yet")
    _drive(ctx, snapshot, intervals, params, max_active, only_failed, as_json)


def _print_plan(snapshot: FlowSnapshot, items: list[Item], as_json: bool) -> None:
    from weir.control.backfill import TO_DRIVE

    rows = [_row(item) for item in items]
    if as_json:
        print_json({"flow_name": snapshot.name, "dry_run": True, "intervals": rows})
        return
    console = stdout_console()
    if not rows:
        console.print(f"no interval of flow {snapshot.name} in that range has ended yet")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("logical date (UTC)", "data interval", "run", "would"):
        table.add_column(column, no_wrap=True)
    for item in items:
        run = f"{item.run_id} {styled(item.state)}" if item.run_id is not None else ""
        table.add_row(
            when(item.logical_date),
            f"{when(item.interval.interval_start)} -> {when(item.interval.interval_end)}",
            run,
            item.action,
        )
    console.print(table)
    todo = sum(item.action in TO_DRIVE for item in items)
    console.print(f"dry run: {len(items)} intervals, {todo} to run; nothing was written", markup=False)


def _row(item: Item) -> dict[str, Any]:
    from weir.control.backfill import TO_DRIVE

    return {
        "logical_date": item.logical_date,
        "interval_start": item.interval.interval_start,
        "interval_end": item.interval.interval_end,
        "action": item.action,
        "run_id": item.run_id,
        "state": item.state,
        "note": item.note,
        "done": item.done or item.action not in TO_DRIVE,
    }


def _drive(
    ctx: Context,
    snapshot: FlowSnapshot,
    intervals: list[DueRun],
    params: dict[str, Any],
    max_active: int | None,
    only_failed: bool,
    as_json: bool,
) -> None:
    from weir.cli.project import stop_on_signals
    from weir.executors.registry import executor_for, release
    from weir.scheduler.backfill import backfill

    view = _BackfillView(stderr_console(), snapshot.name, live=not as_json)
    stop = threading.Event()
    executor = executor_for(ctx.settings)
    try:
        with stop_on_signals(stop.set), view:
            report = backfill(
                ctx,
                snapshot,
                intervals,
                executor=executor,
                params=params,
                max_active=max_active,
                only_failed=only_failed,
                stop=stop,
                on_plan=view.planned,
                on_start=view.started,
                on_end=view.ended,
            )
    finally:
        release(executor)
    _print_report(snapshot, report, as_json)
    if report.stopped:
        raise typer.Exit(130)
    raise typer.Exit(1 if report.failed else 0)


def _print_report(snapshot: FlowSnapshot, report: Report, as_json: bool) -> None:
    from weir.control import backfill as plan

    if as_json:
        print_json(
            {
                "flow_name": snapshot.name,
                "stopped": report.stopped,
                "created": [item.run_id for item in report.items if item.action == plan.CREATE and item.done],
                "not_started": len(report.not_started),
                "intervals": [_row(item) for item in report.items],
            }
        )
        return
    out = stdout_console()
    # What was done, not what was planned: a stopped backfill reaches only some intervals.
    parts = [
        f"{report.done(plan.CREATE)} new",
        f"{report.done(plan.TAKE_UP)} taken up",
        f"{report.done(plan.RETRY)} retried",
        f"{report.count(plan.SUCCEEDED)} already succeeded",
    ]
    if report.count(plan.ELSEWHERE):
        parts.append(f"{report.count(plan.ELSEWHERE)} driven by another process")
    if report.count(plan.LEFT):
        parts.append(f"{report.count(plan.LEFT)} left alone (not failed)")
    out.print(f"backfill of {snapshot.name}: {len(report.items)} intervals: {', '.join(parts)}", markup=False)
    ok = sum(item.state == "success" for item in report.driven)
    out.print(
        f"runs: {ok} succeeded, {len(report.failed)} failed, {len(report.unfinished)} unfinished",
        markup=False,
    )
    for item in report.failed:
        out.print(f"  {item.logical_date.isoformat()}: run {item.run_id} {item.state}", markup=False)
    for item in report.items:
        if item.note:
            out.print(f"  {item.logical_date.isoformat()}: {item.note}", markup=False)
    if report.stopped:
        if report.not_started:
            out.print(f"not started: {len(report.not_started)} intervals", markup=False)
        out.print("stopped: run the same command again to take up the unfinished runs", markup=False)


class _BackfillView:
    """A live bar of runs done and failed of the total (on a terminal), or a line per run."""

    def __init__(self, console: Any, flow_name: str, *, live: bool) -> None:
        self.console = console
        self.flow_name = flow_name
        self.live = live and console.is_terminal
        self.quiet = not live
        self.total = 0
        self.done = 0
        self.failed = 0
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _BackfillView:
        if self.live:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn(f"[bold]backfill {self.flow_name}[/bold]"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} runs  [red]{task.fields[failed]} failed[/red]"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("runs", total=None, failed=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def planned(self, items: list[Item]) -> None:
        from weir.control.backfill import TO_DRIVE

        self.total = sum(item.action in TO_DRIVE for item in items)
        if self._progress is not None:
            self._progress.update(self._task, total=self.total)

    def started(self, item: Item) -> None:
        pass

    def ended(self, item: Item) -> None:
        if item.run_id is None or item.state in (None, "queued", "running"):
            if item.note and not self.quiet:
                self.console.print(f"{item.logical_date.isoformat()}: {item.note}", markup=False)
            return
        self.done += 1
        self.failed += item.state != "success"
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done, failed=self.failed)
        elif not self.quiet:
            self.console.print(
                f"{item.logical_date.isoformat()}: run {item.run_id} {item.state}",
                f"({self.done} done, {self.failed} failed)",
                markup=False,
            )
