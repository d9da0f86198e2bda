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
    assert rows["squares"]["run_count"] == 2
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


POLICIES = """
import weir

@weir.task(retries=2, retry_delay=5, timeout=30, pool="db", priority=3)
def load() -> list[int]:
    return [1]

@weir.task(cache=True, tags=["report"])
def report(xs: list[int]) -> int:
    return len(xs)

@weir.flow(schedule="@daily", tags=["nightly"], timeout=600)
def policed() -> int:
    return report(load())
"""


def test_flows_show_gives_each_tasks_effective_policy_from_the_snapshot(weir, write_file):
    write_file("policed.py", POLICIES)

    done = weir("flows", "show", "policed.py:policed")
    data = weir("flows", "show", "policed.py:policed", "--json").json()

    assert done.code == 0, done
    assert "load  [retries 2 (delay 5s), timeout 30s, pool db, priority 3]" in done.out
    assert "report  [cache, tags report]" in done.out
    assert "schedule: " in done.out and "tags: nightly" in done.out and "timeout: 600s" in done.out
    load = next(n for n in data["nodes"] if n["task_id"] == "load")
    assert load["policy"]["retry"]["retries"] == 2
    assert (load["policy"]["timeout"], load["policy"]["pool"], load["policy"]["priority"]) == (30, "db", 3)
    assert data["tags"] == ["nightly"] and data["location"].startswith("policed.py:")
