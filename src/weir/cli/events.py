"""``weir events send``: send a named event, starting a run of each flow that listens to it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from weir.cli.output import handles_errors, print_json
from weir.cli.project import FlowsOption, load_settings

app = typer.Typer(help="Send named events to the flows that listen to them.", no_args_is_help=True)


@app.command("send")
@handles_errors
def send(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The event's name.")],
    payload: Annotated[
        str | None,
        typer.Option("--payload", metavar="JSON", help="A JSON object: the params of the runs."),
    ] = None,
    event_id: Annotated[
        str | None,
        typer.Option("--id", metavar="ID", help="The event's id (default: a new one); an id is run once."),
    ] = None,
    flows: FlowsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Send the event NAME: one queued run of each flow that listens to it (`on_event(NAME)`),
    for the scheduler to run. Sending an event again with the same --id starts nothing new."""
    from weir.cli.project import context, live_scheduler, sync_project
    from weir.control.events import parse_payload, send_event

    data = parse_payload(payload)
    ctx = context(load_settings(flows))
    sync_project(ctx)  # the listeners are the project's flows as registered
    sent = send_event(ctx, name, data, event_id)
    if as_json:
        print_json(
            {
                "event_id": sent.event_id,
                "name": name,
                "run_ids": sent.run_ids,
                "existing_run_ids": sent.existing,
                "already_received": sent.already_received,
                "paused": sent.paused,
            }
        )
        return
    if sent.already_received and not sent.run_ids:
        runs = ", ".join(map(str, sent.existing)) or "none"
        print(f"event {name} {sent.event_id} already received: no new run (its runs: {runs})")
        return
    ids = ", ".join(map(str, sent.run_ids))
    plural = "s" if len(sent.run_ids) != 1 else ""
    print(f"event {name} {sent.event_id} sent: queued run{plural} {ids}")
    for flow_name in sent.paused:
        print(f"note: flow {flow_name} listens but is paused: no run of it", file=sys.stderr)
    if live_scheduler(ctx) is None:
        print("note: no scheduler is running: start one with `weir scheduler` to run them", file=sys.stderr)
