"""What the commands share about the project they run in: settings, flows by name, the store,
a live scheduler, and stopping cleanly on Ctrl-C or SIGTERM.

Light at import (the standard library and Typer only): the store and the SDK are imported
inside the functions, so ``weir --help`` stays fast.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from weir.sdk.flow import Flow
    from weir.settings import Settings
    from weir.store.records import FlowStateRecord, OwnerRecord

#: The ``--flows DIR`` option of every command that finds flows by name.
FlowsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--flows",
        metavar="DIR",
        help="A folder (or file) of flows; repeatable. Default: `flows` of the project's weir.toml.",
    ),
]

#: The ``FLOW`` argument: a flow name of the project, or ``FILE.py:FLOW``.
FLOW_HELP = "A flow name of the project (see --flows), or FILE.py:FLOW."


def load_settings(flows: list[Path] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment and ``weir.toml``; ``--flows`` replaces the project's folders.

    Raises:
        SettingsError: a bad setting, or a ``--flows`` path that does not exist.
    """
    from weir.errors import SettingsError
    from weir.settings import Settings

    if flows:
        missing = [str(p) for p in flows if not p.exists()]
        if missing:
            raise SettingsError(f"--flows: no such file or folder: {', '.join(missing)}")
        overrides["flows_dirs"] = tuple(p.resolve() for p in flows)
    return Settings.from_env(**overrides)


def find_flow(target: str, settings: Settings) -> Flow:
    """The flow ``target`` names: ``FILE.py:FLOW``, or a flow name found in the project's folders.

    Raises:
        FlowLoadError: nothing matches (the message lists the flows that exist).
    """
    from weir.sdk.discovery import resolve_flow

    return resolve_flow(target, settings.flows_dirs)


def require_flows_dirs(settings: Settings) -> tuple[Path, ...]:
    """The project's flow folders; a clear error when there are none."""
    from weir.errors import SettingsError

    if not settings.flows_dirs:
        raise SettingsError(
            'no flow folders: add a weir.toml with [weir] flows = ["flows/"] to the project, '
            "or pass --flows DIR"
        )
    return settings.flows_dirs


def store_exists(settings: Settings) -> bool:
    """False for a SQLite store whose file is not there yet (opening it would create it)."""
    url = settings.database_url
    if not url.startswith("sqlite"):
        return True
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return True
    return Path(path).exists()


def live_scheduler(settings: Settings) -> OwnerRecord | None:
    """A scheduler process that is alive now (it beats its heartbeat), if there is one."""
    if not store_exists(settings):
        return None
    from weir.scheduler.clock import SystemClock
    from weir.scheduler.loop import owner_alive
    from weir.store import views
    from weir.store.db import get_engine

    clock = SystemClock()
    with get_engine(settings.database_url).connect() as conn:
        owners = views.owners(conn)
    return next((o for o in owners if o.kind == "scheduler" and owner_alive(o, clock)), None)


def flow_state(settings: Settings, name: str) -> FlowStateRecord | None:
    """The store's scheduling state of flow ``name`` (None when the store does not know it)."""
    if not store_exists(settings):
        return None
    from weir.store import queries
    from weir.store.db import get_engine

    with get_engine(settings.database_url).connect() as conn:
        return queries.get_flow_state(conn, name)


def is_paused(settings: Settings, flow: Flow) -> bool:
    """Whether ``flow`` is paused: as the store says, else as its ``paused=`` says."""
    state = flow_state(settings, flow.name)
    if state is not None:
        return state.paused
    return bool(flow.schedule_spec and flow.schedule_spec.paused)


def in_project(settings: Settings, path: str | None) -> bool:
    """Whether the flow file ``path`` lies in the project's flow folders (a scheduler knows it)."""
    if not path:
        return False
    resolved = Path(path).resolve()
    return any(resolved == entry or resolved.is_relative_to(entry) for entry in settings.flows_dirs)


@contextmanager
def stop_on_signals(on_stop: Callable[[], None]) -> Iterator[None]:
    """While inside: the first Ctrl-C or SIGTERM calls ``on_stop`` (it must be safe in a signal
    handler: set an event); a second Ctrl-C raises KeyboardInterrupt, to give up waiting.
    The previous handlers come back on exit."""
    hits = 0

    def handler(signum: int, frame: Any) -> None:
        nonlocal hits
        hits += 1
        on_stop()
        if hits > 1 and signum == signal.SIGINT:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
