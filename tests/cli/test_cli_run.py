"""``weir run``: runs a flow in the foreground, prints its outcome, exits 0 or 1."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_run_prints_the_result_and_exits_0_on_success(weir, flows_file, home, executor):
    done = weir("run", "flows.py:squares", "-p", "n=4", "--executor", executor)

    assert done.code == 0, done
    assert "success" in done.out
    assert "result: 14" in done.out
    assert f"logs: {home / 'logs' / '1'}/" in done.out


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_run_json_prints_one_object_with_state_result_and_task_runs(weir, flows_file, home, executor):
    done = weir("run", "flows.py:squares", "-p", "n=3", "-e", executor, "--json")

    assert done.code == 0, done
    data = done.json()
    assert data["id"] == 1
    assert data["flow_name"] == "squares"
    assert data["state"] == "success"
    assert data["result"] == 5
    assert data["logs"] == str(home / "logs" / "1")
    assert data["executor"] == executor
    labels = {row["label"]: row["state"] for row in data["task_runs"]}
    assert labels == {
        "numbers": "success",
        "square": "success",
        "square[0]": "success",
        "square[1]": "success",
        "square[2]": "success",
        "total": "success",
    }


def test_run_json_gives_the_repr_of_a_result_that_is_not_json(weir, write_file):
    write_file(
        "sets.py",
        """
        import weir

        @weir.task
        def make() -> set[int]:
            return {3}

        @weir.flow
        def sets() -> set[int]:
            return make()
        """,
    )
    data = weir("run", "sets.py:sets", "-e", "inline", "--json").json()

    assert data["result"] == "{3}"
    assert data["result_is_json"] is False


def test_param_values_are_read_as_json_when_they_parse(weir, flows_file):
    done = weir(
        "run", "flows.py:greet", "-p", 'names=["ann", "bob"]', "-p", "loud=true", "--json", "-e", "inline"
    )

    assert done.code == 0, done
    assert done.json()["result"] == "ANN, BOB"
    assert done.json()["params"] == {"names": ["ann", "bob"], "loud": True}


def test_a_param_value_that_is_not_json_stays_a_string(weir, write_file):
    write_file(
        "echo.py",
        """
        import weir

        @weir.task
        def same(x: str) -> str:
            return x

        @weir.flow
        def echo(day: str) -> str:
            return same(day)
        """,
    )
    done = weir("run", "echo.py:echo", "-p", "day=2024-01-02", "-e", "inline", "--json")

    assert done.json()["result"] == "2024-01-02"


def test_a_failing_flow_exits_1_and_names_the_failed_task_and_its_error(weir, flows_file):
    done = weir("run", "flows.py:failing", "-e", "inline")

    assert done.code == 1, done
    assert "failed" in done.out
    assert "explode" in done.out
    assert "ValueError: cannot take 7" in done.out


def test_runs_show_of_a_failed_run_shows_the_failed_task_with_its_error(weir, flows_file):
    assert weir("run", "flows.py:failing", "-e", "local").code == 1

    shown = weir("runs", "show", "1")
    data = weir("runs", "show", "1", "--json").json()

    assert shown.code == 0
    assert "ValueError: cannot take 7" in shown.out
    states = {row["task_id"]: row["state"] for row in data["task_runs"]}
    assert states == {"explode": "failed", "after": "upstream_failed"}
    explode = next(row for row in data["task_runs"] if row["task_id"] == "explode")
    assert "ValueError: cannot take 7" in explode["error"]
    assert data["state"] == "failed"


def test_python_dash_m_weir_runs_the_cli(weir, flows_file):
    done = weir("--help")

    assert done.code == 0
    for command in ("run", "flows", "runs", "logs", "db"):
        assert command in done.out
