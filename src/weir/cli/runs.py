"""``weir runs list``, ``weir runs show`` and ``weir logs``: recorded runs, read from the store."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weir.cli.output import (
    fail,
    first_line,
    handles_errors,
    print_json,
    seconds,
    shorten,
    stdout_console,
    styled,
    when,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from weir.settings import Settings
    from weir.store.records import TryRecord

app = typer.Typer(help="List and inspect runs; cancel, retry, clear or resume one.", no_args_is_help=True)


def open_store(settings: Settings | None = None) -> Engine:
    """The store engine for ``settings`` (default: from the environment)."""
    from weir.settings import Settings
    from weir.store.db import get_engine

    settings = settings or Settings.from_env()
    return get_engine(settings.database_url)


def run_details(engine: Engine, run_id: int) -> dict[str, Any]:
    """Everything recorded about a run, as JSON-able data: the run, its task runs and their tries.

    Task runs come in the flow's topological order, each mapped node's elements after it.

    Raises:
        NotFoundError: there is no run ``run_id``.
    """
    from weir.errors import NotFoundError
    from weir.store import queries

    with engine.connect() as conn:
        run = queries.get_run(conn, run_id)
        task_runs = queries.get_task_runs(conn, run_id)
        tries = queries.get_tries(conn, run_id)
        try:
            graph = queries.get_flow(conn, run.flow_name, run.flow_version).graph
            order = {node["task_id"]: i for i, node in enumerate(graph.get("nodes", []))}
        except NotFoundError:
            order = {}
    by_task: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for t in tries:
        by_task.setdefault((t.task_id, t.map_index), []).append(
            {
                "number": t.number,
                "state": t.state,
                "started_at": t.started_at,
                "ended_at": t.ended_at,
                "duration": _duration(t.started_at, t.ended_at),
                "error": t.error,
                "log_path": t.log_path,
                "worker": t.worker,
            }
        )
    task_runs.sort(key=lambda r: (order.get(r.task_id, len(order)), r.task_id, r.map_index))
    rows = []
    for r in task_runs:
        its_tries = by_task.get((r.task_id, r.map_index), [])
        errors = [t["error"] for t in its_tries if t["error"]]
        rows.append(
            {
                "task_id": r.task_id,
                "map_index": r.map_index,
                "label": r.label,
                "state": r.state,
                "tries": its_tries,
                "max_tries": r.max_tries,
                "map_count": r.map_count,
                "started_at": r.started_at,
                "ended_at": r.ended_at,
                "duration": r.duration,
                "error": errors[-1] if errors else None,
            }
        )
    return {
        "id": run.id,
        "flow": run.flow_name,
        "flow_version": run.flow_version,
        "state": run.state,
        "reason": run.reason,
        "params": run.params,
        "trigger": run.trigger,
        "executor": run.executor,
        "logical_date": run.logical_date,
        "interval_start": run.interval_start,
        "interval_end": run.interval_end,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "duration": run.duration,
        "task_runs": rows,
    }


def _duration(start: Any, end: Any) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def print_task_runs(details: dict[str, Any]) -> None:
    """A table of the task runs of ``details`` (see :func:`run_details`)."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("task", "state", "tries", "duration", "error"):
        table.add_column(column, overflow="fold" if column == "error" else "ellipsis")
    for row in details["task_runs"]:
        label = row["label"] + (f" (mapped x{row['map_count']})" if row["map_count"] is not None else "")
        table.add_row(
            label,
            styled(row["state"]),
            f"{len(row['tries'])}/{row['max_tries']}" if row["map_index"] >= 0 or row["tries"] else "",
            seconds(row["duration"]),
            shorten(first_line(row["error"]), 120),
        )
    stdout_console().print(table)


