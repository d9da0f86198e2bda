"""Driving a run in the foreground and printing how it ended: ``weir run``, and ``weir runs
retry|clear|resume`` when no scheduler is there to do it. Exit 0 on success, 1 otherwise."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

import typer

from weir.cli.output import first_line, jsonable, print_json, shorten, stderr_console, stdout_console, styled

if TYPE_CHECKING:
    from weir.control.context import Context
    from weir.runs import Run
    from weir.settings import Settings


def details_of(ctx: Context, run_id: int) -> dict[str, Any]:
    """A run's details as JSON-able data (``control.reports.run_details``).

    Raises:
        NotFoundError: there is no run ``run_id``.
    """
    from weir.control import reports

    with ctx.store.read() as conn:
        report = reports.run_report(conn, run_id, now=ctx.clock.now())
    return reports.run_details(report)


def logs_of(settings: Settings, run_id: int) -> str:
    """Where a run's logs are: its folder in the log store."""
    return f"{settings.logs.rstrip('/')}/{run_id}"


def finish(ctx: Context, result_run: Run, *, as_json: bool, out: Any = None) -> None:
    """Print the outcome of ``result_run`` (text or JSON) and exit 0 on success, 1 otherwise."""
    out = out or stdout_console()
    details = details_of(ctx, result_run.id)
    logs = logs_of(ctx.settings, result_run.id)
    ok = details["state"] == "success"
    result: Any = None
    result_note: str | None = None
    if ok:
        try:
            result = result_run.result()
        except Exception as exc:  # a result that cannot be read back must not hide the outcome
            result_note = f"result could not be read: {type(exc).__name__}: {exc}"
    if as_json:
        is_json, shown = jsonable(result)
        details.update({"result": shown, "result_is_json": is_json, "logs": logs})
        if result_note:
            details["result_error"] = result_note
        print_json(details)
    else:
        print_outcome(out, details, ok, result, result_note, logs)
    raise typer.Exit(0 if ok else 1)


def print_outcome(
    out: Any, details: dict[str, Any], ok: bool, result: Any, note: str | None, logs: str
) -> None:
    """The end of a foreground run: state and duration, then the result or what failed."""
    duration = details["duration"]
    took = f" in {duration:.2f}s" if duration is not None else ""
    out.print(f"run {details['id']} of flow {details['flow_name']}: {styled(details['state'])}{took}")
    if ok:
        out.print(f"result: {note or shorten(repr(result))}", markup=False)
    else:
        if details["reason"]:
            out.print(f"reason: {details['reason']}", markup=False)
        for row in details["task_runs"]:
            if row["state"] == "failed":
                tries = len(row["tries"])
                error = shorten(first_line(row["error"]) or "no error recorded", 200)
                plural = "try" if tries == 1 else "tries"
                out.print(f"  {row['label']}: failed after {tries} {plural}: {error}", markup=False)
        out.print(f"details: weir runs show {details['id']}", markup=False)
    out.print(f"logs: {logs}/", markup=False)


def drive_existing(ctx: Context, run_id: int, *, as_json: bool) -> None:
    """Drive the existing (queued, unowned) run ``run_id`` here with live progress, with
    ``weir.runs.drive``; prints the outcome and exits like ``weir run``.

    Raises:
        RunClaimedError: another live process (a scheduler) took the run first.
    """
    from weir.cli.progress import RunProgress
    from weir.executors.registry import executor_for, release
    from weir.runs import drive, get_run

    out, err = stdout_console(), stderr_console()  # before any task swaps sys.stdout
    details = details_of(ctx, run_id)
    labels = [row["label"] for row in details["task_runs"] if row["map_index"] < 0]
    states = {row["label"]: row["state"] for row in details["task_runs"]}
    progress = RunProgress(err, details["flow_name"], labels, states)
    progress.created(run_id)
    executor = executor_for(ctx.settings)
    try:
        with contextlib.nullcontext() if as_json else progress:
            drive(ctx, run_id, executor, listener=progress.update)
    except KeyboardInterrupt:
        print(f"interrupted: run {run_id} cancelled", file=sys.stderr)
        raise typer.Exit(130) from None
    finally:
        release(executor)
    finish(ctx, get_run(run_id, ctx.settings), as_json=as_json, out=out)
