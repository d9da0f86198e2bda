"""``weir flows list`` and ``weir flows show``."""

from __future__ import annotations


def test_flows_list_shows_recorded_flows_with_run_counts_and_last_state(weir, flows_file):
    assert "no flows recorded yet" in weir("flows", "list").out
    weir("run", "flows.py:squares", "-e", "inline")
    weir("run", "flows.py:squares", "-e", "inline")
    weir("run", "flows.py:failing", "-e", "inline")

    rows = {row["name"]: row for row in weir("flows", "list", "--json").json()}
    table = weir("flows", "list").out

    assert set(rows) == {"squares", "failing"}
    assert rows["squares"]["runs"] == 2
    assert rows["squares"]["last_state"] == "success"
    assert rows["squares"]["description"] == "Sum of the squares below n."
    assert rows["failing"]["last_state"] == "failed"
    assert "Sum of the squares below n." in table
    assert "More text" not in table


def test_flows_show_prints_tasks_in_order_with_upstream_and_params(weir, flows_file, write_file):
    write_file(
        "shapes.py",
        """
        import weir

        @weir.task
        def load(day: str) -> list[int]:
            return [1, 2]

        @weir.task
        def double(x: int) -> int:
            return 2 * x

        @weir.task
        def report(xs: list[int]) -> None:
            pass

        @weir.task
        def tidy() -> None:
            pass

        @weir.flow
        def shapes(day: str = "2024-01-01", limit: int = 5):
            xs = load(day)
            out = report(double.map(xs))
            out >> tidy.options(trigger="all_done")()
        """,
    )
    done = weir("flows", "show", "shapes.py:shapes")

    assert done.code == 0, done
    out = done.out
    assert "day: str = '2024-01-01'" in out
    assert "limit: int = 5" in out
    assert out.index("load") < out.index("double") < out.index("report") < out.index("tidy")
    assert "double  [mapped]" in out
    assert "<- load (data)" in out
    assert "tidy  [trigger all_done]" in out
    assert "<- report (order)" in out


def test_flows_show_json_gives_nodes_edges_and_params(weir, flows_file):
    data = weir("flows", "show", "flows.py:squares", "--json").json()

    assert [n["task_id"] for n in data["nodes"]] == ["numbers", "square", "total"]
    assert ["numbers", "square", "data"] in data["edges"]
    assert data["params"] == [{"name": "n", "required": False, "type": "int", "default": 3}]
    assert next(n for n in data["nodes"] if n["task_id"] == "square")["mapped"] is True
