"""Each try's output (print, stderr, logging, the context logger) lands in its log file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import weir


@weir.task
def chatty() -> str:
    print("printed to stdout")
    print("printed to stderr", file=sys.stderr)
    logging.getLogger("some.library").warning("a library warning")
    logging.getLogger("user.code").info("an info record")
    weir.context().log.info("from the context logger")
    return "done"


@weir.flow
def talking() -> object:
    return chatty()


def test_a_tasks_output_ends_up_in_its_try_log(store_url: str, weir_home: Path) -> None:
    run = talking.run(executor="inline")
    assert run.state == "success"
    log_path = weir_home / "logs" / (run.tries()[0].log_path or "")
    assert log_path.is_file()
    text = run.log("chatty")
    for line in (
        "printed to stdout",
        "printed to stderr",
        "a library warning",
        "an info record",
        "from the context logger",
    ):
        assert line in text


def test_output_outside_a_task_does_not_reach_the_log(store_url: str, capsys: object) -> None:
    run = talking.run(executor="inline")
    print("after the run")
    assert "after the run" not in run.log(run.tries()[0].task_id)


def test_a_failing_task_writes_its_traceback_to_its_log(store_url: str) -> None:
    @weir.task
    def fails() -> None:
        raise KeyError("missing key")

    @weir.flow
    def failing() -> None:
        fails()

    run = failing.run(executor="inline")
    text = run.log("fails")
    assert "Traceback" in text
    assert "KeyError: 'missing key'" in text
