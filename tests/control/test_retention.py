"""``weir.control.retention.clean``: old ended runs go with their rows, logs and results, in
batches; everything else stays; a dry run changes nothing; the clean appends one audit row."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

import weir
from weir.control.context import Context
from weir.control.retention import CleanReport, clean
from weir.runs import run_flow
from weir.settings import Settings
from weir.store import runs, tasks
from weir.store.tables import RunRow

from .conftest import NOW, audit_rows, run_count

runs_t = RunRow.__table__
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=1)
MONTH = timedelta(days=30)


@weir.task
def numbers(n: int) -> list[int]:
    print(f"making {n} numbers")
    return list(range(n))


@weir.task
def total(xs: list[int]) -> int:
    print(f"adding {len(xs)} numbers")
    return sum(xs)


@weir.flow
def adder(n: int = 3) -> int:
    return total(numbers(n))


@weir.flow
def other(n: int = 2) -> int:
    return total(numbers(n))


@pytest.fixture
def settings(project: Path, store_url: str) -> Settings:
    """Inline runs; every result goes to the result store, so each run has files in both stores."""
    return Settings.from_env(cwd=project, database_url=store_url, executor="inline", result_inline_max=0)


@pytest.fixture
def make_run(ctx: Context) -> Callable[..., int]:
    """``make_run(flow, ended=..., state=...)``: a real run of ``flow`` (on ``settings``, default
    the context's), then moved in time (other keywords are columns of its row to set)."""

    def make(
        flow: Any = adder, *, ended: datetime | None = OLD, settings: Settings | None = None, **values: Any
    ) -> int:
        run = run_flow(flow, {}, settings=settings or ctx.settings)
        values = {"ended_at": ended, "created_at": (ended or OLD) - timedelta(minutes=1), **values}
        with ctx.store.transaction() as tx:
            tx.execute(update(runs_t).where(runs_t.c.id == run.id).values(**values))
        return run.id

    return make


def files_of(settings: Settings, run_id: int) -> list[str]:
    """The run's files in the (local) log and result stores."""
    found = []
    for root in (Path(settings.logs), Path(settings.results)):
        found += sorted(p.name for p in (root / str(run_id)).rglob("*") if p.is_file())
    return found


def exists(ctx: Context, run_id: int) -> bool:
    with ctx.store.read() as conn:
        return run_id in {r.id for r in runs.list_runs(conn, limit=1000).runs}


def test_clean_removes_old_ended_runs_with_their_rows_logs_and_results(
    ctx: Context, make_run: Callable[..., int]
) -> None:
    succeeded, failed = make_run(), make_run(state="failed")
    queued = make_run(ended=None, state="queued")
    running = make_run(state="running")
    recent = make_run(ended=RECENT)
    assert files_of(ctx.settings, succeeded) == [
        "numbers.try-1.log",
        "total.try-1.log",
        "numbers.try-1.pkl",
        "total.try-1.pkl",
    ]
    actions_before = audit_rows(ctx)

    report = clean(ctx, MONTH)

    assert (report.runs, report.task_runs, report.tries, report.log_files, report.result_files) == (
        2,
        4,
        4,
        4,
        4,
    )
    assert report.log_bytes > 0 and report.result_bytes > 0 and report.events > 0
    assert report.cutoff == NOW - MONTH and not report.dry_run and not report.limited
    for gone in (succeeded, failed):
        assert not exists(ctx, gone) and files_of(ctx.settings, gone) == []
        assert not (Path(ctx.settings.logs) / str(gone)).exists()
        assert not (Path(ctx.settings.results) / str(gone)).exists()
        with ctx.store.read() as conn:
            assert tasks.get_tries(conn, gone) == [] and tasks.get_events(conn, gone) == []
    for kept in (queued, running, recent):
        assert exists(ctx, kept) and len(files_of(ctx.settings, kept)) == 4
    rows = audit_rows(ctx)
    assert rows[: len(actions_before)] == actions_before  # the history of actions is kept
    (cleaned,) = rows[len(actions_before) :]
    assert (cleaned.actor, cleaned.via, cleaned.action, cleaned.target) == ("ada", "cli", "db.clean", "runs")
    assert cleaned.detail is not None
    assert cleaned.detail["runs"] == 2 and cleaned.detail["result_files"] == 4
    assert cleaned.detail["cutoff"] == (NOW - MONTH).isoformat()


def test_a_dry_run_changes_nothing_and_counts_what_the_clean_removes(
    ctx: Context, make_run: Callable[..., int]
) -> None:
    old = [make_run() for _ in range(3)]
    make_run(ended=RECENT)
    rows_before, runs_before = audit_rows(ctx), run_count(ctx)

    planned = clean(ctx, MONTH, dry_run=True)

    assert planned.dry_run and planned.runs == 3
    assert audit_rows(ctx) == rows_before and run_count(ctx) == runs_before
    assert all(len(files_of(ctx.settings, run_id)) == 4 for run_id in old)
    done = clean(ctx, MONTH)
    assert dataclasses.replace(planned, dry_run=False) == done


def test_clean_deletes_batch_after_batch_and_stops_at_its_limit(
    ctx: Context, make_run: Callable[..., int]
) -> None:
    old = [make_run() for _ in range(5)]
    make_run(ended=RECENT)

    first = clean(ctx, MONTH, batch=2, limit=3)
    assert (first.runs, first.limited) == (3, True)
    assert [exists(ctx, run_id) for run_id in old] == [False, False, False, True, True]
    rest = clean(ctx, MONTH, batch=2)
    assert (rest.runs, rest.limited) == (2, False)
    assert not any(exists(ctx, run_id) for run_id in old)
    assert [r.action for r in audit_rows(ctx)].count("db.clean") == 2


def test_clean_of_one_flow_leaves_other_flows_runs(ctx: Context, make_run: Callable[..., int]) -> None:
    mine, theirs = make_run(adder), make_run(other)
    make_run(ended=RECENT)

    report = clean(ctx, MONTH, flow="other")

    assert report.runs == 1 and exists(ctx, mine) and not exists(ctx, theirs)
    assert audit_rows(ctx)[-1].target == "flow other"


def test_the_newest_run_is_kept_whatever_its_age(ctx: Context, make_run: Callable[..., int]) -> None:
    first, newest = make_run(), make_run()

    assert clean(ctx, timedelta(0)).runs == 1
    assert not exists(ctx, first) and exists(ctx, newest)


def test_a_clean_that_finds_nothing_removes_nothing_and_records_nothing(
    ctx: Context, make_run: Callable[..., int]
) -> None:
    make_run(ended=RECENT), make_run(ended=RECENT)
    before = audit_rows(ctx)

    assert clean(ctx, MONTH) == CleanReport(cutoff=NOW - MONTH, dry_run=False)
    assert clean(ctx, timedelta(days=10**6)).runs == 0  # older than any run can be
    assert audit_rows(ctx) == before


def test_a_negative_age_is_refused(ctx: Context) -> None:
    with pytest.raises(ValueError, match="negative"):
        clean(ctx, timedelta(days=-1))


def test_clean_removes_logs_and_results_from_fsspec_stores(
    ctx: Context, make_run: Callable[..., int]
) -> None:
    import fsspec

    base = f"memory://retention-{uuid.uuid4().hex}"
    on_fsspec = dataclasses.replace(ctx.settings, logs_url=f"{base}/logs", results_url=f"{base}/results")
    ctx = dataclasses.replace(ctx, settings=on_fsspec)
    old, recent = make_run(settings=on_fsspec), make_run(ended=RECENT, settings=on_fsspec)
    fs = fsspec.filesystem("memory")

    def objects(run_id: int) -> list[str]:
        return sorted(p for store in ("logs", "results") for p in fs.find(f"{base}/{store}/{run_id}"))

    assert len(objects(old)) == 4  # a log is a folder of parts: one part each here
    planned = clean(ctx, MONTH, dry_run=True)
    report = clean(ctx, MONTH)

    assert (report.runs, report.log_files, report.result_files) == (1, 2, 2)
    assert dataclasses.replace(planned, dry_run=False) == report
    assert objects(old) == [] and len(objects(recent)) == 4
