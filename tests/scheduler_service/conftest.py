"""The ``project`` fixture: flow files in ``tmp_path`` and a store (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scheduler_project import Project


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Iterator[Project]:
    made = Project(tmp_path / "project")
    yield made
    made.close()
