"""Health, metrics, events, the API docs page, the OpenAPI schema and ``weir api``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any


def test_health_says_the_store_answers_and_how_old_the_scheduler_heartbeat_is(
    client: Any, settings: Any
) -> None:
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["store"] == {"reachable": True, "error": None}
    assert body["scheduler_heartbeat_age"] is None

    from weir.store import owners
    from weir.store.records import OwnerRecord
    from weir.store.store import open_store

    now = datetime.now(UTC)
    with open_store(settings.database_url).transaction() as conn:
        owners.register(
            conn,
            OwnerRecord(
                id="sched-1",
                host="h",
                pid=1,
                kind="scheduler",
                started_at=now,
                heartbeat_at=now - timedelta(seconds=7),
                lease_expires_at=now + timedelta(seconds=8),
            ),
        )
    body = client.get("/api/v1/health").json()
    assert 6.5 < body["scheduler_heartbeat_age"] < 60
    assert (body["status"], body["problems"]) == ("ok", [])
    assert body["drivers"][0]["id"] == "sched-1"


def test_health_is_degraded_when_the_newest_scheduler_heartbeat_is_stale(client: Any, settings: Any) -> None:
    from weir.store import owners
    from weir.store.records import OwnerRecord
    from weir.store.store import open_store

    now = datetime.now(UTC)
    with open_store(settings.database_url).transaction() as conn:
        owners.register(
            conn,
            OwnerRecord(
                id="sched-stuck",
                host="h",
                pid=1,
                kind="scheduler",
                started_at=now - timedelta(minutes=5),
                heartbeat_at=now - timedelta(seconds=120),
                lease_expires_at=now - timedelta(seconds=105),
            ),
        )

    response = client.get("/api/v1/health")
    body = response.json()
    assert response.status_code == 200  # the API still serves; the scheduler is what is wrong
    assert body["status"] == "degraded"
    assert 119 < body["scheduler_heartbeat_age"] < 200
    assert "the newest scheduler heartbeat is 12" in body["problems"][0]
    assert body["drivers"] == []  # its lease ran out: not a live driver


def test_health_is_a_503_when_the_store_does_not_answer(tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from weir.server import create_app
    from weir.settings import Settings

    bad = Settings.from_env(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    with TestClient(create_app(bad)) as client:
        response = client.get("/api/v1/health")
        assert response.status_code == 503
        assert response.json()["store"]["reachable"] is False
        assert client.get("/api/v1/runs").status_code == 503


def test_metrics_count_runs_and_task_runs_by_flow_and_state(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run_flow("numbers", n=2)
    run_flow("numbers", fail=True)
    client.post("/api/v1/flows/numbers/runs", json={})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'weir_runs{flow="numbers",state="success"} 1.0' in text
    assert 'weir_runs{flow="numbers",state="failed"} 1.0' in text
    assert 'weir_runs{flow="numbers",state="queued"} 1.0' in text
    assert 'weir_task_runs{flow="numbers",state="failed"} 1.0' in text
    assert 'weir_task_duration_seconds_count{flow="numbers"}' in text
    assert 'weir_task_duration_seconds_bucket{flow="numbers",le="+Inf"}' in text
    assert "weir_queue_depth 0.0" in text
    assert "weir_runs_queued 1.0" in text
    assert "weir_running_tasks 0.0" in text


def test_the_openapi_schema_and_the_docs_page_are_served_from_the_server(client: Any) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/api/v1/flows",
        "/api/v1/flows/{name}",
        "/api/v1/flows/{name}/runs",
        "/api/v1/flows/{name}/pause",
        "/api/v1/flows/{name}/unpause",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/cancel",
        "/api/v1/runs/{run_id}/retry",
        "/api/v1/runs/{run_id}/clear",
        "/api/v1/runs/{run_id}/tasks",
        "/api/v1/runs/{run_id}/tasks/{task_id}/tries",
        "/api/v1/runs/{run_id}/tasks/{task_id}/tries/{number}/log",
        "/api/v1/health",
    } <= paths
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/api/v1/runs/{run_id}/cancel" in page.text
    assert "http://" not in page.text and "https://" not in page.text


def test_unknown_api_paths_and_methods_are_json_errors(client: Any) -> None:
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    response = client.delete("/api/v1/runs")
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"


def test_import_weir_and_the_cli_module_do_not_import_fastapi() -> None:
    code = (
        "import sys, weir, weir.cli.server; "
        "heavy = ('fastapi', 'starlette', 'uvicorn', 'jinja2', 'prometheus_client'); "
        "bad = [m for m in heavy if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_weir_api_has_host_and_port_options() -> None:
    import typer
    from typer.testing import CliRunner

    from weir.cli.server import register

    app = typer.Typer()
    register(app)

    @app.command("other")
    def _other() -> None:  # a second command, so Typer keeps `api` as a subcommand
        pass

    result = CliRunner().invoke(app, ["api", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output
    assert "8642" in result.output and "127.0.0.1" in result.output


def test_health_says_which_drivers_hold_their_lease(client: Any, settings: Any) -> None:
    from weir.store import owners
    from weir.store.records import OwnerRecord
    from weir.store.store import open_store

    now = datetime.now(UTC)
    with open_store(settings.database_url).transaction() as conn:
        for owner_id, lease in (("sched-live", timedelta(seconds=10)), ("run-gone", timedelta(seconds=-5))):
            owners.register(
                conn,
                OwnerRecord(
                    id=owner_id,
                    host="h",
                    pid=1,
                    kind="scheduler" if owner_id.startswith("sched") else "run",
                    started_at=now - timedelta(minutes=1),
                    heartbeat_at=now - timedelta(seconds=20),
                    lease_expires_at=now + lease,
                ),
            )

    drivers = {d["id"]: d for d in client.get("/api/v1/health").json()["drivers"]}
    metrics = client.get("/metrics").text

    assert drivers["sched-live"]["alive"] is True
    assert "run-gone" not in drivers  # only drivers that hold a lease are listed
    assert 'weir_drivers_alive{kind="scheduler"} 1.0' in metrics
    assert 'weir_drivers_alive{kind="run"}' not in metrics
