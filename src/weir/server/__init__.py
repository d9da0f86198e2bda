"""The HTTP side of weir: the REST API under ``/api/v1``, the web UI, and ``/metrics``.

``create_app(settings)`` (in :mod:`weir.server.app`) builds the ASGI app; ``weir api`` serves it
alone with uvicorn, and ``weir server`` runs it beside the scheduler. FastAPI and Jinja2 are
imported only in this package, so ``import weir`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, so the routes (which import the server's modules) and the app
    # factory (which imports the routes) never import each other through this package.
    if name == "create_app":
        from weir.server.app import create_app

        return create_app
    raise AttributeError(f"module 'weir.server' has no attribute {name!r}")
