"""Health, metrics, events (not yet), and the API's documentation page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from weir.server.app import API_PREFIX, ServerState
from weir.server.deps import get_state
from weir.server.errors import ApiError
from weir.server.schemas import DriverHealth, ErrorBody, Health, StoreHealth
from weir.store import views

router = APIRouter()
State = Annotated[ServerState, Depends(get_state)]


def health_of(state: ServerState) -> Health:
    now = state.now()
    try:
        with state.engine.connect() as conn:
            views.ping(conn)
            owners = views.owners(conn)
    except Exception as exc:
        return Health(
            status="degraded",
            store=StoreHealth(reachable=False, error=f"{type(exc).__name__}: {str(exc)[:300]}"),
            scheduler_heartbeat_age=None,
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
        )
        for o in owners
    ]
    ages = [d.age_seconds for d in drivers if d.kind == "scheduler"]
    return Health(
        status="ok",
        store=StoreHealth(reachable=True),
        scheduler_heartbeat_age=min(ages) if ages else None,
        drivers=[d for d in drivers if d.age_seconds < 3600][:20],
    )


@router.get(
    f"{API_PREFIX}/health",
    response_model=Health,
    tags=["system"],
    summary="Health",
    responses={503: {"model": Health, "description": "the store does not answer"}},
)
def health(state: State) -> Any:
    """Whether the store answers, and how long ago a scheduler last beat."""
    result = health_of(state)
    if not result.store.reachable:
        return JSONResponse(result.model_dump(mode="json"), status_code=503)
    return result


@router.post(
    f"{API_PREFIX}/events",
    tags=["system"],
    summary="Send an event (not yet)",
    status_code=501,
    responses={501: {"model": ErrorBody, "description": "not implemented yet"}},
)
def send_event() -> None:
    """Sending named events through the API is not implemented yet; use ``weir events send``."""
    raise ApiError(501, "sending events through the API is not implemented yet")


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
