"""Named events: ``weir events send NAME`` starts a run of every flow that listens to ``NAME``.

A flow listens with ``schedule=weir.on_event(NAME)``. The event's payload (a JSON object)
becomes the params of each run. An event carries an id; the run it starts for a flow has
the key ``event:<flow>:<id>``, so an event sent twice with one id (a client retrying after
a timeout) starts its runs once. Everything that can be refused (the name, the payload,
the params of each flow, a paused flow) is checked before anything is written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weir.errors import WeirError
from weir.settings import Settings

if TYPE_CHECKING:
    from weir.sdk.flow import Flow


class EventError(WeirError):
    """An event that cannot be sent: a bad name or payload, no flow listening, paused flows.

    Attributes:
        field: the part of the event at fault (``name``, ``id`` or ``payload``), or None.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NoListenerError(EventError):
    """No flow listens to the event (or there are no flow folders to look for listeners in)."""


class PausedListenersError(EventError):
    """Every flow that listens to the event is paused: nothing was sent."""


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


def listeners(name: str, flows: Mapping[str, Flow]) -> list[Flow]:
    """The flows among ``flows`` that listen to the event ``name``, by flow name."""
    found = []
    for flow_name in sorted(flows):
        spec = flows[flow_name].schedule_spec
        if spec is not None and any(event.name == name for event in spec.events):
            found.append(flows[flow_name])
    return found


def event_key(flow_name: str, event_id: str) -> str:
    """The run key of the run that event ``event_id`` starts for flow ``flow_name``."""
    return f"event:{flow_name}:{event_id}"


def send_event(
    name: str,
    payload: Mapping[str, Any] | None,
    event_id: str | None,
    settings: Settings,
    *,
    flows: Mapping[str, Flow] | None = None,
) -> SentEvent:
    """Record the event ``name`` and create one queued run per flow listening to it.

    Args:
        name: the event's name.
        payload: the event's data, a JSON object; it becomes each run's params.
        event_id: the event's id (default: a new uuid); an id sent before starts nothing new.
        settings: the store, and the flow folders to find listeners in.
        flows: the flows to look in (default: a discovery of ``settings.flows_dirs``).

    Raises:
        EventError: a malformed name, id or payload; no flow listens; every listening flow is paused.
        ParamsError: the payload is not valid params for a listening flow (names the flow and field).
    """
    from weir.runs import DuplicateRunError, create_run
    from weir.schedules import ScheduleError, on_event

    try:
        on_event(name)
    except ScheduleError as exc:
        raise EventError(f"invalid event name: {exc.reason}", field="name") from None
    if event_id is not None and (not event_id.strip() or len(event_id) > 150):
        raise EventError("invalid id: expected 1 to 150 characters", field="id")
    data = check_payload(dict(payload) if payload is not None else {})
    if flows is None:
        flows = _discover(settings)
    listening = listeners(name, flows)
    if not listening:
        raise NoListenerError(f"no flow listens to event {name!r}")
    paused = _paused(settings, listening)
    active = [flow for flow in listening if flow.name not in paused]
    if not active:
        names = ", ".join(repr(flow.name) for flow in listening)
        raise PausedListenersError(
            f"flow {names} {'is' if len(listening) == 1 else 'are'} paused: nothing was sent "
            f"(`weir unpause {listening[0].name}` first)"
        )
    for flow in active:
        flow.validate_params(data)  # every flow's params are checked before anything is written
    event_id = event_id or uuid.uuid4().hex
    from weir.store import queries
    from weir.store.db import get_engine, write

    engine = get_engine(settings.database_url)
    with write(engine) as conn:
        received = queries.insert_event(conn, event_id=event_id, name=name, payload=data, now=_now())
    created: list[int] = []
    existing: list[int] = []
    # The run keys, not the event row, make this idempotent: a send that stopped half-way and
    # is sent again makes the runs still missing, and no others.
    for flow in active:
        key = event_key(flow.name, event_id)
        try:
            _, run_id, _ = create_run(flow, data, settings=settings, trigger="event", run_key=key)
        except DuplicateRunError:
            with engine.connect() as conn:
                run = queries.find_run_by_key(conn, key)
            if run is not None:
                existing.append(run.id)
            continue
        created.append(run_id)
    return SentEvent(
        event_id=event_id,
        run_ids=created,
        existing=existing,
        already_received=not received,
        paused=sorted(paused),
    )


def _discover(settings: Settings) -> dict[str, Flow]:
    from weir.sdk.discovery import Discovery

    if not settings.flows_dirs:
        raise NoListenerError(
            'no flow folders to find listeners in: add a weir.toml with [weir] flows = ["flows/"], '
            "or pass --flows DIR"
        )
    discovery = Discovery(settings.flows_dirs)
    discovery.refresh()
    return discovery.flows


def _paused(settings: Settings, flows: list[Flow]) -> set[str]:
    from weir.store import queries
    from weir.store.db import get_engine

    with get_engine(settings.database_url).connect() as conn:
        states = queries.get_flow_states(conn)
    paused = set()
    for flow in flows:
        state = states.get(flow.name)
        spec = flow.schedule_spec
        if state.paused if state is not None else bool(spec and spec.paused):
            paused.add(flow.name)
    return paused


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
