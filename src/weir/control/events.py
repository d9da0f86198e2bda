"""Named events: sending ``NAME`` starts a run of every flow that listens to it.

A flow listens with ``schedule=weir.on_event(NAME)``; its listeners are found among the stored
snapshots of the project's flows (nothing is imported). The event's payload (a JSON object)
becomes the params of each run. An event carries an id; the run it starts for a flow has the key
``event:<flow>:<id>``, so an event sent twice with one id (a client retrying after a timeout)
starts its runs once. Everything that can be refused (the name, the payload, each flow's params,
paused flows) is checked before anything is written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from weir.control import runs as run_actions
from weir.control.context import Context, record
from weir.control.flows import is_paused, snapshot_of_record
from weir.errors import EventError, NoListenerError, PausedListenersError, ScheduleError
from weir.graph.snapshot import FlowSnapshot
from weir.store import flows, inbox, runs


@dataclass(frozen=True, slots=True, kw_only=True)
class SentEvent:
    """What sending an event did.

    Attributes:
        event_id: the event's id (given, or a new uuid).
        run_ids: the runs it started, one per listening flow that is not paused.
        existing: runs this id had already started (an event sent again).
        already_received: the store had this event id already.
        paused: listening flows that were skipped because they are paused.
    """

    event_id: str
    run_ids: list[int] = field(default_factory=list)
    existing: list[int] = field(default_factory=list)
    already_received: bool = False
    paused: list[str] = field(default_factory=list)


def parse_payload(text: str | None) -> dict[str, Any]:
    """``--payload``: a JSON object (None or empty: ``{}``).

    Raises:
        EventError: naming ``payload``, for text that is not JSON or not an object.
    """
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise EventError(f"invalid payload: not JSON ({exc})", field="payload") from None
    return check_payload(value)


def check_payload(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object (a dict with string keys).

    Raises:
        EventError: naming ``payload``, for anything else.
    """
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(value), "a number" if isinstance(value, int | float) else type(value).__name__
        )
        raise EventError(
            f"invalid payload: expected a JSON object (its keys are the params), got {kind}", field="payload"
        )
    return value


def event_key(flow_name: str, event_id: str) -> str:
    """The run key of the run that event ``event_id`` starts for flow ``flow_name``."""
    return f"event:{flow_name}:{event_id}"


def listeners(ctx: Context, name: str) -> list[FlowSnapshot]:
    """The project's flows (newest versions) that listen to the event ``name``, by flow name."""
    with ctx.store.read() as conn:
        project = sorted({flow for f in flows.files(conn) for flow in f.flows})
        records = flows.newest(conn, names=project)
    found = []
    for flow_record in records:
        snapshot = snapshot_of_record(flow_record)
        spec = snapshot.schedule_spec
        if spec is not None and any(event.name == name for event in spec.events):
            found.append(snapshot)
    return found


def send_event(
    ctx: Context, name: str, payload: Mapping[str, Any] | None, event_id: str | None = None
) -> SentEvent:
    """Record the event ``name`` and make one queued run per flow listening to it.

    Raises:
        EventError: a malformed name, id or payload. NoListenerError: no flow listens.
        PausedListenersError: every listening flow is paused.
        ParamsError: the payload is not valid params for a listening flow (names the flow and field).
    """
    from weir.schedules import on_event

    try:
        on_event(name)
    except ScheduleError as exc:
        raise EventError(f"invalid event name: {exc.reason}", field="name") from None
    if event_id is not None and (not event_id.strip() or len(event_id) > 150):
        raise EventError("invalid id: expected 1 to 150 characters", field="id")
    data = check_payload(dict(payload) if payload is not None else {})
    listening = listeners(ctx, name)
    if not listening:
        raise NoListenerError(f"no flow listens to event {name!r}")
    with ctx.store.read() as conn:
        paused = {s.name for s in listening if is_paused(conn, s)}
    active = [s for s in listening if s.name not in paused]
    if not active:
        names = ", ".join(repr(s.name) for s in listening)
        raise PausedListenersError(
            f"flow {names} {'is' if len(listening) == 1 else 'are'} paused: nothing was sent "
            f"(`weir unpause {listening[0].name}` first)"
        )
    # Every flow's params are checked before anything is written.
    plans = [run_actions.plan_run(ctx, snapshot, data, trigger="event") for snapshot in active]
    event_id = event_id or uuid.uuid4().hex
    created: list[int] = []
    existing: list[int] = []
    # One transaction: the event, one run per listening flow, one audit row. The run keys, not
    # the event row, make it idempotent: an event sent again makes only the runs still missing.
    with ctx.store.transaction() as tx:
        received = inbox.receive(tx, event_id=event_id, name=name, payload=data, now=ctx.clock.now())
        for plan in plans:
            key = event_key(plan.snapshot.name, event_id)
            found = runs.find_by_key(tx, key)
            if found is not None:
                existing.append(found.id)
                continue
            created.append(run_actions.make_run(tx, ctx, plan, run_key=key).run_id)
        record(tx, ctx, "send_event", f"event {name}", id=event_id, runs=created or None)
    return SentEvent(
        event_id=event_id,
        run_ids=created,
        existing=existing,
        already_received=not received,
        paused=sorted(paused),
    )
