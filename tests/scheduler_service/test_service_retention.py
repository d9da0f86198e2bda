"""The daemon's retention: with ``retention_days`` set it cleans old runs about once an hour, as
``weir db clean`` does, recorded for itself; a clean that fails never stops it."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import pytest
from scheduler_project import Project, utc
from sqlalchemy import update

import weir
from weir.runs import run_flow
from weir.scheduler.service import RETAIN
from weir.store import audit
from weir.store.store import open_store
from weir.store.tables import RunRow
from weir.testing import FakeClock

NOW = utc(2024, 6, 3, 12)
runs_t = RunRow.__table__


@weir.task
def note() -> int:
    print("noted")
    return 1


@weir.flow
def noting() -> int:
    return note()


def make_runs(project: Project, *ages_in_days: int) -> list[int]:
    """Real runs, each moved back to have ended that many days before NOW."""
    made = []
    store = open_store(project.settings.database_url)
    for days in ages_in_days:
        run_id = run_flow(noting, {}, settings=project.settings).id
        ended = NOW - timedelta(days=days)
        with store.transaction() as tx:
            tx.execute(update(runs_t).where(runs_t.c.id == run_id).values(ended_at=ended, created_at=ended))
        made.append(run_id)
    return made


def age(project: Project, run_id: int, days: int) -> None:
    with open_store(project.settings.database_url).transaction() as tx:
        tx.execute(update(runs_t).where(runs_t.c.id == run_id).values(ended_at=NOW - timedelta(days=days)))


def run_ids(project: Project) -> list[int]:
    return [r.id for r in project.runs()]


def test_the_scheduler_cleans_runs_older_than_retention_days_once_an_hour(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    old, recent, newest = make_runs(project, 40, 10, 1)
    project.settings = dataclasses.replace(project.settings, retention_days=30)
    scheduler = project.scheduler(FakeClock(NOW))

    with caplog.at_level(logging.INFO, logger="weir.scheduler"):
        scheduler.tick()  # the first pass cleans

    assert run_ids(project) == [recent, newest] and old not in run_ids(project)
    assert "retention: removed 1 runs that ended before 2024-05-04T12:00:00+00:00" in caplog.text
    with open_store(project.settings.database_url).read() as conn:
        (row,) = audit.entries(conn, action="db.clean")
    assert (row.actor, row.via, row.detail and row.detail["runs"]) == (
        f"scheduler {scheduler.owner.id}",
        "scheduler",
        1,
    )

    age(project, recent, 31)
    scheduler.tick()  # within the hour: no clean
    assert run_ids(project) == [recent, newest]
    assert scheduler.apply_retention() == RETAIN  # what the hourly timer calls
    assert run_ids(project) == [newest]


def test_without_retention_days_the_scheduler_keeps_every_run(project: Project) -> None:
    made = make_runs(project, 400, 300)
    scheduler = project.scheduler(FakeClock(NOW))

    scheduler.tick()

    assert run_ids(project) == made


def test_a_failed_clean_is_logged_and_the_scheduler_goes_on(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    _, newest = make_runs(project, 40, 1)
    # A log store no fsspec implementation serves: the clean fails when it removes the logs.
    project.settings = dataclasses.replace(project.settings, retention_days=30, logs_url="nowhere://logs")
    scheduler = project.scheduler(FakeClock(NOW))

    with caplog.at_level(logging.ERROR, logger="weir.scheduler"):
        assert scheduler.apply_retention() == RETAIN
        scheduler.tick()

    assert "retention: cleaning runs older than 30 days failed" in caplog.text
    assert newest in run_ids(project)
