"""``weir trigger``, ``weir pause``, ``weir unpause`` and ``weir backfill``: acting on a flow's
schedule from the command line."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weir.cli.output import fail, handles_errors, print_json, stderr_console, stdout_console, styled, when
from weir.cli.project import FLOW_HELP, FlowsOption, find_flow, load_settings

if TYPE_CHECKING:
    from weir.backfill import Item, Report
    from weir.sdk.flow import Flow
    from weir.settings import Settings

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
    from weir.cli.app import parse_params
    from weir.cli.project import is_paused, live_scheduler
    from weir.runs import create_run

    params = parse_params(param or [])
    settings = load_settings(flows)
    flow = find_flow(target, settings)
    flow.validate_params(params)
    if is_paused(settings, flow):
        fail(f"flow {flow.name!r} is paused: nothing was queued (`weir unpause {flow.name}` first)")
    _, run_id, _ = create_run(flow, params, settings=settings, trigger="manual")
    scheduler = live_scheduler(settings)
    if as_json:
        print_json(
            {"run_id": run_id, "flow": flow.name, "state": "queued", "scheduler": scheduler and scheduler.id}
        )
        return
    print(f"run {run_id} of flow {flow.name} queued")
    if scheduler is None:
        print(
            f"note: no scheduler is running: start one with `weir scheduler` to run it, "
            f"or run the flow in the foreground with `weir run {target}`",
            file=sys.stderr,
        )


def _register(settings: Settings, flow: Flow) -> None:
    """Record the flow's scheduling state if the store does not know it yet (as the scheduler would)."""
    from weir.cli.runs import open_store
    from weir.scheduler.clock import SystemClock
    from weir.store import queries
    from weir.store.db import write
    from weir.worker.flows import flow_ref_for

    spec = flow.schedule_spec
    ref = flow_ref_for(flow)
    with write(open_store(settings)) as conn:
        queries.upsert_flow_state(
            conn,
            name=flow.name,
            path=ref.target if ref.kind == "path" else None,
            schedule=spec.to_dict() if spec else None,
            paused=bool(spec and spec.paused),
            now=SystemClock().now(),
        )


def _set_paused(target: str, flows: list[Any] | None, paused: bool) -> None:
    from weir.cli.runs import open_store
    from weir.scheduler.clock import SystemClock
    from weir.store import queries
    from weir.store.db import write

    settings = load_settings(flows)
    flow = find_flow(target, settings)
    _register(settings, flow)
    spec = flow.schedule_spec
    with write(open_store(settings)) as conn:
        was = queries.get_flow_state(conn, flow.name)
        # Unpausing a flow without catchup starts from now: no flood of the runs it missed.
        reset = not paused and bool(was and was.paused) and not (spec and spec.catchup)
        queries.set_paused(conn, flow.name, paused, SystemClock().now(), reset_fire=reset)
    word = "paused" if paused else "unpaused"
    if was is not None and was.paused == paused:
        print(f"flow {flow.name} was already {word}")
        return
    if paused:
        print(f"flow {flow.name} paused: the scheduler makes no runs of it until `weir unpause {flow.name}`")
    elif spec and spec.catchup:
        print(f"flow {flow.name} unpaused: the scheduler catches up the intervals it missed")
    else:
        print(f"flow {flow.name} unpaused: its next scheduled run comes at the next fire time")


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
    from weir import backfill as bf
    from weir.cli.app import parse_params
    from weir.cli.project import store_exists

    params = parse_params(param or [])
    settings = load_settings(flows)
    flow = find_flow(target, settings)
    first = bf.parse_date(start, field="start", flow=flow)
    last = bf.parse_date(end, field="end", flow=flow)
    intervals = bf.plan(flow, first, last, reverse=reverse, now=bf.utc_now())
    flow.validate_params(params)
    if dry_run:
        items = bf.preview(
            flow, intervals, settings=settings, only_failed=only_failed, read=store_exists(settings)
        )
        _print_plan(flow, items, as_json)
        return
    if not intervals:
        fail(f"no interval of flow {flow.name!r} with a logical date from {start} to {end} has ended yet")
    _drive(flow, intervals, settings, params, max_active, only_failed, as_json)


def _print_plan(flow: Flow, items: list[Item], as_json: bool) -> None:
    rows = [_row(item) for item in items]
    if as_json:
        print_json({"flow": flow.name, "dry_run": True, "intervals": rows})
        return
    console = stdout_console()
    if not rows:
        console.print(f"no interval of flow {flow.name} in that range has ended yet")
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
    todo = sum(item.action in ("create", "take up", "retry") for item in items)
    console.print(f"dry run: {len(items)} intervals, {todo} to run; nothing was written", markup=False)


def _row(item: Item) -> dict[str, Any]:
    return {
        "logical_date": item.logical_date,
        "interval_start": item.interval.interval_start,
        "interval_end": item.interval.interval_end,
        "action": item.action,
        "run_id": item.run_id,
        "state": item.state,
        "note": item.note,
    }


def _drive(
    flow: Flow,
    intervals: list[Any],
    settings: Settings,
    params: dict[str, Any],
    max_active: int | None,
    only_failed: bool,
    as_json: bool,
) -> None:
    from weir import backfill as bf
    from weir.cli.project import stop_on_signals
    from weir.runs import _executor_for

    err = stderr_console()
    view = _BackfillView(err, flow.name, live=not as_json)
    stop = threading.Event()
    executor = _executor_for(settings)
    try:
        with stop_on_signals(stop.set), view:
            report = bf.backfill(
                flow,
                intervals,
                settings=settings,
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
        if settings.executor != "local":
            executor.shutdown()
    _print_report(flow, report, as_json)
    if report.stopped:
        raise typer.Exit(130)
    raise typer.Exit(1 if report.failed else 0)


def _print_report(flow: Flow, report: Report, as_json: bool) -> None:
    from weir import backfill as bf

    if as_json:
        print_json(
            {
                "flow": flow.name,
                "stopped": report.stopped,
                "intervals": [_row(item) for item in report.items],
            }
        )
        return
    out = stdout_console()
    parts = [
        f"{report.count(bf.CREATE)} new",
        f"{report.count(bf.TAKE_UP)} taken up",
        f"{report.count(bf.RETRY)} retried",
        f"{report.count(bf.SUCCEEDED)} already succeeded",
    ]
    if report.count(bf.ELSEWHERE):
        parts.append(f"{report.count(bf.ELSEWHERE)} driven by another process")
    if report.count(bf.LEFT):
        parts.append(f"{report.count(bf.LEFT)} left alone (not failed)")
    out.print(f"backfill of {flow.name}: {len(report.items)} intervals: {', '.join(parts)}", markup=False)
    driven = report.driven
    ok = sum(item.state == "success" for item in driven)
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
        from weir.backfill import TO_DRIVE

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
                f"{item.logical_date.isoformat()}: run {item.run_id} {item.state} "
                f"({self.done} done, {self.failed} failed)",
                markup=False,
            )
