"""Executors are found by name: the built-in ones, and those packages add through the entry-point
group ``weir.executors``."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from weir.errors import ExecutorError, SettingsError
from weir.executors.inline import InlineExecutor
from weir.executors.local import LocalExecutor
from weir.executors.registry import GROUP, create_executor, executor_for, names, release, shutdown_shared
from weir.settings import Settings


def settings_for(tmp_path: Path, executor: str, workers: int = 1) -> Settings:
    return Settings(home=tmp_path / "home", database_url="sqlite://", executor=executor, workers=workers)


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An installed distribution (on ``sys.path``) that registers the executor ``sideways``."""
    module = "weir_sideways_executor"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from weir.executors.inline import InlineExecutor


            class SidewaysExecutor(InlineExecutor):
                name = "sideways"


            def create(settings):
                return SidewaysExecutor(project_root=settings.project_root)
            """
        )
    )
    dist_info = tmp_path / "weir_sideways-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: weir-sideways\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[{GROUP}]\nsideways = {module}:create\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()  # importlib.metadata keeps what it found on each path
    yield "sideways"
    sys.modules.pop(module, None)
    importlib.invalidate_caches()


def test_names_lists_the_built_in_executors() -> None:
    assert names()[:2] == ["inline", "local"]


def test_an_unknown_name_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ExecutorError) as raised:
        create_executor("no-such-executor", settings_for(tmp_path, "inline"))
    message = str(raised.value)
    assert "unknown executor 'no-such-executor'" in message
    assert "inline" in message and "local" in message


def test_an_executor_a_package_registers_is_named_and_created(third_party: str, tmp_path: Path) -> None:
    assert third_party in names()
    assert names()[:2] == ["inline", "local"]
    executor = create_executor(third_party, settings_for(tmp_path, third_party))
    assert type(executor).__name__ == "SidewaysExecutor"
    assert executor.name == "sideways"


def test_settings_accept_a_registered_executor_and_refuse_an_unknown_one(
    third_party: str, tmp_path: Path
) -> None:
    assert Settings.from_env({}, cwd=tmp_path, executor=third_party).executor == "sideways"
    with pytest.raises(SettingsError, match="unknown executor 'nowhere'"):
        Settings.from_env({}, cwd=tmp_path, executor="nowhere")


def test_a_registered_executor_is_gone_once_its_package_is(tmp_path: Path) -> None:
    assert "sideways" not in names()
    with pytest.raises(SettingsError):
        Settings.from_env({}, cwd=tmp_path, executor="sideways")


def test_an_executor_whose_module_does_not_load_is_refused_naming_it(
    third_party: str, tmp_path: Path
) -> None:
    (tmp_path / "weir_sideways_executor.py").write_text("raise ImportError('broken on purpose')\n")
    with pytest.raises(ExecutorError) as raised:
        create_executor(third_party, settings_for(tmp_path, third_party))
    assert str(raised.value) == (
        "executor 'sideways' (weir_sideways_executor:create) cannot be loaded: broken on purpose"
    )


@pytest.fixture
def shared() -> Iterator[None]:
    yield
    shutdown_shared()


def test_executor_for_shares_a_reusable_executor(shared: None, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "local", workers=1)
    first = executor_for(settings)
    assert isinstance(first, LocalExecutor) and first.capabilities.reusable
    assert len(first.pids) == 1  # started
    release(first)
    assert executor_for(settings) is first
    assert first.pids  # release leaves a shared executor running


def test_executor_for_gives_a_new_inline_executor_each_time(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "inline")
    first, second = executor_for(settings), executor_for(settings)
    try:
        assert isinstance(first, InlineExecutor) and isinstance(second, InlineExecutor)
        assert first is not second
        assert not first.capabilities.reusable
    finally:
        release(first)
        release(second)
