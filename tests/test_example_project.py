"""The example project (examples/project): its flows load from weir.toml and run."""

from __future__ import annotations

from pathlib import Path

import pytest

from weir.control.context import Context
from weir.control.flows import file_problems, get_snapshot, sync
from weir.sdk.loader import load_flow
from weir.settings import Settings
from weir.worker.registrar import shared_registrar

PROJECT = Path(__file__).resolve().parents[1] / "examples" / "project"


def test_the_example_project_finds_its_flows_with_no_file_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WEIR_HOME", str(tmp_path))
    settings = Settings.from_env(cwd=PROJECT)
    ctx = Context.of(settings, via="cli")
    registered = sync(ctx, shared_registrar(settings.project_root, settings.registrar_timeout))
    assert settings.flows_dirs == ((PROJECT / "flows").resolve(),)
    assert registered is not None and registered.errors == {}
    assert sorted(registered.flows) == ["daily_report", "orders"]
    with ctx.store.read() as conn:
        assert file_problems(conn) == []
        daily, orders = get_snapshot(conn, "daily_report"), get_snapshot(conn, "orders")
    assert daily.schedule_spec is not None and daily.schedule_spec.timetable is not None
    assert orders.schedule_spec is not None
    assert [e.name for e in orders.schedule_spec.events] == ["orders.arrived"]
    assert daily.code.target == "flows/daily_report.py"  # relative to the project root


def test_the_order_flow_books_a_valid_order_and_refuses_a_bad_amount(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WEIR_HOME", str(tmp_path))
    orders = load_flow(f"{PROJECT / 'flows' / 'orders.py'}:orders")
    ok = orders.run(executor="inline", order_id=42, amount=19.9)
    assert ok.state == "success" and ok.result() == "booked order 42 for 19.90"
    bad = orders.run(executor="inline", order_id=7, amount=0)
    assert bad.state == "failed"
    assert "amount must be positive" in (bad.tries("validate")[-1].error or "")


def test_the_daily_report_runs_by_hand_without_a_data_interval(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WEIR_HOME", str(tmp_path))
    run = load_flow(f"{PROJECT / 'flows' / 'daily_report.py'}:daily_report").run(executor="inline")
    assert run.state == "success"
    assert run.result()["status"] == "ok"
