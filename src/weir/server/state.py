"""What every request needs (:class:`ServerState`), apart from the app factory so that routes
can import it without importing the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from weir.clock import Clock, SystemClock
from weir.settings import Settings

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

    from weir.control.context import Context
    from weir.store.store import Store

#: Where the REST API lives.
API_PREFIX = "/api/v1"


@dataclass
class ServerState:
    """What every request needs: the settings, the store, the templates, and a clock."""

    settings: Settings
    templates: Jinja2Templates
    clock: Clock = field(default_factory=SystemClock)

    @property
    def store(self) -> Store:
        """The process's store (opened, and migrated, by the first request that needs it)."""
        from weir.store.store import open_store

        return open_store(self.settings.database_url)

    def now(self) -> datetime:
        return self.clock.now()

    def context(self, via: str = "api") -> Context:
        """The context an action taken through this server runs in (``via`` api or ui)."""
        from weir.control.context import Context

        return Context.of(self.settings, via=via, clock=self.clock)
