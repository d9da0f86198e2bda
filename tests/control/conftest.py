"""The control suite's fixtures: a project folder with a ``weir.toml``, its settings on the test's
store (SQLite, and PostgreSQL when set), a fake clock, and a context acting as ``ada`` via the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from weir.control.context import Actor, Context
from weir.settings import Settings
from weir.store import audit, runs, tasks
from weir.store.records import AuditRecord
from weir.store.store import open_store
from weir.testing import FakeClock

NOW = datetime(2024, 6, 3, 12, tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project: ``weir.toml`` naming the flow folder ``flows/`` (empty)."""
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (root / "weir.toml").write_text('[weir]\nflows = ["flows/"]\n', encoding="utf-8")
    return root


@pytest.fixture
def settings(project: Path, store_url: str) -> Settings:
    return Settings.from_env(cwd=project, database_url=store_url, executor="inline")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def ctx(settings: Settings, clock: FakeClock) -> Context:
    """Actions taken by ``ada`` through the CLI, at the fake clock's time."""
    return Context(
        store=open_store(settings.database_url),
        settings=settings,
        actor=Actor(name="ada", via="cli"),
        clock=clock,
    )


@pytest.fixture
def registrar(settings: Settings) -> Iterator[Any]:
    """The process's shared registrar for the project (stopped after the test)."""
    from weir.worker.registrar import shared_registrar

    found = shared_registrar(settings.project_root, settings.registrar_timeout)
    yield found
    found.close()


def audit_rows(ctx: Context) -> list[AuditRecord]:
    """Every audit row, oldest first."""
    with ctx.store.read() as conn:
        return list(reversed(audit.entries(conn, limit=1000)))


def run_of(ctx: Context, run_id: int) -> Any:
    with ctx.store.read() as conn:
        return runs.get_run(conn, run_id)


def task_states(ctx: Context, run_id: int) -> dict[str, str]:
    """``{label: state}`` of a run's task runs (mapped elements are ``task[i]``)."""
    with ctx.store.read() as conn:
        return {r.label: str(r.state) for r in tasks.get_task_runs(conn, run_id)}


def run_count(ctx: Context) -> int:
    with ctx.store.read() as conn:
        return runs.list_runs(conn).total


@pytest.fixture
def audited(ctx: Context) -> Callable[..., tuple[Any, AuditRecord]]:
    """``audited(action)`` runs ``action()`` and returns what it returned and the one audit row it
    appended (failing unless it appended exactly one)."""

    def check(action: Callable[[], Any]) -> tuple[Any, AuditRecord]:
        before = len(audit_rows(ctx))
        value = action()
        rows = audit_rows(ctx)
        assert len(rows) == before + 1, f"expected one audit row, got {rows[before:]}"
        return value, rows[-1]

    return check
