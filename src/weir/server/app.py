"""The app factory: ``create_app(settings)`` builds the API, the UI and ``/metrics`` on one store."""

from __future__ import annotations

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
    return app
