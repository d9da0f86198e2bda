"""Flows the executor tests run (imported by module name, in worker processes too)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import weir

# Each import of this module appends the importing process's pid to this file, so a test
# can count how many times a worker imported it.
_IMPORT_LOG = os.environ.get("WEIR_TEST_IMPORT_LOG")
if _IMPORT_LOG:
    with open(_IMPORT_LOG, "a", encoding="utf-8") as _log:
        _log.write(f"{os.getpid()}\n")


@weir.task
def answer() -> int:
    return 42


@weir.task
def whoami() -> int:
    return os.getpid()


@weir.task
def fail() -> None:
    raise ValueError("boom: the task failed")


@weir.task
def chatty() -> str:
    print("printed line")
    print("to stderr", file=sys.stderr)
    logging.getLogger("weir.tests.chatty").info("logged line")
    os.write(1, b"raw fd line\n")
    subprocess.run(["echo", "from a subprocess"], check=True)
    return "done"


@weir.task
def nap(seconds: float = 30.0) -> str:
    time.sleep(seconds)
    return "rested"


@weir.flow
def answering() -> int:
    return answer()


@weir.flow
def identifying() -> int:
    return whoami()


@weir.flow
def failing() -> None:
    fail()


@weir.flow
def talking() -> str:
    return chatty()


@weir.flow
def napping() -> str:
    return nap()


# -- for the conformance suite (test_conformance.py) -------------------------------------------


@weir.task
def leave() -> None:
    os._exit(3)


@weir.task
def hold(release: str, started: str = "", after: str = "") -> str:
    """Print a line, write this process's pid to ``started``, wait (at most 10 s) until the file
    ``release`` exists, then write ``after``: a test sees the task running and lets it go."""
    print("holding until released", flush=True)
    if started:
        Path(started).write_text(str(os.getpid()), encoding="utf-8")
    deadline = time.monotonic() + 10.0
    while not Path(release).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{release} was never created")
        time.sleep(0.02)
    if after:
        Path(after).write_text("ran", encoding="utf-8")
    return "released"


@weir.task
def touch(path: str) -> str:
    Path(path).write_text("ran", encoding="utf-8")
    return "touched"


#: What :func:`big` returns: 10 MiB of a repeating pattern.
BIG = bytes(range(256)) * (40 * 1024)


@weir.task
def big() -> bytes:
    return BIG


@weir.flow
def exiting() -> None:
    leave()


@weir.flow
def holding(release: str, started: str = "", after: str = "") -> str:
    return hold(release, started, after)


@weir.flow
def touching(path: str) -> str:
    return touch(path)


@weir.flow
def sizing() -> bytes:
    return big()
