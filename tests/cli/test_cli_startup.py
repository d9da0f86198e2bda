"""``weir --help`` stays fast: no store, web, validation or cluster libraries are imported.

Typer itself imports pydantic once a sub-command is chosen (it builds a pydantic adapter
per parameter), so only the top-level help is held to the pydantic rule.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "alembic", "pydantic", "fastapi", "dask", "cloudpickle")
STORE_AND_UP = ("sqlalchemy", "alembic", "fastapi", "dask", "cloudpickle")

PROBE = """
import sys
from typer.testing import CliRunner
from weir.cli.app import app
result = CliRunner().invoke(app, {args!r})
assert result.exit_code == 0, result.output
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize(
    ("args", "heavy"),
    [
        (["--help"], HEAVY),
        (["run", "--help"], STORE_AND_UP),
        (["runs", "--help"], STORE_AND_UP),
        (["runs", "show", "--help"], STORE_AND_UP),
        (["flows", "--help"], STORE_AND_UP),
        (["logs", "--help"], STORE_AND_UP),
    ],
)
def test_help_imports_no_heavy_module(args, heavy):
    probe = PROBE.format(args=args, heavy=heavy)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_weir_help_imports_no_sqlalchemy_in_a_real_process():
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "weir", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "typer" in imported
    assert imported.isdisjoint(HEAVY)
