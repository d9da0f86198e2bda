"""Settings read from the environment and ``weir.toml``: ``retention_days``."""

from __future__ import annotations

from pathlib import Path

import pytest

from weir.errors import SettingsError
from weir.settings import Settings


def test_retention_days_keeps_runs_forever_by_default(tmp_path: Path) -> None:
    assert Settings.from_env(environ={}, cwd=tmp_path).retention_days == 0


def test_retention_days_comes_from_the_environment_before_the_project_file(tmp_path: Path) -> None:
    (tmp_path / "weir.toml").write_text("[weir]\nretention_days = 90\n", encoding="utf-8")
    assert Settings.from_env(environ={}, cwd=tmp_path).retention_days == 90
    assert Settings.from_env(environ={"WEIR_RETENTION_DAYS": "30"}, cwd=tmp_path).retention_days == 30


@pytest.mark.parametrize("bad", ["-1", "-30"])
def test_a_negative_retention_is_an_error_naming_the_setting(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SettingsError, match=r"retention_days must be 0 \(keep runs forever\) or more, not -"):
        Settings.from_env(environ={"WEIR_RETENTION_DAYS": bad}, cwd=tmp_path)


def test_a_retention_that_is_not_a_whole_number_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="WEIR_RETENTION_DAYS must be a whole number, not '30d'"):
        Settings.from_env(environ={"WEIR_RETENTION_DAYS": "30d"}, cwd=tmp_path)
    (tmp_path / "weir.toml").write_text("[weir]\nretention_days = -7\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="retention_days must be 0"):
        Settings.from_env(environ={}, cwd=tmp_path)
