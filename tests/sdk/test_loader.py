"""Loading flow files: FILE.py or FILE.py:FLOW, with errors that name the file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from weir.errors import CycleError, FlowLoadError
from weir.sdk.loader import load_flow

GOOD = """
import weir

@weir.task
def hello(name: str) -> str:
    return f"hello {name}"

@weir.flow
def greet(name: str = "world") -> str:
    return hello(name)
"""


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_a_named_flow_loads_traced(tmp_path: Path) -> None:
    path = write(tmp_path, "greeting.py", GOOD)
    flow = load_flow(f"{path}:greet")
    assert flow.name == "greet"
    assert list(flow.graph.nodes) == ["hello"]


def test_a_file_with_one_flow_loads_without_a_name(tmp_path: Path) -> None:
    path = write(tmp_path, "greeting_only.py", GOOD)
    assert load_flow(str(path)).name == "greet"


def test_a_missing_file_is_a_load_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.py"
    with pytest.raises(FlowLoadError) as info:
        load_flow(f"{missing}:greet")
    assert str(missing) in str(info.value)
    assert "no such file" in str(info.value)


def test_a_syntax_error_is_a_load_error_naming_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken_syntax.py", "import weir\n\ndef oops(:\n    pass\n")
    with pytest.raises(FlowLoadError) as info:
        load_flow(f"{path}:oops")
    assert f"{path}:3" in str(info.value)
    assert "syntax error" in str(info.value)


def test_a_file_raising_at_import_is_a_load_error_naming_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "raising.py", "import weir\nx = 1\nraise ValueError('bad config')\n")
    with pytest.raises(FlowLoadError) as info:
        load_flow(f"{path}:anything")
    message = str(info.value)
    assert f"{path}:3" in message
    assert "ValueError: bad config" in message


def test_a_missing_flow_name_is_a_load_error_listing_the_flows_there(tmp_path: Path) -> None:
    path = write(tmp_path, "greeting_named.py", GOOD)
    with pytest.raises(FlowLoadError) as info:
        load_flow(f"{path}:nope")
    assert str(path) in str(info.value)
    assert "'nope'" in str(info.value)
    assert "greet" in str(info.value)


def test_a_target_that_is_not_a_python_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FlowLoadError, match=r"FILE\.py:FLOW"):
        load_flow(f"{tmp_path}/flows.txt:greet")


def test_a_cyclic_flow_in_a_file_fails_at_load_time(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cyclic.py",
        """
        import weir

        @weir.task
        def step() -> None: ...

        @weir.flow
        def loop() -> None:
            a = step()
            b = step()
            a >> b
            b >> a
        """,
    )
    with pytest.raises(CycleError) as info:
        load_flow(f"{path}:loop")
    assert f"{path}:12" in str(info.value)
