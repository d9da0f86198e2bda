"""The app factory: ``create_app(settings)`` builds the API, the UI and ``/metrics`` on one store."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weir.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.templating import Jinja2Templates
    from sqlalchemy import Engine

HERE = Path(__file__).parent
API_PREFIX = "/api/v1"


@dataclass
class ServerState:
    """What every request needs: the settings, the store, the templates, and a clock."""

    settings: Settings
    templates: Jinja2Templates
    clock: Any = field(default=None)

    @property
    def engine(self) -> Engine:
        from weir.store.db import get_engine

        return get_engine(self.settings.database_url)

    def now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app serving the REST API (``/api/v1``), the web UI (``/``) and ``/metrics``.

    Uvicorn can start it directly (``uvicorn.run(create_app(settings))``); ``weir server`` mounts
    the same app beside the scheduler. Nothing is read from the store until the first request.
    """
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from weir import __version__
    from weir.server import errors, templating
    from weir.server.routes import flows, pages, runs, system

    settings = settings or Settings.from_env()
    app = FastAPI(
        title="weir",
        version=__version__,
        description="Flows, runs, task runs, tries and their logs; trigger, cancel, retry and clear runs.",
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
    app.include_router(system.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
