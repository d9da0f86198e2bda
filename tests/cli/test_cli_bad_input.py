"""Bad input: one ``error:`` line on stderr, exit 2, no traceback, and no run recorded."""

from __future__ import annotations

import pytest


@pytest.fixture
def bad_files(write_file, flows_file):
    write_file(
        "broken.py",
        """
        import weir

        x = 1
        raise RuntimeError("broken at import")
        """,
    )
    write_file(
        "cyclic.py",
        """
        import weir

        @weir.task
        def a() -> int:
            return 1

        @weir.task
        def b() -> int:
            return 2

        @weir.flow
        def cyclic() -> None:
            x = a()
            y = b()
            x >> y
            y >> x
        """,
    )
    write_file("syntax.py", "def nope(:\n    pass\n")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "missing.py:x"], "missing.py: no such file"),
        (["run", "flows.py:nope"], "no flow named 'nope'"),
        (["run", "flows.py"], "defines 4 flows (squares, greet, retrying, failing)"),
        (["run", "flows"], "is not FILE.py:FLOW"),
        (
            ["run", "broken.py:x"],
            "broken.py:5: importing the flow file raised RuntimeError: broken at import",
        ),
        (["run", "syntax.py:x"], "syntax.py:1: syntax error"),
        (["run", "cyclic.py:cyclic"], "cyclic.py:17: flow 'cyclic' has a cycle"),
        (["run", "flows.py:squares", "-p", "n=many"], "invalid params for flow 'squares': n:"),
        (["run", "flows.py:squares", "-p", "m=1"], "m: not a param of this flow"),
        (["run", "flows.py:greet"], "names: Field required"),
        (["run", "flows.py:squares", "-p", "n"], "-p expects key=value, not 'n'"),
        (["run", "flows.py:squares", "--executor", "dask"], "unknown executor 'dask'"),
        (["flows", "show", "cyclic.py:cyclic"], "has a cycle"),
        (["runs", "show", "42"], "there is no run 42"),
        (["logs", "42", "square"], "there is no run 42"),
        (["runs", "list", "--state", "sleepy"], "unknown run state 'sleepy'"),
    ],
)
def test_bad_input_prints_one_error_line_exits_2_and_records_no_run(weir, bad_files, args, expected):
    done = weir(*args)

    assert done.code == 2, done
    assert done.err.startswith("error: "), done
    assert expected in done.err, done
    assert "Traceback" not in done.err
    assert len(done.err.strip().splitlines()) == 1, done
    assert weir("runs", "list", "--json").json() == []


def test_an_unknown_executor_is_refused_before_the_store_is_touched(weir, flows_file, home):
    done = weir("run", "flows.py:squares", "-e", "nope")

    assert done.code == 2
    assert not (home / "weir.db").exists()


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("runs", "show", "abc"), "weir runs show: Invalid value for 'RUN'"),
        (("runs", "show"), "weir runs show: Missing argument 'RUN'."),
        (("runs", "nope"), "weir runs: No such command 'nope'."),
        (("runs", "list", "--nope"), "weir runs list: No such option: --nope"),
    ],
)
def test_a_bad_command_line_is_one_line_naming_the_command_and_its_help(weir, argv, said):
    result = weir(*argv)

    assert result.code == 2
    assert result.err.strip().splitlines() == [result.err.strip()]  # one line, no framed box
    assert result.err.startswith(said) and f"(see `{said.split(':')[0]} --help`)" in result.err
    assert "╭" not in result.err and "Traceback" not in result.err
