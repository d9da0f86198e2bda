"""Fixtures for the CLI tests: a private WEIR_HOME and a ``weir`` runner in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
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
def weir(tmp_path: Path, home: Path) -> Callable[..., Result]:
    """Run ``python -m weir ARGS`` in ``tmp_path`` with its own WEIR_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    env.update({"WEIR_HOME": str(home), "WEIR_WORKERS": "2", "NO_COLOR": "1", "COLUMNS": "200"})

    def run(*args: str, timeout: float = 120) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "weir", *args],
            cwd=tmp_path,
            env=env,
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
