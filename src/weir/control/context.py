"""Who acts, through what, on which store, at what time: what every action takes."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weir.clock import Clock, SystemClock
from weir.settings import Settings
from weir.store import audit
from weir.store.store import Store, open_store

if TYPE_CHECKING:
    from sqlalchemy import Connection

#: Where an action comes from.
VIA = ("cli", "api", "ui", "scheduler", "python")


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who acts (a user name, or the scheduler's owner id) and through what (``cli``, ``api``, ...)."""

    name: str
    via: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What an action needs: the store, the clock, the settings, and the actor it is recorded for."""

    store: Store
    settings: Settings
    actor: Actor
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def of(
        cls, settings: Settings, *, via: str, name: str | None = None, clock: Clock | None = None
    ) -> Context:
        """A context on ``settings``' store; the actor is ``name`` (default: the OS user)."""
        return cls(
            store=open_store(settings.database_url),
            settings=settings,
            actor=Actor(name=name or _user(), via=via),
            clock=clock or SystemClock(),
        )


def record(tx: Connection, ctx: Context, action: str, target: str, **detail: Any) -> None:
    """Append the audit row of ``action`` on ``target``, in the action's own transaction."""
    audit.append(
        tx,
        at=ctx.clock.now(),
        actor=ctx.actor.name,
        via=ctx.actor.via,
        action=action,
        target=target,
        detail={k: v for k, v in detail.items() if v is not None} or None,
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
