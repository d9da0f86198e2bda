"""The ``weir`` command line: ``weir run``, ``weir scheduler``, ``weir trigger``, ``weir backfill``,
``weir pause|unpause``, ``weir events send``, ``weir flows|runs ...``, ``weir logs``, ``weir db``.

Commands are thin: parse, call the layer below, print. Heavy modules (the store, the SDK,
pydantic) are imported inside the command functions, so ``weir --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Annotated, Any

import typer

from weir.cli import daemon, events, flows, runs, schedule, server
from weir.cli.foreground import finish
from weir.cli.output import fail, handles_errors, stderr_console, stdout_console
from weir.cli.project import FLOW_HELP, FlowsOption, find_flow, load_settings

app = typer.Typer(
    name="weir",
    help="weir: a workflow orchestrator. Run and schedule flows, and inspect their runs, tasks and logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Manage the metadata store.", no_args_is_help=True)


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


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``["n=5", "day=2024-01-02"]`` -> ``{"n": 5, "day": "2024-01-02"}``.

    A value is read as JSON when it is JSON (numbers, booleans, lists, objects, quoted
    strings), otherwise it stays a string; pydantic then checks it against the signature.
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            fail(f"-p expects key=value, not {pair!r}")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


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
    """Run a flow in the foreground and print its outcome; exit 0 on success, 1 on failure."""
    out, err = stdout_console(), stderr_console()  # before any task swaps sys.stdout
    params = parse_params(param or [])

    overrides: dict[str, Any] = {} if executor is None else {"executor": executor}
    settings = load_settings(flows, **overrides)  # an unknown executor is refused here

    from weir.runs import run_flow

    flow = find_flow(target, settings)
    flow.validate_params(params)  # refuse bad params before a run or a worker pool exists

    from weir.cli.progress import RunProgress

    progress = RunProgress(err, flow.name, flow.graph.nodes)
    try:
        with contextlib.nullcontext() if as_json else progress:
            result_run = run_flow(
                flow,
                params,
                settings=settings,
                listener=progress.update,
                on_created=progress.created,
            )
    except KeyboardInterrupt:
        where = f"run {progress.run_id} " if progress.run_id is not None else ""
        print(f"interrupted: {where}cancelled", file=sys.stderr)
        raise typer.Exit(130) from None
    finish(settings, result_run, as_json=as_json, out=out)


app.command("scheduler")(daemon.scheduler)
server.register(app)  # weir server, weir api
app.command("trigger")(schedule.trigger)
app.command("backfill")(schedule.backfill)
app.command("pause")(schedule.pause)
app.command("unpause")(schedule.unpause)
app.add_typer(events.app, name="events")
app.add_typer(flows.app, name="flows")
app.add_typer(runs.app, name="runs")
app.command("logs")(runs.logs)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
@handles_errors
def db_upgrade() -> None:
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


def main() -> None:
    """The ``weir`` entry point."""
    app()


if __name__ == "__main__":
    main()
