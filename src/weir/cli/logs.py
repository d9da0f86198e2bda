"""``weir logs RUN TASK``: the log of one try, read from the log store (with ``--follow``, as it is
written, until the try ends)."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from weir.cli.output import fail, handles_errors

if TYPE_CHECKING:
    from weir.control.context import Context
    from weir.io.logs import LogStore
    from weir.store.records import TryRecord

_LABEL = re.compile(r"^(?P<task>.+)\[(?P<index>\d+)\]$")

#: Seconds between looks at a followed log and its try's state.
FOLLOW_INTERVAL = 0.2


@handles_errors
def logs(
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="The run id.")],
    task: Annotated[str, typer.Argument(metavar="TASK", help="The task id (or square[3] for an element).")],
    try_number: Annotated[
        int | None, typer.Option("--try", "-t", min=1, help="Which try (default: the latest).")
    ] = None,
    map_index: Annotated[
        int | None, typer.Option("--map-index", "-m", min=0, help="Which element of a mapped task.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new output until the try ends.")
    ] = False,
) -> None:
    """Print the log of one try of a task run (with --follow, as it is written, until the try ends)."""
    from weir.cli.project import context, load_settings
    from weir.control import reports
    from weir.io.logs import log_store

    match = _LABEL.match(task)
    if match and map_index is None:
        task, map_index = match["task"], int(match["index"])
    index = -1 if map_index is None else map_index
    ctx = context(load_settings())
    with ctx.store.read() as conn:
        report = reports.run_report(conn, run_id)  # NotFoundError names the run
    task_ids = sorted({r.task_id for r in report.task_runs})
    if task not in task_ids:
        fail(f"run {run_id} has no task {task!r} (its tasks: {', '.join(task_ids) or 'none'})")
    label = task if index < 0 else f"{task}[{index}]"
    tries = report.tries_of(task, index)
    if not tries and follow:
        tries = _wait_for_tries(ctx, run_id, task, index)
    if not tries:
        elements = sorted({r.map_index for r in report.task_runs if r.task_id == task and r.map_index >= 0})
        if index < 0 and elements:
            fail(
                f"task {task!r} of run {run_id} is mapped: name an element with --map-index "
                f"(0 to {elements[-1]}) or as {task}[{elements[0]}]"
            )
        fail(f"task {label} of run {run_id} has no tries (it never started)")
    if try_number is None:
        chosen = tries[-1]
    else:
        found = [t for t in tries if t.number == try_number]
        if not found:
            numbers = ", ".join(str(t.number) for t in tries)
            fail(f"task {label} of run {run_id} has no try {try_number} (its tries: {numbers})")
        chosen = found[0]
    store = log_store(ctx.settings.logs)
    what = f"try {chosen.number} of task {label} in run {run_id}"
    if follow:
        _follow(ctx, store, chosen, what)
        return
    if not chosen.log_path:
        fail(f"{what} has no log recorded")
    if store.size(chosen.log_path) == 0:
        # A log is made on the first write: a try that printed nothing has none.
        yet = " yet" if chosen.state in ("queued", "running") else ""
        print(f"({what} wrote no output{yet}: no log {_where(store, chosen.log_path)})", file=sys.stderr)
        return
    _copy(store, chosen.log_path, 0, final=chosen.state not in ("queued", "running"))


def _where(store: LogStore, key: str) -> str:
    """Where log ``key`` would be: its file for a local store, else its URL."""
    from weir.io.logs import LocalLogStore

    if isinstance(store, LocalLogStore):
        return str(store.root / key)
    return f"{store.url.rstrip('/')}/{key}"


def _copy(store: LogStore, key: str, offset: int, *, final: bool) -> int:
    """Write log ``key`` from ``offset`` to its current end on stdout; returns the next offset."""
    while True:
        chunk = store.read(key, offset, final=final)
        if chunk.text:
            sys.stdout.write(chunk.text)
            sys.stdout.flush()
        if chunk.next_offset == offset or chunk.next_offset >= chunk.size:
            return chunk.next_offset
        offset = chunk.next_offset


def _wait_for_tries(ctx: Context, run_id: int, task: str, index: int) -> list[TryRecord]:
    """The task's tries once it has one; [] when the run ends first."""
    import time

    from weir.states import RUN_TERMINAL
    from weir.store import runs, tasks

    while True:
        with ctx.store.read() as conn:
            tries = tasks.get_tries(conn, run_id, task, index, results=False)
            ended = runs.get_run(conn, run_id, result=False).state in RUN_TERMINAL
        if tries or ended:
            return tries
        time.sleep(FOLLOW_INTERVAL)


def _follow(ctx: Context, store: LogStore, chosen: TryRecord, what: str) -> None:
    """Print the try's log and then what is appended to it, until the try (or its run) ends.

    The log may not exist yet (it is made on the first write), nor its key be recorded yet; both
    are waited for. The end is seen before the last read, so nothing written before the try
    ended is missed.
    """
    import time

    from weir.states import RUN_TERMINAL
    from weir.store import runs, tasks

    run_id, task_id, index, number = chosen.run_id, chosen.task_id, chosen.map_index, chosen.number
    key, state, offset, seen = chosen.log_path, str(chosen.state), 0, False
    try:
        while True:
            ended = state not in ("queued", "running")
            if not ended:
                with ctx.store.read() as conn:
                    ended = runs.get_run(conn, run_id, result=False).state in RUN_TERMINAL
            if key:
                seen = seen or store.size(key) > 0
                offset = _copy(store, key, offset, final=ended)
            if ended:
                break
            time.sleep(FOLLOW_INTERVAL)
            with ctx.store.read() as conn:
                if key:
                    state = tasks.try_state(conn, run_id, task_id, index, number) or state
                else:
                    again = tasks.get_try(conn, run_id, task_id, index, number)
                    key, state = again.log_path, str(again.state)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if not seen:
        print(f"({what} wrote no output: no log)", file=sys.stderr)
