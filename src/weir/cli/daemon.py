"""``weir scheduler``: the daemon that makes scheduled, triggered and event runs and drives them."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from weir.cli.output import handles_errors
from weir.cli.project import FlowsOption, load_settings, require_flows_dirs

if TYPE_CHECKING:
    from weir.scheduler.service import Scheduler


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

    It keeps the project's flows registered (reading their files in a registrar process of its
    own), makes the runs their schedules call for, and drives those and the runs queued by
    `weir trigger` and `weir events send`.

    On stop it starts nothing new, lets running tries finish (up to --grace seconds) and hands
    its unfinished runs back for the next scheduler to take up.
    """
    from weir.cli.project import stop_on_signals
    from weir.executors.registry import executor_for, release
    from weir.scheduler.service import Scheduler

    settings = load_settings(flows, **({} if executor is None else {"executor": executor}))
    require_flows_dirs(settings)
    pool = executor_for(settings)
    try:
        service = Scheduler(settings, pool)
        with stop_on_signals(service.stop):
            service.refresh()
            status(service)
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C while handing back
                service.serve(grace=grace)
    finally:
        release(pool)
    made = len(service.created)
    print(f"scheduler stopped: made {made} run{'s' if made != 1 else ''}", file=sys.stderr, flush=True)


def status(service: Scheduler) -> None:
    """The scheduler's first words on stderr: its store, its flows, and problems with them."""
    from weir.cli.project import shown_url
    from weir.control.reports import problems

    settings = service.settings
    flows = service.flows
    scheduled = sum(
        1 for f in flows.values() if f.schedule_spec is not None and f.schedule_spec.timetable is not None
    )
    with service.store.read() as conn:
        found = problems(conn)
    where = ", ".join(map(str, settings.flows_dirs)) or "no flow folder (see weir.toml)"
    print(
        f"scheduler started: store {shown_url(settings.database_url)}; "
        f"{len(flows)} flow{'s' if len(flows) != 1 else ''} "
        f"({scheduled} on a time schedule) in {where}; "
        f"{len(found)} problem{'s' if len(found) != 1 else ''} (`weir flows errors`)",
        file=sys.stderr,
        flush=True,
    )
    for problem in found:
        print(f"  error: {problem.where}: {problem.error}", file=sys.stderr, flush=True)
