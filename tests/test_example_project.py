"""The example project (examples/project): its flows load from weir.toml and run."""

from __future__ import annotations

from pathlib import Path

import pytest

from weir.sdk.discovery import Discovery
from weir.settings import Settings

PROJECT = Path(__file__).resolve().parents[1] / "examples" / "project"


def test_the_example_project_finds_its_flows_with_no_file_errors() -> None:
    settings = Settings.from_env(cwd=PROJECT)
    discovery = Discovery(settings.flows_dirs)
    discovery.refresh()
    assert settings.flows_dirs == ((PROJECT / "flows").resolve(),)
    assert discovery.errors == {}
    assert sorted(discovery.flows) == ["daily_report", "orders"]
    assert discovery.flows["daily_report"].schedule_spec.timetable is not None
    assert [e.name for e in discovery.flows["orders"].schedule_spec.events] == ["orders.arrived"]


def test_the_order_flow_books_a_valid_order_and_refuses_a_bad_amount(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WEIR_HOME", str(tmp_path))
    discovery = Discovery([PROJECT / "flows"])
    discovery.refresh()
    orders = discovery.flows["orders"]
    ok = orders.run(executor="inline", order_id=42, amount=19.9)
    assert ok.state == "success" and ok.result() == "booked order 42 for 19.90"
    bad = orders.run(executor="inline", order_id=7, amount=0)
    assert bad.state == "failed"
    assert "amount must be positive" in (bad.tries("validate")[-1].error or "")


def test_the_daily_report_runs_by_hand_without_a_data_interval(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WEIR_HOME", str(tmp_path))
    discovery = Discovery([PROJECT / "flows"])
    discovery.refresh()
    run = discovery.flows["daily_report"].run(executor="inline")
    assert run.state == "success"
    assert run.result()["status"] == "ok"
