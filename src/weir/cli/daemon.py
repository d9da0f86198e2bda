"""``weir scheduler``: the daemon that makes scheduled, triggered and event runs and drives them."""

from __future__ import annotations

import contextlib
import sys
from typing import Annotated

import typer

from weir.cli.output import handles_errors
from weir.cli.project import FlowsOption, load_settings, require_flows_dirs


@handles_errors
def scheduler(
    flows: FlowsOption = None,
    executor: Annotated[
        str | None,
        typer.Option("--executor", "-e", help="inline or local (default: $WEIR_EXECUTOR, else local)."),
    ] = None,
    grace: Annotated[
        float,
        typer.Option("--grace", min=0, help="Seconds to let running tries finish when stopping."),
    ] = 30.0,
) -> None:
    """Run the scheduler until Ctrl-C or SIGTERM: it makes and drives the project's runs.

    It reads the project's flows, makes the runs their schedules call for, and drives those
    and the runs queued by `weir trigger` and `weir events send`.

    On stop it starts nothing new, lets running tries finish (up to --grace seconds) and hands
    its unfinished runs back for the next scheduler to take up.
    """
    from weir.cli.project import stop_on_signals
    from weir.runs import _executor_for
    from weir.scheduler.service import Scheduler

    settings = load_settings(flows, **({} if executor is None else {"executor": executor}))
    dirs = require_flows_dirs(settings)
    pool = _executor_for(settings)
    service = Scheduler(settings, pool)
    try:
        with stop_on_signals(service.stop):
            service.refresh()
            _status(settings.database_url, dirs, service)
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C while handing back
                service.serve(grace=grace)
    finally:
        if settings.executor != "local":
            pool.shutdown()
    made = len(service.created)
    print(f"scheduler stopped: made {made} run{'s' if made != 1 else ''}", file=sys.stderr, flush=True)


def _status(url: str, dirs: tuple[object, ...], service: object) -> None:
    from weir.scheduler.service import Scheduler

    assert isinstance(service, Scheduler)
    flows = service.flows
    scheduled = sum(
        1 for f in flows.values() if f.schedule_spec is not None and f.schedule_spec.timetable is not None
    )
    errors = service.discovery.errors
    shown_url = url.split("@", 1)[-1] if "@" in url else url  # no password in the status line
    where = ", ".join(map(str, dirs)) or "no flow folder (see weir.toml)"
    print(
        f"scheduler started: store {shown_url}; {len(flows)} flow{'s' if len(flows) != 1 else ''} "
        f"({scheduled} on a time schedule) in {where}; "
        f"{len(errors)} file error{'s' if len(errors) != 1 else ''}",
        file=sys.stderr,
        flush=True,
    )
    for path, error in sorted(errors.items()):
        print(f"  error: {path}: {error}", file=sys.stderr, flush=True)
