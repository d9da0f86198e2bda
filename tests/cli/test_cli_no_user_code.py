"""No command but ``weir run`` imports a flow file in its own process: the registrar (a process
of its own) reads flow files, workers run their tasks, and every other command works from the
stored snapshots."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

MARKED = """
import os
from pathlib import Path

import weir

with (Path(__file__).resolve().parent.parent / "imports.txt").open("a") as marker:
    marker.write(f"{os.getpid()}\\n")


@weir.task
def step(n: int) -> int:
    return n


@weir.flow(schedule="@daily")
def marked(n: int = 1) -> int:
    return step(n)


@weir.flow(schedule=weir.on_event("marks"))
def on_marks(n: int = 1) -> int:
    return step(n)
"""

COMMANDS = [
    ["flows", "register"],
    ["flows", "list"],
    ["flows", "show", "marked"],
    ["flows", "show", "flows/marked.py:marked"],
    ["flows", "next", "marked"],
    ["flows", "errors"],
    ["trigger", "marked", "-p", "n=2"],
    ["pause", "marked"],
    ["unpause", "marked"],
    ["events", "send", "marks", "--payload", '{"n": 3}'],
    ["backfill", "marked", "-s", "2024-01-01", "-e", "2024-01-02", "--dry-run"],
    ["backfill", "marked", "-s", "2024-01-01", "-e", "2024-01-02", "-p", "n=4"],
    ["runs", "show", "1"],
    ["runs", "cancel", "1"],
    ["runs", "retry", "1"],
    ["logs", "3", "step"],
]


def _weir(project, env, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "weir", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _importers(project):
    marker = project / "imports.txt"
    return {int(line) for line in marker.read_text().split()} if marker.exists() else set()


def test_only_weir_run_imports_a_flow_file_in_its_own_process(project, weir_env):
    (project / "flows" / "marked.py").write_text(MARKED)
    pids = {}
    for args in COMMANDS:
        proc = _weir(project, weir_env, *args)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (args, out, err)
        pids[proc.pid] = args

    importers = _importers(project)
    assert importers, "the registrar and the workers import the file"
    assert not importers & set(pids), [pids[pid] for pid in importers & set(pids)]

    ran = _weir(project, weir_env, "run", "marked", "-e", "inline")
    out, err = ran.communicate(timeout=120)
    assert ran.returncode == 0, (out, err)
    assert ran.pid in _importers(project)  # the documented exception: weir run imports it here
