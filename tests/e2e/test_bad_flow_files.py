"""Bad input, end to end (issue 8): with ``weir server`` running on a project, flow files that hang,
exit or fail at import each get their own error while the server keeps answering and the good flow
beside them runs; and a worker that cannot import the code a snapshot names fails the try with
"cannot import ...", the task's retries apply, and the server goes on serving."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

GOOD = """
import weir


@weir.task
def add(x: int) -> int:
    return x + 1


@weir.flow
def good(x: int = 1) -> int:
    return add(x)
"""

BAD = {
    "exits.py": "import os\n\nos._exit(3)\n",
    "quits.py": "import sys\n\nsys.exit(1)\n",
    "missing.py": "import weir\nimport no_such_module_for_weir_tests\n",
}
HANGS = "while True:\n    pass\n"

FRAGILE = """
import weir


@weir.task(retries={retries})
def work() -> int:
    return 1


@weir.flow
def {name}() -> int:
    return work()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Path:
    """A project whose flow files may take 2 s to import (``store_url`` is WEIR_DATABASE_URL)."""
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (root / "weir.toml").write_text('[weir]\nflows = ["flows/"]\nregistrar_timeout = 2\n', encoding="utf-8")
    return root


@pytest.fixture
def start_server(project: Path) -> Iterator[Callable[[], str]]:
    """``start_server()`` runs ``weir server`` on the project and returns its base URL."""
    procs: list[subprocess.Popen[str]] = []

    def start() -> str:
        port = _free_port()
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "weir"), "server", "--port", str(port), "--grace", "1"],
            cwd=project,
            env={**os.environ, "WEIR_WORKERS": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                time.sleep(0.1)
        proc.kill()
        pytest.fail(f"weir server did not answer: {proc.communicate()[1]}")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait(check: Callable[[], Any], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {within} s waiting for {what}")


def _errors(base: str) -> dict[str, str]:
    items = httpx.get(f"{base}/api/v1/flows/errors", timeout=5).json()["items"]
    return {Path(item["path"]).name: item["error"] for item in items if item["path"]}


def _flows(base: str) -> set[str]:
    return {f["name"] for f in httpx.get(f"{base}/api/v1/flows", timeout=5).json()["items"]}


def _ended_run(base: str, run_id: int, within: float = 20) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        run: dict[str, Any] = httpx.get(f"{base}/api/v1/runs/{run_id}", timeout=5).json()
        return run if run["state"] in {"success", "failed", "cancelled"} else None

    return _wait(ended, within, f"run {run_id} to end")  # type: ignore[no-any-return]


def test_flow_files_that_hang_exit_or_fail_get_their_own_errors_and_the_server_keeps_serving(
    project: Path, start_server: Callable[[], str]
) -> None:
    flows = project / "flows"
    (flows / "good.py").write_text(GOOD, encoding="utf-8")
    for name, text in BAD.items():
        (flows / name).write_text(text, encoding="utf-8")
    base = start_server()
    assert _wait(lambda: set(_errors(base)) == set(BAD), 10, "the three files' errors")
    assert "good" in _flows(base)

    # A file that hangs at import: while the registrar reads it (2 s, then it is stopped), the
    # server answers at once, and takes a run of the good flow.
    (flows / "hangs.py").write_text(HANGS, encoding="utf-8")
    written = time.monotonic()
    answers: list[float] = []
    run_id = None
    while "hangs.py" not in _errors(base):
        asked = time.monotonic()
        assert httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200
        answers.append(time.monotonic() - asked)
        if run_id is None:
            made = httpx.post(f"{base}/api/v1/flows/good/runs", json={"params": {"x": 41}}, timeout=1)
            assert made.status_code == 201, made.text
            run_id = made.json()["id"]
        assert time.monotonic() - written < 12, "the hanging file was not reported"
        time.sleep(0.05)
    assert time.monotonic() - written >= 2  # the registrar gave the file its 2 s
    assert len(answers) >= 10 and max(answers) < 1.0

    errors = _errors(base)
    assert "took longer than 2 s (registrar_timeout); it was stopped" in errors["hangs.py"]
    assert "ended the process while it was imported (exit code 3)" in errors["exits.py"]
    assert "importing the flow file raised SystemExit: 1" in errors["quits.py"]
    assert "ModuleNotFoundError: No module named 'no_such_module_for_weir_tests'" in errors["missing.py"]
    assert run_id is not None
    assert _ended_run(base, run_id)["state"] == "success"
    assert (
        httpx.get(f"{base}/api/v1/runs/{run_id}/tasks/add/tries", timeout=5).json()["items"][0]["state"]
        == "success"
    )
    assert httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200


def test_a_worker_that_cannot_import_the_code_fails_the_try_and_the_retries_apply(
    project: Path, start_server: Callable[[], str]
) -> None:
    flows = project / "flows"
    (flows / "fragile.py").write_text(FRAGILE.format(retries=2, name="fragile"), encoding="utf-8")
    (flows / "renamed.py").write_text(FRAGILE.format(retries=1, name="renamed"), encoding="utf-8")
    base = start_server()
    assert _wait(lambda: {"fragile", "renamed"} <= _flows(base), 10, "the flows to be registered")

    # The stored snapshots name code that is no longer there: a syntax error, a renamed flow.
    (flows / "fragile.py").write_text("import weir\n\ndef broken(:\n", encoding="utf-8")
    (flows / "renamed.py").write_text(FRAGILE.format(retries=1, name="now_called_this"), encoding="utf-8")
    made = {
        name: httpx.post(f"{base}/api/v1/flows/{name}/runs", json={}, timeout=5).json()["id"]
        for name in ("fragile", "renamed")
    }

    for name, retries in (("fragile", 2), ("renamed", 1)):
        run = _ended_run(base, made[name])
        assert run["state"] == "failed", run
        tries = httpx.get(f"{base}/api/v1/runs/{made[name]}/tasks/work/tries", timeout=5).json()["items"]
        assert [(t["number"], t["state"]) for t in tries] == [
            *((n, "up_for_retry") for n in range(1, retries + 1)),
            (retries + 1, "failed"),
        ]
        for t in tries:
            assert t["error"].startswith(f"cannot import flows/{name}.py: "), t["error"]
    assert "syntax error" in tries_error(base, made["fragile"])
    assert "it has no flow named 'renamed'" in tries_error(base, made["renamed"])

    assert httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200
    errors = _wait(lambda: _errors(base).get("fragile.py"), 10, "the broken file's error")
    assert "syntax error" in errors
    assert _wait(lambda: "now_called_this" in _flows(base), 10, "the renamed flow to be registered")


def tries_error(base: str, run_id: int) -> str:
    tries = httpx.get(f"{base}/api/v1/runs/{run_id}/tasks/work/tries", timeout=5).json()["items"]
    return str(tries[-1]["error"])
