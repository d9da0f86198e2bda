"""``weir logs RUN TASK --follow``: prints a running try's log as it is written, ends with the try."""

from __future__ import annotations

import queue
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

SLOW = """
import time
from pathlib import Path

import weir


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@weir.task
def talk(folder: str) -> str:
    wait_for(Path(folder) / "start")  # nothing written yet: the log file does not exist
    print("first line")
    wait_for(Path(folder) / "go")
    time.sleep(0.3)
    print("second line")
    return "done"


@weir.flow
def slow(folder: str) -> str:
    return talk(folder)
"""


def _weir(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "weir", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


@pytest.mark.parametrize("executor", ["local", "inline"])
def test_follow_prints_new_output_while_the_try_runs_and_ends_with_it(
    weir, tmp_path: Path, weir_env: dict[str, str], executor: str
) -> None:
    (tmp_path / "flows.py").write_text(textwrap.dedent(SLOW))
    gates = tmp_path / "gates"
    gates.mkdir()
    runner = _weir(tmp_path, weir_env, "run", "flows.py:slow", "-p", f"folder={gates}", "-e", executor)
    follower = None
    try:
        deadline = time.monotonic() + 60
        while weir("runs", "show", "1", "--json").code != 0:
            assert time.monotonic() < deadline and runner.poll() is None, runner.communicate()
            time.sleep(0.1)
        follower = _weir(tmp_path, weir_env, "logs", "1", "talk", "--follow")
        lines = _lines(follower)
        time.sleep(0.5)
        assert follower.poll() is None  # waiting for a file that does not exist yet

        (gates / "start").touch()
        assert lines.get(timeout=30) == "first line\n"
        time.sleep(0.5)
        assert follower.poll() is None  # the try still runs: the follower waits for more
        assert lines.empty()

        (gates / "go").touch()
        assert follower.wait(timeout=30) == 0
        assert lines.get(timeout=5) == "second line\n"
        assert runner.wait(timeout=60) == 0
    finally:
        for proc in (runner, follower):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()

    done = weir("logs", "1", "talk", "--follow")  # an ended try: the whole log, then exit
    assert done.code == 0
    assert done.out == "first line\nsecond line\n"
