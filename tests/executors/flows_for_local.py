"""Flows the local executor tests run in worker processes (imported there by module name)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

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
