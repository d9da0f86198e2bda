"""The HTTP side of weir: the REST API under ``/api/v1``, the web UI, and ``/metrics``.

``create_app(settings)`` builds the ASGI app; ``weir api`` serves it alone with uvicorn, and
``weir server`` runs it beside the scheduler. FastAPI and Jinja2 are imported only here, so
``import weir`` stays light.
"""

from weir.server.app import create_app

__all__ = ["create_app"]
