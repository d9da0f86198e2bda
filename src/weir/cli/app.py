"""The ``weir`` command line: ``weir run``, ``weir scheduler``, ``weir trigger``, ``weir backfill``,
``weir pause|unpause``, ``weir events send``, ``weir flows|runs|pools ...``, ``weir logs``,
``weir audit``, ``weir db``.

Commands are thin: parse, call the control layer (``weir.control``) or ``weir.runs``, print.
Heavy modules (the store, the SDK, pydantic) are imported inside the command functions, so
``weir --help`` stays fast. No command imports user code but ``weir run`` (the one documented
exception): every other finds flows as stored snapshots, brought in step by the registrar.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weir.cli import audit, daemon, db, events, flows, logs, pools, runs, schedule, server
from weir.cli.output import handles_errors, stderr_console, stdout_console
from weir.cli.project import FLOW_HELP, FlowsOption, load_settings, parse_params

if TYPE_CHECKING:
    from weir.control.context import Context
    from weir.sdk.flow import Flow

app = typer.Typer(
    name="weir",
    help="weir: a workflow orchestrator. Run and schedule flows, and inspect their runs, tasks and logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from weir import __version__

        print(f"weir {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """weir: a workflow orchestrator."""


@app.command("run")
@handles_errors
def run(
    target: Annotated[str, typer.Argument(metavar="FLOW", help=FLOW_HELP)],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="KEY=VALUE", help="A flow param (repeatable); JSON values."),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option("--executor", "-e", help="inline or local (default: $WEIR_EXECUTOR, else local)."),
    ] = None,
    flows: FlowsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object, no progress.")] = False,
) -> None:
    """Run a flow in the foreground and print its outcome; exit 0 on success, 1 on failure.

    This is the one command that imports the flow's code in its own process: it stores the
    flow's snapshot and drives the run from it, as a scheduler would.
    """
    from weir.cli.project import context

    out, err = stdout_console(), stderr_console()  # before any task swaps sys.stdout
    params = parse_params(param or [])
    overrides: dict[str, Any] = {} if executor is None else {"executor": executor}
    settings = load_settings(flows, **overrides)  # an unknown executor is refused here
    if ".py" in target:
        from weir.sdk.loader import load_flow

        flow = load_flow(target)
        flow.validate_params(params)  # refuse bad params before the store or a worker pool exists
        ctx = context(settings)
    else:
        ctx = context(settings)
        flow = _load_named(ctx, target)
        flow.validate_params(params)

    from weir.cli.foreground import finish
    from weir.cli.progress import RunProgress
    from weir.runs import run_flow

    progress = RunProgress(err, flow.name, flow.graph.nodes)
    try:
        with contextlib.nullcontext() if as_json else progress:
            result_run = run_flow(
                flow, params, settings=settings, listener=progress.update, on_created=progress.created
            )
    except KeyboardInterrupt:
        where = f"run {progress.run_id} " if progress.run_id is not None else ""
        print(f"interrupted: {where}cancelled", file=sys.stderr)
        raise typer.Exit(130) from None
    finish(ctx, result_run, as_json=as_json, out=out)


def _load_named(ctx: Context, name: str) -> Flow:
    """The code of the registered flow ``name``, loaded in this process (``weir run NAME``).

    Raises:
        NotFoundError: no such flow. FlowLoadError: its code does not load here.
    """
    from weir.cli.project import resolve_flow
    from weir.executors.base import CodeSource
    from weir.worker.flows import find_flow

    snapshot = resolve_flow(ctx, name)
    code = CodeSource(ref=snapshot.code, flow_name=snapshot.name, version=snapshot.version)
    return find_flow(code, ctx.settings.project_root)


app.command("scheduler")(daemon.scheduler)
server.register(app)  # weir server, weir api
app.command("trigger")(schedule.trigger)
app.command("backfill")(schedule.backfill)
app.command("pause")(schedule.pause)
app.command("unpause")(schedule.unpause)
app.add_typer(events.app, name="events")
app.add_typer(flows.app, name="flows")
app.add_typer(runs.app, name="runs")
app.add_typer(pools.app, name="pools")
app.command("logs")(logs.logs)
app.command("audit")(audit.audit)
app.add_typer(db.app, name="db")


def main() -> None:
    """The ``weir`` entry point. A bad command line is one line on stderr naming the command and
    the way to its help (exit 2), not a framed box."""
    try:
        from typer._click import exceptions as errors  # newer typer releases carry their own click
    except ImportError:  # pragma: no cover - older typer, on click itself
        from click import exceptions as errors  # type: ignore[no-redef]

    try:
        code = app(prog_name="weir", standalone_mode=False)
    except errors.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        sys.exit(2)
    except errors.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "weir"
        print(f"{command}: {exc.format_message()} (see `{command} --help`)", file=sys.stderr)
        sys.exit(exc.exit_code)
    except errors.ClickException as exc:
        print(f"weir: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:  # Ctrl-C where a command does not handle it
        print("Aborted.", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
