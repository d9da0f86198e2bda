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
    log_path = Path(run.tries()[0].log_path or "")
    assert log_path.is_relative_to(weir_home / "logs")
    text = log_path.read_text()
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
    assert "after the run" not in Path(run.tries()[0].log_path or "").read_text()


def test_a_failing_task_writes_its_traceback_to_its_log(store_url: str) -> None:
    @weir.task
    def fails() -> None:
        raise KeyError("missing key")

    @weir.flow
    def failing() -> None:
        fails()

    run = failing.run(executor="inline")
    text = Path(run.tries()[0].log_path or "").read_text()
    assert "Traceback" in text
    assert "KeyError: 'missing key'" in text
