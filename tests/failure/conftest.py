"""Helpers for the failure-handling tests: flow files written into ``tmp_path``, a side-effect
file their tasks append to, and a flow run in a process of its own (which a test can kill).

Flows live in real files (not in the test module) so another process can load them again,
as ``weir runs resume`` does after a crash. Every flow file starts with :data:`PRELUDE`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

#: Put at the top of every flow file: ``mark(name)`` appends a line to ``side.txt`` beside the
#: file (one line per call of a task's code), ``count(name)`` reads how many there are.
PRELUDE = """\
import os
import time

import weir

SIDE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "side.txt")


def mark(name):
    with open(SIDE, "a", encoding="utf-8") as f:
        f.write(name + "\\n")


def count(name):
    try:
        with open(SIDE, encoding="utf-8") as f:
            return sum(1 for line in f if line.strip() == name)
    except FileNotFoundError:
        return 0
"""

#: Runs ``FILE.py:FLOW`` on the local executor; prints the run id as soon as it exists, then
#: the final state.
RUNNER = """\
import sys
from weir.runs import run_flow
from weir.sdk.loader import load_flow

flow = load_flow(sys.argv[1])
run = run_flow(flow, {}, executor="local", on_created=lambda run_id: print(run_id, flush=True))
print(run.state, flush=True)
"""


@pytest.fixture
def flow_file(tmp_path: Path) -> Callable[..., str]:
    """``flow_file(source, name="flows.py")`` writes PRELUDE + ``source`` and returns its path."""

    def write(source: str, name: str = "flows.py") -> str:
        path = tmp_path / name
        # The folder in the text makes every file's version its own: two files with the same
        # text share a flow version, and workers mix them up (see test_flow_identity.py).
        header = f"# written for {tmp_path}\n"
        path.write_text(header + PRELUDE + "\n\n" + textwrap.dedent(source), encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def side_effects(tmp_path: Path) -> Callable[[], Counter[str]]:
    """``side_effects()`` counts the lines of ``side.txt``: how many times each task's code ran."""

    def read() -> Counter[str]:
        path = tmp_path / "side.txt"
        if not path.exists():
            return Counter()
        return Counter(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line)

    return read


@pytest.fixture
def one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A local pool of one worker process (its own pool, apart from the default-sized one)."""
    monkeypatch.setenv("WEIR_WORKERS", "1")


class RunProcess:
    """A flow run driven by another Python process (see :data:`RUNNER`)."""

    def __init__(self, target: str, env: dict[str, str] | None = None) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-c", RUNNER, target],
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_id(self, timeout: float = 20.0) -> int:
        """The id the process printed when it created its run."""
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        if not line.strip().isdigit():
            self.popen.wait(timeout)
            pytest.fail(f"the run process printed {line!r}; stderr:\n{self.stderr()}")
        return int(line)

    def wait(self, timeout: float = 30.0) -> int:
        return self.popen.wait(timeout)

    def stderr(self) -> str:
        assert self.popen.stderr is not None
        if self.popen.poll() is None:
            return "(still running)"
        return self.popen.stderr.read()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(10)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def run_process() -> Iterator[Callable[..., RunProcess]]:
    """``run_process("FILE.py:FLOW", env={...})`` starts a driving process; all are killed at the end."""
    started: list[RunProcess] = []

    def start(target: str, env: dict[str, str] | None = None) -> RunProcess:
        proc = RunProcess(target, env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "the condition") -> Any:
    """Poll ``check`` every 20 ms until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def poll() -> Callable[..., Any]:
    """:func:`wait_for` as a fixture."""
    return wait_for


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def alive() -> Callable[[int], bool]:
    """:func:`pid_alive` as a fixture."""
    return pid_alive
