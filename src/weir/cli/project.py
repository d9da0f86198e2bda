"""What the commands share about the project they run in: settings, the action context, flows by
name (through the registrar: the CLI never imports a flow file but in ``weir run``), a live
scheduler, and stopping cleanly on Ctrl-C or SIGTERM.

Light at import (the standard library and Typer only): the store and the control layer are
imported inside the functions, so ``weir --help`` stays fast.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weir.cli.output import fail

if TYPE_CHECKING:
    from weir.control.context import Context
    from weir.control.flows import Registered
    from weir.graph.snapshot import FlowSnapshot
    from weir.settings import Settings
    from weir.store.records import OwnerRecord
    from weir.worker.registrar import Registrar

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


def context(settings: Settings) -> Context:
    """The context of an action taken from the command line (the store is opened here)."""
    from weir.control.context import Context

    return Context.of(settings, via="cli")


def registrar(settings: Settings) -> Registrar:
    """The process's registrar for the project: it reads flow files in a process of its own."""
    from weir.worker.registrar import shared_registrar

    return shared_registrar(settings.project_root, settings.registrar_timeout)


def resolve_flow(ctx: Context, target: str) -> FlowSnapshot:
    """The stored snapshot of the flow ``target`` names: ``FILE.py:FLOW`` (registered now, through
    the registrar), or a flow name (the project's files are brought in step first).

    Raises:
        FlowLoadError: the file does not load or holds no such flow.
        NotFoundError: no flow of that name (the message lists those there are).
    """
    from weir.control import flows
    from weir.errors import NotFoundError

    try:
        return flows.resolve(ctx, target, registrar(ctx.settings))
    except NotFoundError:
        if ".py" in target or ctx.settings.flows_dirs:
            raise
        raise NotFoundError(
            f"{target!r} is not FILE.py:FLOW, no flow of that name is registered, and there is no "
            'project here to look it up in (a weir.toml with [weir] flows = ["flows/"], or --flows DIR)'
        ) from None


def sync_project(ctx: Context) -> Registered | None:
    """Bring the store in step with the project's flow files (None: nothing changed, or no project)."""
    if not ctx.settings.flows_dirs:
        return None
    from weir.control import flows

    return flows.sync(ctx, registrar(ctx.settings))


def require_flows_dirs(settings: Settings) -> tuple[Path, ...]:
    """The project's flow folders; a clear error when there are none.

    Raises:
        SettingsError: no ``weir.toml`` with ``flows``, and no ``--flows``.
    """
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


def live_scheduler(ctx: Context) -> OwnerRecord | None:
    """A scheduler process whose lease is good now (and, on this host, whose process exists)."""
    import socket

    from weir.control.liveness import process_gone
    from weir.store import owners

    host = socket.gethostname()
    with ctx.store.read() as conn:
        found = owners.live(conn, ctx.clock.now())
    for owner in found:
        if owner.kind == "scheduler" and not (owner.host == host and process_gone(owner.pid)):
            return owner
    return None


def shown_url(url: str) -> str:
    """A database URL without its password (for status lines)."""
    from weir.store.db import shown_url as hidden

    return hidden(url)


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


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``["n=5", "day=2024-01-02"]`` -> ``{"n": 5, "day": "2024-01-02"}``.

    A value is read as JSON when it is JSON (numbers, booleans, lists, objects, quoted
    strings), otherwise it stays a string; the flow's params schema then checks it.
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            fail(f"-p expects key=value, not {pair!r}")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params
