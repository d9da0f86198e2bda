"""The app factory: ``create_app(settings)`` builds the API, the UI and ``/metrics`` on one store."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weir.server.state import API_PREFIX, ServerState
from weir.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

HERE = Path(__file__).parent
__all__ = ["API_PREFIX", "ServerState", "create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app serving the REST API (``/api/v1``), the web UI (``/``) and ``/metrics``.

    Uvicorn can start it directly (``uvicorn.run(create_app(settings))``); ``weir server`` mounts
    the same app beside the scheduler. Nothing is read from the store until the first request.
    """
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    import weir.server.errors as errors
    import weir.server.templating as templating
    from weir import __version__
    from weir.server.routes import admin, flows, logs, pages, runs, system

    settings = settings or Settings.from_env()
    app = FastAPI(
        title="weir",
        version=__version__,
        description="Flows, runs, task runs, tries and their logs; trigger, cancel, retry and clear runs; "
        "pools and the audit log.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.weir = ServerState(settings=settings, templates=templating.templates())
    errors.install(app)

    @app.middleware("http")
    async def _timing(request: Any, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    app.include_router(flows.router, prefix=API_PREFIX)
    app.include_router(runs.router, prefix=API_PREFIX)
    app.include_router(logs.router, prefix=API_PREFIX)
    app.include_router(admin.router, prefix=API_PREFIX)
    app.include_router(system.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _document_in_markdown(app)
    return app


def _document_in_markdown(app: FastAPI) -> None:
    """Route docstrings are reST-flavoured (``x``, :func:`x`, Args: sections): FastAPI copies them
    into the OpenAPI schema, which /api/docs and other readers show as Markdown. Rewrite every
    route's description once, now, and every other description (models, fields) of the schema
    once, when it is first built."""
    from fastapi.routing import APIRoute

    for route in app.routes:
        if isinstance(route, APIRoute) and route.description:
            route.description = markdown_doc(route.description)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _plain_descriptions(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to amend the schema


def _plain_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                node[key] = markdown_doc(value)
            else:
                _plain_descriptions(value)
    elif isinstance(node, list):
        for value in node:
            _plain_descriptions(value)
    return node


_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`(~?)([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_SECTION = re.compile(r"(Args|Arguments|Parameters|Attributes|Raises|Returns|Yields):")
_DROPPED = ("Args", "Arguments", "Parameters")


def markdown_doc(text: str) -> str:
    """A docstring as Markdown: a literal in double backquotes, and a Sphinx role (``:func:`` and
    the like) with its target, become one backquoted span (a role's ``~a.b`` shows ``b``). An
    ``Args:`` section is dropped (the schema documents each parameter); the others (``Raises:``,
    ``Returns:``, ...) become a bold heading over a list."""
    text = _LITERAL.sub(r"`\1`", _ROLE.sub(_role, text))
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        section = _SECTION.fullmatch(line.strip())
        i += 1
        if section is None:
            out.append(line)
            continue
        indent = _indent(line)
        body = []
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent):
            body.append(lines[i])
            i += 1
        if section.group(1) in _DROPPED:
            continue
        if out and out[-1].strip():
            out.append("")
        out.extend([f"**{section.group(1)}**", ""])
        out.extend(f"- {entry}" for entry in _entries(body))
        out.append("")
    return "\n".join(out).strip()


def _role(match: re.Match[str]) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"  # ~a.b.c shows c


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _entries(body: list[str]) -> list[str]:
    """The entries of a Google-style section: a line at the first indentation starts one, a
    deeper line goes on with it."""
    filled = [b for b in body if b.strip()]
    if not filled:
        return []
    first = min(_indent(b) for b in filled)
    entries: list[str] = []
    for b in filled:
        if _indent(b) == first or not entries:
            entries.append(b.strip())
        else:
            entries[-1] += " " + b.strip()
    return entries
