"""The store suite's fixtures: an open ``Store`` (SQLite, and PostgreSQL when set) and a way to add runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from weir.store import runs
from weir.store.records import TaskRunRecord
from weir.store.store import Store, open_store


@pytest.fixture
def store(store_url: str) -> Store:
    """The process's store for an empty database."""
    return open_store(store_url)


@pytest.fixture
def add_run(store: Store) -> Callable[..., int]:
    """A function adding a queued run, with a pending task run per name in ``tasks``, in a
    transaction of its own; other keywords go to ``runs.create_run``. Returns the run id."""

    def add(
        flow: str = "etl",
        *,
        version: str = "v1",
        tasks: tuple[str, ...] = ("extract", "load"),
        created: datetime = datetime(2024, 6, 1, 12, tzinfo=UTC),
        **options: Any,
    ) -> int:
        with store.transaction() as tx:
            return runs.create_run(
                tx,
                flow_name=flow,
                flow_version=version,
                params=options.pop("params", {}),
                trigger=options.pop("trigger", "manual"),
                executor=options.pop("executor", "inline"),
                now=created,
                task_runs=[TaskRunRecord(run_id=0, task_id=task_id) for task_id in tasks],
                **options,
            )

    return add
