"""Fixtures for the server tests: a flow file, finished runs in the store, and a test client."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FLOWS = '''
from pathlib import Path

import weir


@weir.task
def make(n: int) -> list[int]:
    print(f"making {n} numbers")
    return list(range(n))


@weir.task
def square(x: int) -> int:
    return x * x


@weir.task
def total(xs: list[int], label: str) -> int:
    print(f"total for {label}: <b>{sum(xs)}</b>")
    return sum(xs)


@weir.task
def check(value: int, fail: bool) -> int:
    print("checking", value)
    if fail:
        raise ValueError("check failed: <script>alert(1)</script>")
    return value


@weir.flow
def numbers(n: int = 3, label: str = "sum", fail: bool = False) -> int:
    """Sum of squares below n, checked."""
    return check(total(square.map(make(n)), label), fail)


@weir.task
def prepare(rows: int) -> int:
    print(f"preparing {rows} rows")
    return rows


@weir.task
def fragile(rows: int) -> int:
    """Fails while a file named FAIL sits next to the flow file."""
    print(f"loading {rows} rows")
    if (Path(__file__).parent / "FAIL").exists():
        raise RuntimeError(f"the warehouse refused {rows} rows")
    return rows


@weir.flow
def flaky(rows: int = 10) -> int:
    """Load rows into a warehouse that sometimes refuses them."""
    return fragile(prepare(rows))


@weir.task
def hello_task(name: str) -> str:
    print("hello", name)
    return name


@weir.flow
def hello(name: str = "world") -> str:
    """Say hello."""
    return hello_task(name)
'''


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "flows" / "server_flows.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(FLOWS))
    return path


@pytest.fixture
def settings(store_url: str) -> Any:
    from weir.settings import Settings

    return Settings.from_env(executor="inline")


@pytest.fixture
def load(flow_file: Path) -> Callable[[str], Any]:
    """Load a flow of the flow file by name."""
    from weir.sdk.loader import load_flow

    return lambda name: load_flow(f"{flow_file}:{name}")


@pytest.fixture
def run_flow(load: Callable[[str], Any], settings: Any) -> Callable[..., Any]:
    """Run a flow of the flow file to the end, inline; returns the Run."""

    def run(flow_name: str = "numbers", /, **params: Any) -> Any:
        return load(flow_name).run(executor="inline", **params)

    return run


@pytest.fixture
def app(settings: Any) -> Any:
    from weir.server import create_app

    return create_app(settings)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def drive(settings: Any) -> Callable[[int], Any]:
    """Drive a queued run to the end in this process (what the scheduler will do)."""

    def drive_run(run_id: int) -> Any:
        from weir.control.context import Context
        from weir.executors.registry import executor_for, release
        from weir.runs import drive, get_run

        executor = executor_for(settings)
        try:
            drive(Context.of(settings, via="python"), run_id, executor)
        finally:
            release(executor)
        return get_run(run_id, settings)

    return drive_run


def register_project(settings: Any) -> None:
    """Register the flow files of ``settings``' project, as a scheduler does when it starts."""
    from weir.control.context import Context
    from weir.control.flows import sync
    from weir.worker.registrar import shared_registrar

    registrar = shared_registrar(settings.project_root, settings.registrar_timeout)
    sync(Context.of(settings, via="python"), registrar)


@pytest.fixture
def register() -> Callable[[Any], None]:
    """Register the flow files of a project's settings (see :func:`register_project`)."""
    return register_project


EVENT_FLOWS = """
import weir


@weir.task
def count(n: int) -> int:
    return n


@weir.flow(schedule=weir.on_event("orders.arrived"))
def orders(n: int) -> int:
    return count(n)


@weir.flow(schedule=[weir.on_event("orders.arrived"), weir.on_event("orders.late")])
def audit(n: int = 0) -> int:
    return count(n)
"""


@pytest.fixture
def event_settings(tmp_path: Path, store_url: str) -> Any:
    """Settings whose flow folder holds two flows listening to ``orders.arrived``, registered."""
    from weir.settings import Settings

    folder = tmp_path / "event_flows"
    folder.mkdir()
    (folder / "orders.py").write_text(textwrap.dedent(EVENT_FLOWS))
    settings = Settings.from_env(executor="inline", flows_dirs=(folder,))
    register_project(settings)
    return settings


@pytest.fixture
def event_client(event_settings: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from weir.server import create_app

    with TestClient(create_app(event_settings)) as test_client:
        yield test_client


PROJECT_FLOWS = """
import weir


@weir.task
def extract() -> int:
    print("extracting")
    return 1


@weir.flow(tags=["etl", "nightly"], schedule="@daily")
def etl() -> int:
    \"\"\"Extract every night.\"\"\"
    return extract()


@weir.task(pool="db")
def query() -> int:
    print("querying")
    return 2


@weir.flow(tags=["db"])
def report() -> int:
    return query()


@weir.flow
def greet(name: str = "you") -> int:
    \"\"\"Never scheduled, never run: registered all the same.\"\"\"
    return extract()
"""

BROKEN_FLOWS = """
raise RuntimeError("this flow file does not load")
"""


@pytest.fixture
def project_settings(tmp_path: Path, store_url: str) -> Any:
    """Settings of a project whose flow files are registered (as a scheduler registers them):
    ``etl`` (tagged etl and nightly, scheduled), ``report`` (tagged db, its task in pool ``db``,
    which does not exist yet), ``greet`` (not scheduled, never run), and a file that does not load."""
    from weir.settings import Settings

    folder = tmp_path / "project_flows"
    folder.mkdir()
    (folder / "project.py").write_text(textwrap.dedent(PROJECT_FLOWS))
    (folder / "broken.py").write_text(textwrap.dedent(BROKEN_FLOWS))
    settings = Settings.from_env(executor="inline", flows_dirs=(folder,))
    register_project(settings)
    return settings


@pytest.fixture
def project_client(project_settings: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from weir.server import create_app

    with TestClient(create_app(project_settings)) as test_client:
        yield test_client
