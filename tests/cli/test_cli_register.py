"""``weir flows register``, and flows visible as soon as they are registered: ``weir flows list``
(with ``--tag``), ``weir flows errors`` (with flows naming missing pools), ``weir runs list --tag``."""

from __future__ import annotations

import textwrap

PROJECT_FLOWS = {
    "daily_etl",
    "ticking",
    "on_orders",
    "audit_orders",
    "manual",
    "breaks",
    "sleepy",
    "slow_daily",
}

TAGGED = """
import weir


@weir.task
def one() -> int:
    return 1


@weir.flow(tags=["nightly", "finance"])
def ledger() -> int:
    return one()


@weir.flow(tags=["nightly"])
def summary() -> int:
    return one()
"""


def _write(project, name, source):
    path = project / "flows" / name
    path.write_text(textwrap.dedent(source))
    return path


def test_register_brings_the_store_in_step_and_again_changes_nothing(weir, project):
    first = weir("flows", "register")
    data = weir("flows", "register", "--json").json()
    again = weir("flows", "register")

    assert first.code == 0, first
    assert "registered 1 file: 8 flows, 8 new versions" in first.out
    assert "new version: daily_etl@" in first.out
    assert data == {"changed": False, "files": [], "flows": [], "new_versions": [], "gone": [], "errors": {}}
    assert again.code == 0
    assert "nothing changed: the store is in step with the project's 1 flow files" in again.out


def test_register_reports_a_file_in_error_and_exits_1_until_it_is_fixed(weir, project):
    broken = _write(project, "broken.py", "import weir\nraise RuntimeError('boom at import')\n")

    first = weir("flows", "register")
    again = weir("flows", "register", "--json")

    assert first.code == 1, first
    assert "error: flows/broken.py:" in first.out and "boom at import" in first.out
    assert again.code == 1
    [(path, error)] = again.json()["errors"].items()
    assert path == str(broken) and "boom at import" in error

    _write(project, "broken.py", TAGGED)
    fixed = weir("flows", "register", "--json")
    assert fixed.code == 0, fixed
    assert sorted(fixed.json()["flows"]) == ["ledger", "summary"]
    assert fixed.json()["errors"] == {}


def test_register_forgets_a_deleted_file_and_reads_named_files_again(weir, project):
    extra = _write(project, "extra.py", TAGGED)
    assert weir("flows", "register").code == 0

    extra.unlink()
    gone = weir("flows", "register", "--json").json()
    named = weir("flows", "register", "flows/etl.py", "--json")

    assert gone["gone"] == [str(extra)]
    assert named.code == 0, named
    assert named.json()["files"] == [str(project / "flows" / "etl.py")]
    assert named.json()["new_versions"] == []  # read again, unchanged


def test_register_outside_a_project_needs_files(weir, write_file):
    refused = weir("flows", "register")
    write_file("tagged.py", TAGGED)
    named = weir("flows", "register", "tagged.py")

    assert refused.code == 2 and "no flow folders" in refused.err
    assert named.code == 0, named
    assert {r["name"] for r in weir("flows", "list", "--json").json()} == {"ledger", "summary"}


def test_flows_list_shows_every_flow_of_the_project_before_any_run(weir, project):
    rows = {row["name"]: row for row in weir("flows", "list", "--json").json()}

    assert set(rows) == PROJECT_FLOWS
    assert rows["manual"]["schedule"] is None and rows["manual"]["run_count"] == 0
    assert rows["daily_etl"]["schedule"] and rows["daily_etl"]["next_run_at"]
    assert rows["on_orders"]["schedule"] == "on event 'orders'"
    table = weir("flows", "list").out
    assert "manual" in table and "A daily flow, backfilled in the tests." in table


def test_flows_list_and_runs_list_filter_by_tag(weir, project):
    _write(project, "tagged.py", TAGGED)
    assert weir("trigger", "ledger").code == 0
    assert weir("trigger", "manual").code == 0
    assert weir("trigger", "summary").code == 0

    nightly = weir("flows", "list", "--tag", "nightly", "--json").json()
    finance = weir("flows", "list", "--tag", "finance", "--json").json()
    none = weir("flows", "list", "--tag", "weekly")
    runs = weir("runs", "list", "--tag", "nightly", "--json").json()

    assert [(r["name"], r["tags"]) for r in nightly] == [
        ("ledger", ["finance", "nightly"]),
        ("summary", ["nightly"]),
    ]
    assert [r["name"] for r in finance] == ["ledger"]
    assert "no flow is tagged 'weekly'" in none.out
    assert [(r["id"], r["flow_name"]) for r in runs] == [(3, "summary"), (1, "ledger")]
    assert "no runs matching" in weir("runs", "list", "--tag", "weekly").out


def test_flows_errors_names_a_flow_whose_pool_does_not_exist_until_it_does(weir, project):
    _write(
        project,
        "pooled.py",
        """
        import weir

        @weir.task(pool="warehouse")
        def query() -> int:
            return 1

        @weir.flow
        def pooled() -> int:
            return query()
        """,
    )

    [row] = weir("flows", "errors", "--json").json()
    text = weir("flows", "errors").out
    assert weir("pools", "set", "warehouse", "2").code == 0
    after = weir("flows", "errors")

    assert (row["where"], row["flow_name"], row["path"]) == ("flow pooled", "pooled", None)
    assert "task 'query' uses pool 'warehouse', which does not exist" in row["error"]
    assert "weir pools set warehouse SLOTS" in text
    assert "no flow file errors" in after.out
