"""Errors as HTTP responses: JSON for the API, a page for the UI, never a bare 500.

Every error body has the same shape (:class:`~weir.server.schemas.ErrorBody`): a code, a
message, and the fields at fault.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from weir.errors import NotFoundError, ParamsError, WeirError

log = logging.getLogger("weir.server")

_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid",
    501: "not_implemented",
    503: "unavailable",
}


class ApiError(Exception):
    """An error with its HTTP status, raised by route code and turned into a JSON body."""

    def __init__(self, status: int, detail: str, fields: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.fields = list(fields)


def not_found(detail: str) -> ApiError:
    return ApiError(404, detail)


def conflict(detail: str) -> ApiError:
    return ApiError(409, detail)


def invalid(detail: str, fields: Iterable[tuple[str, str]] = ()) -> ApiError:
    return ApiError(422, detail, fields)


def params_error(exc: ParamsError) -> ApiError:
    return ApiError(422, str(exc), [(f"params.{name}", reason) for name, reason in exc.problems])


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path == "/metrics")


def error_response(request: Request, status: int, detail: str, fields: list[tuple[str, str]]) -> Response:
    if _wants_html(request):
        templates = request.app.state.weir.templates
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "detail": detail, "fields": fields},
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


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a deliberate response."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc.status, exc.detail, exc.fields)

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
        response = error_response(request, exc.status_code, detail, [])
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> Response:
        return error_response(request, 404, str(exc), [])

    @app.exception_handler(ParamsError)
    async def _params(request: Request, exc: ParamsError) -> Response:
        err = params_error(exc)
        return error_response(request, 422, err.detail, err.fields)

    @app.exception_handler(WeirError)
    async def _weir(request: Request, exc: WeirError) -> Response:
        # A deliberate refusal the route did not map: the request conflicts with what is stored.
        return error_response(request, 409, str(exc), [])

    @app.exception_handler(OperationalError)
    async def _store_away(request: Request, exc: OperationalError) -> Response:
        log.warning("store unavailable for %s: %s", request.url.path, exc)
        response = error_response(request, 503, "the store is unavailable; try again", [])
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error for %s %s", request.method, request.url.path)
        if _wants_html(request):
            return HTMLResponse("<h1>500: unexpected server error</h1>", status_code=500)
        return JSONResponse(
            {"error": "internal", "detail": f"unexpected {type(exc).__name__}", "fields": []}, status_code=500
        )
