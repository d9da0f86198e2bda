"""``weir trigger``, ``weir pause|unpause``, ``weir flows next|errors`` and flows by name, in a project."""

from __future__ import annotations

import itertools
from datetime import datetime


def test_run_and_flows_show_take_a_registered_flow_name(weir, project):
    shown = weir("flows", "show", "daily_etl", "--json")
    assert shown.code == 0, shown
    assert shown.json()["name"] == "daily_etl"

    ran = weir("run", "manual", "-p", "n=4", "-e", "inline", "--json")
    assert ran.code == 0, ran
    assert ran.json()["result"] == 8


def test_a_flow_name_outside_a_project_is_refused_with_the_way_out(weir, tmp_path):
    result = weir("flows", "show", "daily_etl")

    assert result.code == 2
    assert "no project here" in result.err and "--flows DIR" in result.err


def test_flows_option_points_at_another_folder(weir, project, tmp_path):
    (project / "weir.toml").unlink()
    result = weir("flows", "show", "manual", "--flows", "flows", "--json")
    assert result.code == 0, result
    assert result.json()["name"] == "manual"

    missing = weir("flows", "show", "manual", "--flows", "nowhere")
    assert missing.code == 2
    assert "--flows: no such file or folder: nowhere" in missing.err


def test_an_unknown_flow_name_lists_the_flows_that_exist(weir, project, store_runs):
    result = weir("trigger", "nope")

    assert result.code == 2
    assert "no flow named 'nope'" in result.err and "daily_etl" in result.err
    assert store_runs() == []


def test_trigger_queues_a_manual_run_and_hints_at_the_scheduler(weir, project, store_runs):
    result = weir("trigger", "manual", "-p", "n=3")

    assert result.code == 0, result
    assert "run 1 of flow manual queued" in result.out
    assert "no scheduler is running" in result.err and "weir scheduler" in result.err
    [run] = store_runs()
    assert (run["flow_name"], run["state"], run["trigger"]) == ("manual", "queued", "manual")
    shown = weir("runs", "show", "1")
    assert "waiting: no scheduler is running to drive flow 'manual'" in shown.out
    assert weir("runs", "show", "1", "--json").json()["waiting"].startswith("waiting: no scheduler")


def test_trigger_refuses_bad_params_and_writes_nothing(weir, project, store_runs):
    result = weir("trigger", "manual", "-p", "n=lots")

    assert result.code == 2
    assert "invalid params for flow 'manual'" in result.err and "n:" in result.err
    assert store_runs() == []


def test_pause_refuses_triggers_and_events_until_unpaused(weir, project, store_runs):
    paused = weir("pause", "manual")
    assert paused.code == 0, paused
    assert "flow manual paused" in paused.out
    assert "already paused" in weir("pause", "manual").out

    refused = weir("trigger", "manual", "--json")
    assert refused.code == 2
    assert "flow 'manual' is paused" in refused.err
    assert store_runs() == []

    assert weir("unpause", "manual").code == 0
    assert weir("trigger", "manual", "--json").json()["id"] == 1


def test_pause_of_an_unknown_flow_is_refused(weir, project):
    result = weir("pause", "ghost")

    assert result.code == 2
    assert "no flow named 'ghost'" in result.err


def test_flows_next_lists_coming_fire_times_and_intervals(weir, project):
    result = weir("flows", "next", "daily_etl", "--count", "3", "--json")

    assert result.code == 0, result
    data = result.json()
    assert data["paused"] is False
    runs = data["runs"]
    assert len(runs) == 3
    fires = [datetime.fromisoformat(r["fire_at"]) for r in runs]
    assert all((b - a).days == 1 for a, b in itertools.pairwise(fires))
    for row in runs:
        assert row["interval_end"] == row["fire_at"]
        assert row["logical_date"] == row["interval_start"]
    assert "logical date" in weir("flows", "next", "daily_etl").out


def test_flows_next_of_an_event_flow_says_it_has_no_time_schedule(weir, project):
    result = weir("flows", "next", "on_orders")

    assert result.code == 2
    assert "has no time schedule" in result.err and "on event 'orders'" in result.err


def test_flows_errors_lists_files_that_failed_to_load(weir, project):
    assert "no flow file errors" in weir("flows", "errors").out
    (project / "flows" / "broken.py").write_text("import weir\nraise RuntimeError('boom at import')\n")

    result = weir("flows", "errors", "--json")

    assert result.code == 0, result
    [row] = result.json()
    assert row["path"].endswith("broken.py")
    assert "boom at import" in row["error"]
    assert "broken.py" in weir("flows", "errors").out
