"""Fixtures for the CLI tests: a private WEIR_HOME and a ``weir`` runner in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FLOWS = '''
import weir
from pathlib import Path


@weir.task
def numbers(n: int) -> list[int]:
    print(f"making {n} numbers")
    return list(range(n))


@weir.task
def square(x: int) -> int:
    print(f"squaring {x}")
    return x * x


@weir.task
def total(xs: list[int]) -> int:
    return sum(xs)


@weir.flow
def squares(n: int = 3) -> int:
    """Sum of the squares below n.

    More text that is not the first line.
    """
    return total(square.map(numbers(n)))


@weir.task
def shout(names: list[str], loud: bool = False) -> str:
    text = ", ".join(names)
    print("shouting", text)
    return text.upper() if loud else text


@weir.flow
def greet(names: list[str], loud: bool = False) -> str:
    return shout(names, loud)


@weir.task(retries=2)
def flaky(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("tried")
        print("first try fails")
        raise RuntimeError("not this time")
    print("second try works")
    return "ok"


@weir.flow
def retrying(marker: str) -> str:
    return flaky(marker)


@weir.task
def explode(x: int) -> int:
    print("about to explode")
    raise ValueError(f"cannot take {x}")


@weir.task
def after(x: int) -> int:
    return x


@weir.flow
def failing(x: int = 7) -> int:
    return after(explode(x))
'''


class Result:
    """What a ``weir`` process did: exit code, stdout, stderr."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"<exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}>"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def database_url() -> str | None:
    """The store the ``weir`` processes use: None, SQLite at ``WEIR_HOME/weir.db`` as users get it.

    The CLI is thin (it parses, calls ``weir.control``, prints): the store and control suites and
    the end-to-end tests run on PostgreSQL too, so the CLI's many processes run on SQLite only.
    Return a PostgreSQL URL here to run them on PostgreSQL.
    """
    return None


@pytest.fixture
def weir_env(home: Path, database_url: str | None) -> dict[str, str]:
    """The environment the ``weir`` fixture runs its processes with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    env.update({"WEIR_HOME": str(home), "WEIR_WORKERS": "2", "NO_COLOR": "1", "COLUMNS": "200"})
    if database_url is not None:
        env["WEIR_DATABASE_URL"] = database_url
    return env


@pytest.fixture
def weir(tmp_path: Path, weir_env: dict[str, str]) -> Callable[..., Result]:
    """Run ``python -m weir ARGS`` in ``tmp_path`` with its own WEIR_HOME (and store)."""

    def run(*args: str, timeout: float = 120) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "weir", *args],
            cwd=tmp_path,
            env=weir_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(proc)

    return run


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    """A flow file with the flows the CLI tests use."""
    path = tmp_path / "flows.py"
    path.write_text(textwrap.dedent(FLOWS))
    return path


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """``write_file("bad.py", source)``: a file in tmp_path with dedented ``source``."""

    def write(name: str, source: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    return write


PROJECT_FLOWS = '''
import time
from pathlib import Path

import weir


@weir.task
def stamp(label: str = "x") -> str:
    ctx = weir.context()
    return f"{label}@{ctx.logical_date}"


@weir.flow(schedule="@daily", max_active_runs=2)
def daily_etl(label: str = "etl") -> str:
    """A daily flow, backfilled in the tests."""
    return stamp(label)


@weir.flow(schedule=weir.every(seconds=1), catchup=True)
def ticking() -> str:
    return stamp("tick")


@weir.task
def take(order: int) -> int:
    return order * 2


@weir.flow(schedule=weir.on_event("orders"))
def on_orders(order: int) -> int:
    return take(order)


@weir.flow(schedule=weir.on_event("orders"))
def audit_orders(order: int, note: str = "") -> int:
    return take(order)


@weir.flow
def manual(n: int = 1) -> int:
    return take(n)


@weir.task
def fragile(marker: str) -> str:
    if not Path(marker).exists():
        raise RuntimeError("the marker is missing")
    return "fixed"


@weir.task
def report(value: str) -> str:
    return value.upper()


@weir.flow
def breaks(marker: str) -> str:
    return report(fragile(marker))


@weir.task(retries=1)  # a try lost with its process counts against the retries
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@weir.flow
def sleepy(seconds: float = 30.0) -> float:
    return nap(seconds)


@weir.flow(schedule="@daily", max_active_runs=1)
def slow_daily(seconds: float = 1.0) -> float:
    return nap(seconds)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project in tmp_path: weir.toml with ``flows = ["flows/"]`` and a flow file there."""
    (tmp_path / "weir.toml").write_text('[weir]\nflows = ["flows/"]\n')
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "etl.py").write_text(textwrap.dedent(PROJECT_FLOWS))
    return tmp_path


@pytest.fixture
def store_runs(home: Path, database_url: str | None) -> Callable[[], list[dict[str, Any]]]:
    """``store_runs()``: every run in the test's store (read directly, no weir process), oldest
    first, with values as SQLite gives them (JSON and times as text) on either store."""

    def read() -> list[dict[str, Any]]:
        if database_url is not None:
            return _postgres_runs(database_url)
        import sqlite3

        db = home / "weir.db"
        if not db.exists():
            return []
        conn = sqlite3.connect(db, timeout=10)
        try:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM runs ORDER BY id").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # the store is being made right now
                return []
            raise
        finally:
            conn.close()
        return [dict(row) for row in rows]

    return read


def _postgres_runs(url: str) -> list[dict[str, Any]]:
    from datetime import datetime

    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("runs"):
                return []
            rows = conn.execute(text("SELECT * FROM runs ORDER BY id")).mappings().all()
    finally:
        engine.dispose()

    def as_text(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")
        if isinstance(value, dict | list):
            return json.dumps(value)
        return value

    return [{key: as_text(value) for key, value in row.items()} for row in rows]


@pytest.fixture
def spawn(tmp_path: Path, weir_env: dict[str, str]) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``spawn(*args)``: a ``weir`` process in the background (killed at the end if still running)."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "weir", *args],
            cwd=tmp_path,
            env=weir_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """``wait_for(condition, timeout=30, what=...)``: poll until ``condition()`` is truthy; return it."""
    return _wait_for