@app.command("list")
@handles_errors
def list_runs(
    flow: Annotated[str | None, typer.Option("--flow", "-f", help="Only runs of this flow.")] = None,
    state: Annotated[str | None, typer.Option("--state", "-s", help="Only runs in this state.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recorded runs, newest first."""
    from weir.states import RunState
    from weir.store import queries

    if state is not None and state not in {s.value for s in RunState}:
        fail(f"unknown run state {state!r}: choose one of {', '.join(s.value for s in RunState)}")
    with open_store().connect() as conn:
        runs = queries.list_runs(conn, flow=flow, state=state, limit=limit)
    rows: list[dict[str, Any]] = [
        {
            "id": r.id,
            "flow": r.flow_name,
            "state": r.state,
            "trigger": r.trigger,
            "logical_date": r.logical_date,
            "created_at": r.created_at,
            "duration": r.duration,
            "reason": r.reason,
        }
        for r in runs
    ]
    if as_json:
        print_json(rows)
        return
    console = stdout_console()
    if not rows:
        console.print("no runs" + (" matching the filters" if flow or state else " yet"))
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("id", "flow", "state", "trigger", "created (UTC)", "duration"):
        table.add_column(column, justify="right" if column == "id" else "left")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["flow"],
            styled(row["state"]),
            row["trigger"],
            when(row["created_at"]),
            seconds(row["duration"]),
        )
    console.print(table)


@app.command("show")
@handles_errors
def show_run(
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="The run id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A run: its flow, state, params and times, then each task run with its tries."""
    details = run_details(open_store(), run_id)
    if as_json:
        print_json(details)
        return
    console = stdout_console()
    console.print(f"[bold]run {details['id']}[/bold]  flow {details['flow']}  {styled(details['state'])}")
    if details["reason"]:
        console.print(f"  reason:   {details['reason']}", markup=False)
    console.print(f"  params:   {details['params']}", markup=False)
    console.print(f"  trigger:  {details['trigger']}  executor: {details['executor'] or ''}")
    if details["logical_date"] is not None:
        interval = f"{when(details['interval_start'])} -> {when(details['interval_end'])}"
        console.print(f"  logical:  {when(details['logical_date'])} UTC  (data interval {interval})")
    console.print(f"  created:  {when(details['created_at'])} UTC")
    console.print(f"  started:  {when(details['started_at'])}")
    console.print(f"  ended:    {when(details['ended_at'])}")
    console.print(f"  duration: {seconds(details['duration'])}")
    console.print()
    print_task_runs(details)


_LABEL = re.compile(r"^(?P<task>.+)\[(?P<index>\d+)\]$")


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
    from weir.store import queries

    match = _LABEL.match(task)
    if match and map_index is None:
        task, map_index = match["task"], int(match["index"])
    index = -1 if map_index is None else map_index
    engine = open_store()
    with engine.connect() as conn:
        queries.get_run(conn, run_id)  # NotFoundError names the run
        task_runs = queries.get_task_runs(conn, run_id)
        tries = [t for t in queries.get_tries(conn, run_id, task) if t.map_index == index]
    task_ids = sorted({r.task_id for r in task_runs})
    if task not in task_ids:
        fail(f"run {run_id} has no task {task!r} (its tasks: {', '.join(task_ids) or 'none'})")
    label = task if index < 0 else f"{task}[{index}]"
    if not tries and follow:
        tries = _wait_for_tries(engine, run_id, task, index)
    if not tries:
        elements = sorted({r.map_index for r in task_runs if r.task_id == task and r.map_index >= 0})
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
    if follow:
        _follow_log(engine, chosen, f"try {chosen.number} of task {label} in run {run_id}")
        return
    if not chosen.log_path:
        fail(f"try {chosen.number} of task {label} in run {run_id} has no log file recorded")
    path = Path(chosen.log_path)
    try:
        content = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        # Log files are made on the first write: a try that printed nothing has none.
        yet = " yet" if chosen.state in ("queued", "running") else ""
        print(
            f"(try {chosen.number} of task {label} in run {run_id} wrote no output{yet}: no file {path})",
            file=sys.stderr,
        )
        return
    except OSError as exc:
        fail(f"cannot read the log file {path}: {exc}")
    sys.stdout.write(content)
    sys.stdout.flush()


#: Seconds between looks at a followed log file and its try's state.
FOLLOW_INTERVAL = 0.2


def _wait_for_tries(engine: Engine, run_id: int, task: str, index: int) -> list[TryRecord]:
    """The task's tries once it has one; [] when the run ends first."""
    import time

    from weir.states import RUN_TERMINAL
    from weir.store import queries

    while True:
        with engine.connect() as conn:
            tries = [t for t in queries.get_tries(conn, run_id, task) if t.map_index == index]
            ended = queries.get_run(conn, run_id).state in RUN_TERMINAL
        if tries or ended:
            return tries
        time.sleep(FOLLOW_INTERVAL)


def _follow_log(engine: Engine, chosen: TryRecord, what: str) -> None:
    """Print the try's log and then what is appended to it, until the try (or its run) ends.

    The file may not exist yet (it is made on the first write) and a try may not have a log
    path yet; both are waited for. The end is seen before the last read, so nothing written
    before the try ended is missed.
    """
    import codecs
    import time

    from weir.states import RUN_TERMINAL
    from weir.store import queries

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    current, offset, seen = chosen, 0, False
    try:
        while True:
            ended = current.state not in ("queued", "running")
            if not ended:
                with engine.connect() as conn:
                    ended = queries.get_run(conn, current.run_id).state in RUN_TERMINAL
            if current.log_path:
                try:
                    with open(current.log_path, "rb") as file:
                        seen = True
                        file.seek(offset)
                        data = file.read()
                except FileNotFoundError:
                    data = b""
                if data:
                    offset += len(data)
                    sys.stdout.write(decoder.decode(data))
                    sys.stdout.flush()
            if ended:
                break
            time.sleep(FOLLOW_INTERVAL)
            with engine.connect() as conn:
                again = [
                    t
                    for t in queries.get_tries(conn, current.run_id, current.task_id)
                    if t.map_index == current.map_index and t.number == current.number
                ]
            current = again[0] if again else current
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    sys.stdout.write(decoder.decode(b"", final=True))
    sys.stdout.flush()
    if not seen:
        print(f"({what} wrote no output: no log file)", file=sys.stderr)


ExecutorOption = Annotated[
    str | None,
    typer.Option("--executor", "-e", help="inline or local (default: $WEIR_EXECUTOR, else local)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object, no progress.")]


@app.command("cancel")
@handles_errors
def cancel(
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="The run id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Cancel a queued or running run: ask the process that drives it, or cancel it in place."""
    from weir.runs import cancel_run
    from weir.settings import Settings

    outcome = cancel_run(run_id, settings=Settings.from_env())
    if as_json:
        print_json({"run_id": run_id, "requested": outcome.requested})
        return
    if outcome.requested:
        print(f"run {run_id}: asked the process that drives it to cancel it (it stops within seconds)")
    else:
        print(f"run {run_id} cancelled (no live process was driving it)")


def _again(
    run_id: int,
    what: str,
    store_part: Any,
    *,
    executor: str | None,
    as_json: bool,
) -> None:
    """Shared by retry and clear: reset the chosen task runs (``store_part``), then leave the run
    to a live scheduler that knows its flow, or drive it here."""
    from weir import runs as api
    from weir.cli.foreground import drive_existing
    from weir.cli.project import in_project, live_scheduler, load_settings
    from weir.store import queries

    overrides: dict[str, Any] = {} if executor is None else {"executor": executor}
    settings = load_settings(**overrides)
    engine = open_store(settings)
    with engine.connect() as conn:
        run = queries.get_run(conn, run_id)  # NotFoundError names the run
        path = queries.get_flow(conn, run.flow_name, run.flow_version).path
    scheduler = live_scheduler(settings) if in_project(settings, path) else None
    cleared = store_part(settings) if store_part is not None else []
    if scheduler is not None:
        if as_json:
            print_json({"run_id": run_id, "state": "queued", "cleared": cleared, "scheduler": scheduler.id})
            return
        shown = f" ({', '.join(cleared)})" if cleared else ""
        print(
            f"run {run_id} {what}{shown}: it is queued for the running scheduler ({scheduler.id}); "
            f"follow it with `weir runs show {run_id}`"
        )
        return
    drive_existing(
        settings,
        run_id,
        lambda listener: api.resume_run(run_id, settings=settings, listener=listener),
        as_json=as_json,
    )


@app.command("retry")
@handles_errors
def retry(
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="The run id.")],
    executor: ExecutorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run again the failed, cancelled and upstream-failed tasks of an ended run.

    Succeeded tasks keep their results. With a live scheduler the run is left queued for it;
    otherwise it is driven here: exit 0 when it succeeds, 1 when it does not.
    """
    from weir import control

    _again(
        run_id,
        "retried",
        lambda settings: control.retry_run(run_id, settings),
        executor=executor,
        as_json=as_json,
    )


@app.command("clear")
@handles_errors
def clear(
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="The run id.")],
    task: Annotated[
        list[str], typer.Option("--task", "-t", metavar="TASK", help="A task to run again (repeatable).")
    ],
    downstream: Annotated[bool, typer.Option("--downstream", help="Also every task downstream.")] = False,
    upstream: Annotated[bool, typer.Option("--upstream", help="Also every task upstream.")] = False,
    executor: ExecutorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run again the chosen tasks of an ended run (and those downstream/upstream of them).

    With a live scheduler the run is left queued for it; otherwise it is driven here: exit 0
    when it succeeds, 1 when it does not.
    """
    from weir import control

    _again(
        run_id,
        "cleared",
        lambda settings: control.clear_run(run_id, task, settings, downstream=downstream, upstream=upstream),
        executor=executor,
        as_json=as_json,
    )


@app.command("resume")
@handles_errors
def resume(
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="The run id.")],
    executor: ExecutorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take up an unfinished run whose driving process died, and drive it to the end.

    Tasks that succeeded are not run again. With a live scheduler that knows the flow, the
    run is left to it (it takes up such runs by itself).
    """
    from weir import control
    from weir.cli.project import load_settings

    settings = load_settings()
    control.claim_for_resume(run_id, settings)  # refuses an ended run, or one a live process drives
    _again(run_id, "released", None, executor=executor, as_json=as_json)
