"""Health, metrics, events, and the API's documentation page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from weir.control import events
from weir.errors import EventError, ParamsError
from weir.server.deps import Ctx, State
from weir.server.schemas import (
    DriverHealth,
    ErrorBody,
    EventRequest,
    EventSent,
    Health,
    StoreHealth,
    non_finite_path,
)
from weir.server.state import API_PREFIX, ServerState
from weir.store import owners

router = APIRouter()
#: Schedulers whose last heartbeat is older than this are forgotten by the health answer (a
#: scheduler stopped for good); one that beat more recently but holds no lease makes it degraded.
DRIVER_MEMORY = 3600.0


def health_of(state: ServerState) -> Health:
    """Whether the store answers, whether the newest scheduler heartbeat is fresh, and the live
    drivers (schedulers, ``weir run``, backfills holding a lease)."""
    now = state.now()
    try:
        store = state.store
        store.ping()
        with store.read() as conn:
            known = owners.owners(conn)
    except Exception as exc:
        return Health(
            status="degraded",
            store=StoreHealth(reachable=False, error=f"{type(exc).__name__}: {str(exc)[:300]}"),
            scheduler_heartbeat_age=None,
            problems=["the store does not answer"],
            drivers=[],
        )
    drivers = [
        DriverHealth(
            id=o.id,
            kind=o.kind,
            host=o.host,
            pid=o.pid,
            heartbeat_at=o.heartbeat_at,
            age_seconds=max((now - o.heartbeat_at).total_seconds(), 0.0),
            lease_expires_at=o.lease_expires_at,
            alive=o.holds_lease(now),
        )
        for o in known
    ]
    ages = [d.age_seconds for d in drivers if d.kind == "scheduler" and d.age_seconds < DRIVER_MEMORY]
    newest = min(ages) if ages else None
    problems = []
    stale_after = state.settings.lease_seconds
    if newest is not None and newest > stale_after:
        problems.append(
            f"the newest scheduler heartbeat is {newest:.0f} s old "
            f"(stale after {stale_after:g} s, the lease): no scheduler is making or driving runs; "
            "start `weir scheduler` or look at why it stopped"
        )
    return Health(
        status="degraded" if problems else "ok",
        store=StoreHealth(reachable=True),
        scheduler_heartbeat_age=newest,
        problems=problems,
        drivers=[d for d in drivers if d.alive][:20],
    )


@router.get(
    f"{API_PREFIX}/health",
    response_model=Health,
    tags=["system"],
    summary="Health",
    responses={503: {"model": Health, "description": "the store does not answer"}},
)
def health(state: State) -> Any:
    """Whether the store answers (503 when it does not), how long ago a scheduler last beat
    (``degraded`` once that is older than the lease, with the reason in ``problems``), and the
    drivers that hold a lease now (their runs are theirs)."""
    result = health_of(state)
    if not result.store.reachable:
        return JSONResponse(result.model_dump(mode="json"), status_code=503)
    return result


@router.post(
    f"{API_PREFIX}/events",
    tags=["system"],
    summary="Send an event",
    status_code=201,
    response_model=EventSent,
    responses={
        200: {"model": EventSent, "description": "an event with this id was received before: no new run"},
        404: {"model": ErrorBody, "description": "no flow listens to the event"},
        409: {"model": ErrorBody, "description": "every flow listening to the event is paused"},
        422: {"model": ErrorBody, "description": "a bad name, id or payload, or payload not valid as params"},
    },
)
def send_event(body: EventRequest, ctx: Ctx) -> Any:
    """Record the event ``name`` and create one queued run of each flow that listens to it
    (``schedule=weir.on_event(name)``), with ``payload`` as its params. The listeners are found
    among the project's registered flows (their stored snapshots). Sending an ``id`` again creates
    nothing new (200)."""
    bad = non_finite_path(body.payload, "payload")
    if bad:
        raise EventError(f"{bad}: NaN and infinite numbers are not accepted", field=bad)
    try:
        sent = events.send_event(ctx, body.name, body.payload, body.id)
    except ParamsError as exc:
        # The request names them ``payload``: the params of the runs are the event's payload.
        exc.fields = [(f"payload.{name}", reason) for name, reason in exc.problems]
        raise
    result = EventSent(
        id=sent.event_id,
        name=body.name,
        run_ids=sent.run_ids,
        existing_run_ids=sent.existing,
        already_received=sent.already_received,
        paused=sent.paused,
    )
    if sent.already_received and not sent.run_ids:
        return JSONResponse(result.model_dump(mode="json"), status_code=200)
    return result


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    from weir.server.metrics import Metrics

    app_state = request.app.state
    if getattr(app_state, "metrics", None) is None:
        app_state.metrics = Metrics(app_state.weir)
    return Response(app_state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/docs", include_in_schema=False, response_class=HTMLResponse)
def api_docs(request: Request, state: State) -> Response:
    """The API's reference, rendered on the server from the OpenAPI schema (nothing loaded from outside)."""
    schema = request.app.openapi()
    operations = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": op.get("parameters", []),
                    "body": _body_ref(op),
                    "responses": op.get("responses", {}),
                    "tag": (op.get("tags") or ["other"])[0],
                }
            )
    return state.templates.TemplateResponse(
        request,
        "api_docs.html",
        {
            "operations": operations,
            "schemas": schema.get("components", {}).get("schemas", {}),
            "openapi_url": f"{API_PREFIX}/openapi.json",
        },
    )


def _body_ref(op: dict[str, Any]) -> str | None:
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    ref = schema.get("$ref") or next((s.get("$ref") for s in schema.get("anyOf", []) if "$ref" in s), None)
    return ref.rsplit("/", 1)[-1] if ref else None
