"""Errors as HTTP responses, in one place: JSON for the API, a page for the UI, never a bare 500.

A :class:`~weir.errors.WeirError` answers with its ``http_status`` and names its ``fields``; a
request that does not parse answers 422 naming each field; a store that does not answer, 503.
Routes raise; they do not map. Every error body has the same shape
(:class:`~weir.server.schemas.ErrorBody`): a code, a message, and the fields at fault.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from weir.errors import NotFoundError, WeirError

log = logging.getLogger("weir.server")

_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid",
    500: "internal",
    501: "not_implemented",
    502: "bad_gateway",
    503: "unavailable",
}


def status_of(exc: WeirError) -> int:
    """The HTTP status of ``exc``: its ``http_status``, except that a NotFoundError naming fields of
    the request (a task id in a body that the run does not have) is the request's fault: 422."""
    if isinstance(exc, NotFoundError) and exc.fields:
        return 422
    return exc.http_status


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path == "/metrics")


def error_response(
    request: Request, status: int, detail: str, fields: Sequence[tuple[str, str]] = ()
) -> Response:
    """The error page (UI routes) or the JSON error body (API routes) for ``status``."""
    if _wants_html(request):
        templates = request.app.state.weir.templates
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "detail": detail, "fields": list(fields)},
            status_code=status,
        )
    body: dict[str, Any] = {
        "error": _CODES.get(status, "error"),
        "detail": detail,
        "fields": [{"field": f, "reason": r} for f, r in fields],
    }
    return JSONResponse(body, status_code=status)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _unavailable(request: Request) -> Response:
    response = error_response(request, 503, "the store is unavailable; try again")
    response.headers["Retry-After"] = "1"
    return response


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a deliberate response."""

    @app.exception_handler(WeirError)
    async def _weir(request: Request, exc: WeirError) -> Response:
        status = status_of(exc)
        if status == 503:
            log.warning("store unavailable for %s: %s", request.url.path, exc)
            return _unavailable(request)
        if status >= 500:
            log.error("%s for %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
        return error_response(request, status, str(exc), exc.fields)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        fields = [(_field_name(tuple(e.get("loc", ()))), str(e.get("msg", "invalid"))) for e in exc.errors()]
        detail = "invalid request: " + "; ".join(f"{f}: {r}" for f, r in fields)
        return error_response(request, 422, detail, fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"nothing at {request.url.path}"
        response = error_response(request, exc.status_code, detail)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    async def _store_away(request: Request, exc: Exception) -> Response:
        log.warning("store unavailable for %s: %s", request.url.path, exc)
        return _unavailable(request)

    from weir.store.db import unavailable_errors

    for kind in unavailable_errors():
        app.add_exception_handler(kind, _store_away)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error for %s %s", request.method, request.url.path)
        if _wants_html(request):
            return HTMLResponse("<h1>500: unexpected server error</h1>", status_code=500)
        return JSONResponse(
            {"error": "internal", "detail": f"unexpected {type(exc).__name__}", "fields": []}, status_code=500
        )
