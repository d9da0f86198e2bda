"""``weir runs list``, ``weir runs show`` and ``weir logs``, each from a new process."""

from __future__ import annotations

import pytest


@pytest.fixture
def two_runs(weir, flows_file):
    assert weir("run", "flows.py:squares", "-p", "n=3", "-e", "inline").code == 0
    assert weir("run", "flows.py:failing", "-e", "inline").code == 1


def test_runs_list_shows_runs_newest_first(weir, two_runs):
    rows = weir("runs", "list", "--json").json()

    assert [(r["id"], r["flow_name"], r["state"]) for r in rows] == [
        (2, "failing", "failed"),
        (1, "squares", "success"),
    ]
    table = weir("runs", "list").out
    assert table.index("failing") < table.index("squares")


def test_runs_list_filters_by_flow_state_and_limit(weir, two_runs):
    assert [r["id"] for r in weir("runs", "list", "--flow", "squares", "--json").json()] == [1]
    assert [r["id"] for r in weir("runs", "list", "--state", "failed", "--json").json()] == [2]
    assert [r["id"] for r in weir("runs", "list", "--limit", "1", "--json").json()] == [2]
    assert "no runs matching" in weir("runs", "list", "--flow", "other").out


def test_runs_show_lists_task_runs_in_graph_order_with_mapped_elements(weir, two_runs):
    shown = weir("runs", "show", "1")

    assert shown.code == 0
    lines = shown.out.splitlines()
    labels = [
        line.split()[0]
        for line in lines
        if line.split() and line.split()[0].startswith(("numbers", "square", "total"))
    ]
    assert labels == ["numbers", "square", "square[0]", "square[1]", "square[2]", "total"]
    assert "flow squares" in shown.out
    assert "{'n': 3}" in shown.out


def test_runs_show_json_gives_states_and_every_try(weir, flows_file, tmp_path):
    marker = tmp_path / "marker"
    assert weir("run", "flows.py:retrying", "-p", f"marker={marker}", "-e", "local").code == 0

    data = weir("runs", "show", "1", "--json").json()

    assert data["state"] == "success"
    assert data["params"] == {"marker": str(marker)}
    [flaky] = data["task_runs"]
    assert flaky["state"] == "success"
    assert [t["number"] for t in flaky["tries"]] == [1, 2]
    assert flaky["tries"][0]["state"] in ("failed", "up_for_retry")
    assert flaky["tries"][1]["state"] == "success"
    assert "not this time" in flaky["tries"][0]["error"]
    assert flaky["max_tries"] == 3


def test_logs_prints_what_the_latest_try_printed(weir, flows_file, tmp_path):
    marker = tmp_path / "marker"
    assert weir("run", "flows.py:retrying", "-p", f"marker={marker}", "-e", "inline").code == 0

    latest = weir("logs", "1", "flaky")
    first = weir("logs", "1", "flaky", "--try", "1")

    assert latest.code == 0
    assert "second try works" in latest.out
    assert "first try fails" not in latest.out
    assert "first try fails" in first.out
    assert "RuntimeError: not this time" in first.out


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_logs_of_a_mapped_element_by_label_or_map_index(weir, flows_file, executor):
    assert weir("run", "flows.py:squares", "-p", "n=3", "-e", executor).code == 0

    assert "squaring 2" in weir("logs", "1", "square[2]").out
    assert "squaring 1" in weir("logs", "1", "square", "--map-index", "1").out
    assert "making 3 numbers" in weir("logs", "1", "numbers").out


def test_logs_of_a_try_that_printed_nothing_is_empty(weir, flows_file):
    assert weir("run", "flows.py:squares", "-e", "inline").code == 0

    done = weir("logs", "1", "total")

    assert done.code == 0
    assert done.out == ""
    assert "wrote no output" in done.err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["logs", "1", "nope"], "run 1 has no task 'nope' (its tasks: numbers, square, total)"),
        (["logs", "1", "square"], "is mapped: name an element with --map-index"),
        (["logs", "1", "square[9]"], "task square[9] of run 1 has no tries"),
        (["logs", "1", "numbers", "--try", "3"], "has no try 3 (its tries: 1)"),
    ],
)
def test_logs_refuses_what_does_not_exist(weir, two_runs, args, expected):
    done = weir(*args)

    assert done.code == 2, done
    assert expected in done.err


def test_logs_says_when_the_log_file_is_missing(weir, two_runs, home):
    log = next((home / "logs" / "1").glob("numbers*.log"))
    log.unlink()

    done = weir("logs", "1", "numbers")

    assert done.out == ""
    assert str(log) in done.err


def test_a_table_piped_to_another_program_is_not_cut_to_80_columns(weir, weir_env, tmp_path, write_file):
    import subprocess
    import sys

    name = "a_flow_with_a_rather_long_name_that_a_narrow_table_would_have_to_cut_or_fold_" + "x" * 20
    write_file(
        "long.py",
        "import weir\n\n@weir.task\ndef t() -> int:\n    return 1\n\n"
        f"@weir.flow\ndef {name}() -> int:\n    return t()\n",
    )
    assert weir("run", f"long.py:{name}", "-e", "inline").code == 0
    env = {k: v for k, v in weir_env.items() if k != "COLUMNS"}

    listed = subprocess.run(
        [sys.executable, "-m", "weir", "runs", "list"], cwd=tmp_path, env=env, capture_output=True, text=True
    )

    (row,) = [line for line in listed.stdout.splitlines() if line.lstrip().startswith("1 ")]
    assert name in row and len(row) > 80
