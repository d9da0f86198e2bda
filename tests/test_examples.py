"""The examples run and end as their docstrings say.

Each example is loaded the way ``weir run examples/X.py:FLOW`` loads it, then run on the
inline executor (and ``fan_out`` also on the local process pool).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

import weir
from weir.sdk.loader import load_flow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def _own_weir_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIR_HOME", str(tmp_path / "weir-home"))
    # The examples make scratch folders with tempfile; keep them inside the test's folder.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))


def example(target: str) -> weir.Flow:
    """The flow ``FILE.py:FLOW`` from the examples folder."""
    return load_flow(str(EXAMPLES / target))


def states(run: Any) -> dict[str, str]:
    """``{label: state}`` of every task run; mapped elements are labelled ``task[i]``."""
    return {record.label: str(record.state) for record in run.task_runs}


def log_of(run: Any, task_id: str, try_number: int = 1) -> str:
    return str(run.log(task_id, try_number=try_number))


def test_hello_greets_world_by_default_and_logs_who_it_greeted() -> None:
    run = example("hello.py:hello").run(executor="inline")

    assert run.state == "success"
    assert run.result() == "HELLO, WORLD!"
    assert states(run) == {"greet": "success", "shout": "success"}
    assert "greeting world" in log_of(run, "greet")


def test_hello_greets_the_name_given_as_a_param() -> None:
    run = example("hello.py:hello").run(executor="inline", name="Ada")

    assert run.result() == "HELLO, ADA!"
    assert run.params == {"name": "Ada"}


def test_fan_out_squares_each_number_in_its_own_task_run_and_adds_them_up() -> None:
    run = example("fan_out.py:squares").run(executor="inline", n=5)

    assert run.state == "success"
    assert run.result() == 0 + 1 + 4 + 9 + 16
    assert states(run) == {
        "numbers": "success",
        "square": "success",
        **{f"square[{i}]": "success" for i in range(5)},
        "total": "success",
    }
    assert "0 + 1 + 4 + 9 + 16 = 30" in log_of(run, "total")


def test_fan_out_over_an_empty_list_sums_to_zero() -> None:
    run = example("fan_out.py:squares").run(executor="inline", n=0)

    assert run.state == "success"
    assert run.result() == 0


def test_fan_out_gives_the_same_total_on_the_local_process_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIR_WORKERS", "2")

    run = example("fan_out.py:squares").run(executor="local", n=5)

    assert run.state == "success"
    assert run.result() == 30
    workers = {t.worker for t in run.tries() if t.task_id == "square"}
    assert all(w and w.startswith("pid ") for w in workers)


@pytest.mark.parametrize(
    ("mode", "ran", "skipped", "result"),
    [
        ("full", "full_refresh", "incremental", "rebuilt all 12 partitions"),
        ("incremental", "incremental", "full_refresh", "appended 1 new partition"),
    ],
)
def test_branching_follows_the_chosen_path_skips_the_other_and_joins(
    mode: str, ran: str, skipped: str, result: str
) -> None:
    run = example("branching.py:branching").run(executor="inline", mode=mode)

    assert run.state == "success"
    assert run.result() == result
    assert states(run) == {"choose": "success", ran: "success", skipped: "skipped", "report": "success"}


def test_branching_refuses_an_unknown_mode_before_anything_runs() -> None:
    with pytest.raises(weir.ParamsError, match="mode"):
        example("branching.py:branching").run(executor="inline", mode="sideways")


def test_cleanup_runs_after_a_failure_and_the_run_still_fails() -> None:
    run = example("cleanup.py:cleanup").run(executor="inline")

    assert run.state == "failed"
    assert states(run) == {
        "stage": "success",
        "load": "failed",
        "publish": "upstream_failed",
        "remove_scratch": "success",
    }
    assert [t.state for t in sorted(run.tries("load"), key=lambda t: t.number)] == ["up_for_retry", "failed"]
    assert "warehouse unreachable" in (run.tries("load")[0].error or "")
    scratch = run.task_result("stage")
    assert run.task_result("remove_scratch") == scratch
    assert not Path(scratch).exists()
    with pytest.raises(weir.WeirError, match="failed"):
        run.result()


def test_cleanup_succeeds_without_an_outage_and_still_removes_the_scratch_folder() -> None:
    run = example("cleanup.py:cleanup").run(executor="inline", outage=False)

    assert run.state == "success"
    assert run.result() == "published 2 rows"
    assert not Path(run.task_result("stage")).exists()


def test_etl_loads_daily_page_stats_that_pass_the_quality_check(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.db"

    run = example("etl.py:clickstream").run(
        executor="inline", day="2024-03-01", events=1000, warehouse=str(warehouse)
    )

    assert run.state == "success"
    assert set(states(run).values()) == {"success"}
    summary = run.result()
    assert summary["day"] == "2024-03-01"
    assert summary["warehouse"] == str(warehouse)
    assert set(summary["dropped"]) == {"duplicate", "missing_user", "bad_timestamp", "unknown_event_type"}
    with sqlite3.connect(warehouse) as conn:
        rows = conn.execute(
            "SELECT url, page_views, purchases FROM page_stats WHERE day = '2024-03-01'"
        ).fetchall()
    conn.close()
    assert len(rows) == summary["pages"] > 0
    assert sum(r[1] for r in rows) == summary["page_views"]
    assert sum(r[2] for r in rows) == summary["purchases"]


def test_etl_rerun_of_a_day_replaces_its_rows_instead_of_adding_to_them(tmp_path: Path) -> None:
    warehouse = str(tmp_path / "warehouse.db")
    flow = example("etl.py:clickstream")

    first = flow.run(executor="inline", events=500, warehouse=warehouse).result()
    second = flow.run(executor="inline", events=500, warehouse=warehouse).result()

    assert second == first
    with sqlite3.connect(warehouse) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM page_stats").fetchone()
    conn.close()
    assert count == first["pages"]


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("hello.py", "success -> 'HELLO, WORLD!'"),
        ("fan_out.py", "sum of squares = 30"),
        ("branching.py", "success -> 'rebuilt all 12 partitions'"),
        ("cleanup.py", "failed (task(s) failed: load"),
        ("etl.py", "success"),
    ],
)
def test_each_example_runs_as_a_script_on_the_default_executor(
    script: str, says: str, tmp_path: Path
) -> None:
    env = {**os.environ, "WEIR_WORKERS": "2", "TMPDIR": str(tmp_path)}

    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert says in done.stdout
