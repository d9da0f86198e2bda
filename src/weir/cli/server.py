"""``weir server`` (scheduler, executor, API and UI in one process) and ``weir api`` (the API
and UI alone, against the same store, for a split deployment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``weir server`` and ``weir api`` to ``app``."""
    app.command("server")(server)
    app.command("api")(api)


def server(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8642,
    flows: Annotated[
        list[Path] | None,
        typer.Option("--flows", help="Flow files or folders (default: the project's weir.toml)."),
    ] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", "-e", help="inline or local (default: local).")
    ] = None,
    grace: Annotated[float, typer.Option("--grace", min=0, help="Seconds running tries get on stop.")] = 30.0,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level.")] = "warning",
) -> None:
    """Run everything in one process: the scheduler, the executor, the REST API and the web UI.

    Ctrl-C or SIGTERM stops it: the scheduler starts nothing new, lets running tries finish (up
    to --grace seconds), hands unfinished runs back, then the web server stops.
    """
    from weir.cli.output import handles_errors

    handles_errors(_serve)(host, port, flows, executor, grace, log_level)


def _serve(
    host: str, port: int, flows: list[Path] | None, executor: str | None, grace: float, log_level: str
) -> None:
    import threading

    import uvicorn

    from weir.cli.daemon import status
    from weir.cli.project import load_settings, stop_on_signals
    from weir.executors.registry import executor_for, release
    from weir.scheduler.service import Scheduler
    from weir.server.app import create_app

    settings = load_settings(flows, **({} if executor is None else {"executor": executor}))
    pool = executor_for(settings)
    web = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port, log_level=log_level))
    # uvicorn in a thread installs no signal handlers; the main thread's handlers stop both.
    thread = threading.Thread(target=web.run, name="weir-web", daemon=True)
    try:
        service = Scheduler(settings, pool)
        with stop_on_signals(service.stop):
            service.refresh()
            status(service)
            thread.start()
            typer.echo(f"weir server on http://{host}:{port}/ (UI, /api/v1, /metrics)", err=True)
            service.serve(grace=grace)
    finally:
        web.should_exit = True
        if thread.is_alive():
            thread.join(timeout=5)
        release(pool)


def api(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8642,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level.")] = "info",
) -> None:
    """Serve the REST API (/api/v1), the web UI (/) and /metrics, without a scheduler.

    Runs triggered here wait in the queue until a scheduler (`weir server`, `weir scheduler`)
    drives them.
    """
    import uvicorn

    from weir.cli.project import shown_url
    from weir.server.app import create_app
    from weir.settings import Settings

    settings = Settings.from_env()
    typer.echo(f"weir api on http://{host}:{port}/ (store {shown_url(settings.database_url)})", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
