"""The scheduler, the engine, the API and the CLI never import user code: only the registrar and
the workers do. A flow file records every process that imports it (its pid and its role); with
``weir server`` running, the flow is registered, triggered, retried, cleared, cancelled and
backfilled through the API and the CLI, and the record holds registrar and worker processes only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

FLOW = """
import os
import sys
import time

import __main__

import weir

HERE = os.path.dirname(os.path.abspath(__file__))
_role = getattr(getattr(__main__, "__spec__", None), "name", None) or os.path.basename(sys.argv[0])
with open(os.path.join(HERE, "..", "imports.txt"), "a") as _f:
    _f.write(f"{os.getpid()} {_role}\\n")


@weir.task
def step(x: int, wait: float) -> int:
    if os.path.exists(os.path.join(HERE, "..", "fail.flag")):
        raise RuntimeError("told to fail")
    time.sleep(wait)
    return x + 1


@weir.task
def finish(y: int) -> int:
    return y * 2


@weir.flow(schedule="@daily", max_active_runs=4)
def marked(x: int = 1, wait: float = 0.0) -> int:
    return finish(step(x, wait))
"""

#: The processes allowed to import user code.
ROLES = {"weir.worker.registrar", "weir.worker.process"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Path:
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (root / "weir.toml").write_text('[weir]\nflows = ["flows/"]\n', encoding="utf-8")
    (root / "flows" / "marked.py").write_text(FLOW, encoding="utf-8")
    return root


@pytest.fixture
def server(project: Path) -> Iterator[str]:
    port = _free_port()
    weir_bin = Path(sys.executable).parent / "weir"
    proc = subprocess.Popen(
        [str(weir_bin), "server", "--port", str(port)],
        cwd=project,
        env={**os.environ, "WEIR_WORKERS": "2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"weir server did not answer: {proc.communicate()[1]}")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    weir_bin = Path(sys.executable).parent / "weir"
    return subprocess.run([str(weir_bin), *args], cwd=project, capture_output=True, text=True, timeout=120)


def _wait_run(base: str, run_id: int, states: set[str], within: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        run = httpx.get(f"{base}/api/v1/runs/{run_id}", timeout=5).json()
        if run["state"] in states:
            return run  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not reach {states}: {run}")


def test_only_the_registrar_and_workers_import_user_code(project: Path, server: str) -> None:
    registered = _cli(project, "flows", "register")
    assert registered.returncode == 0, registered.stderr
    assert any(f["name"] == "marked" for f in httpx.get(f"{server}/api/v1/flows", timeout=5).json()["items"])

    # Trigger through the API and the CLI; both runs succeed on the server's workers.
    made = httpx.post(f"{server}/api/v1/flows/marked/runs", json={"params": {"x": 2}}, timeout=10)
    assert made.status_code == 201, made.text
    by_api = made.json()["id"]
    queued = _cli(project, "trigger", "marked", "-p", "x=3", "--json")
    assert queued.returncode == 0, queued.stderr
    by_cli = json.loads(queued.stdout)["id"]
    assert _wait_run(server, by_api, {"success"})["state"] == "success"
    assert _wait_run(server, by_cli, {"success"})["state"] == "success"

    # A failing run, retried through the API, then cleared through the CLI.
    (project / "fail.flag").write_text("1")
    failing = httpx.post(f"{server}/api/v1/flows/marked/runs", json={"params": {"x": 4}}, timeout=10).json()[
        "id"
    ]
    assert _wait_run(server, failing, {"failed"})["state"] == "failed"
    (project / "fail.flag").unlink()
    assert httpx.post(f"{server}/api/v1/runs/{failing}/retry", timeout=10).status_code == 200
    assert _wait_run(server, failing, {"success"})["state"] == "success"
    cleared = _cli(project, "runs", "clear", str(failing), "-t", "step", "--downstream", "--json")
    assert cleared.returncode == 0, cleared.stderr
    assert _wait_run(server, failing, {"success"})["state"] == "success"

    # Cancel a slow run through the API, another through the CLI.
    for how in ("api", "cli"):
        slow = httpx.post(
            f"{server}/api/v1/flows/marked/runs", json={"params": {"x": 5, "wait": 30}}, timeout=10
        ).json()["id"]
        _wait_run(server, slow, {"running"})
        if how == "api":
            assert httpx.post(f"{server}/api/v1/runs/{slow}/cancel", timeout=10).status_code == 202
        else:
            assert _cli(project, "runs", "cancel", str(slow)).returncode == 0
        assert _wait_run(server, slow, {"cancelled"})["state"] == "cancelled"

    # A backfill driven by the CLI process (its tries run on its own workers).
    backfilled = _cli(project, "backfill", "marked", "-s", "2024-01-01", "-e", "2024-01-02", "--json")
    assert backfilled.returncode == 0, backfilled.stderr + backfilled.stdout

    lines = (project / "imports.txt").read_text().split("\n")
    roles = {line.split(" ", 1)[1] for line in lines if line.strip()}
    assert roles and roles <= ROLES, f"user code was imported by {roles - ROLES}"
    assert "weir.worker.registrar" in roles and "weir.worker.process" in roles
