"""``weir backfill``: runs for past intervals, with the scheduler's keys, driven in the foreground."""

from __future__ import annotations

import pytest


def test_backfill_makes_one_run_per_interval_and_again_makes_none(weir, project, store_runs):
    result = weir("backfill", "daily_etl", "--start", "2024-01-01", "--end", "2024-01-05", "--json")

    assert result.code == 0, result
    runs = store_runs()
    assert len(runs) == 5
    assert {r["state"] for r in runs} == {"success"}
    assert {r["trigger"] for r in runs} == {"backfill"}
    assert sorted(r["run_key"] for r in runs) == [
        f"scheduled:daily_etl:2024-01-0{day}T00:00:00+00:00" for day in range(1, 6)
    ]
    shown = weir("runs", "show", str(runs[0]["id"]), "--json").json()
    assert (shown["interval_start"], shown["interval_end"]) == (
        "2024-01-01T00:00:00+00:00",
        "2024-01-02T00:00:00+00:00",
    )

    again = weir("backfill", "daily_etl", "--start", "2024-01-01", "--end", "2024-01-05")
    assert again.code == 0, again
    assert "5 already succeeded" in again.out
    assert len(store_runs()) == 5


def test_backfill_dry_run_lists_intervals_and_writes_nothing(weir, project, home, store_runs):
    result = weir("backfill", "daily_etl", "-s", "2024-01-01", "-e", "2024-01-03", "--dry-run", "--json")

    assert result.code == 0, result
    rows = result.json()["intervals"]
    assert [r["logical_date"] for r in rows] == [f"2024-01-0{d}T00:00:00+00:00" for d in (1, 2, 3)]
    assert [r["interval_end"] for r in rows] == [f"2024-01-0{d}T00:00:00+00:00" for d in (2, 3, 4)]
    assert {r["action"] for r in rows} == {"create"}
    assert not home.exists() or store_runs() == []
    text = weir("backfill", "daily_etl", "-s", "2024-01-01", "-e", "2024-01-03", "--dry-run", "--reverse")
    assert "nothing was written" in text.out
    assert text.out.index("2024-01-03 00:00:00 ->") < text.out.index("2024-01-01 00:00:00 ->")


def test_backfill_dry_run_after_a_backfill_says_what_succeeded(weir, project, store_runs):
    assert weir("backfill", "daily_etl", "-s", "2024-01-02", "-e", "2024-01-02").code == 0

    rows = weir("backfill", "daily_etl", "-s", "2024-01-01", "-e", "2024-01-03", "--dry-run", "--json")
    actions = [r["action"] for r in rows.json()["intervals"]]

    assert actions == ["create", "succeeded", "create"]
    assert len(store_runs()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["on_orders", "-s", "2024-01-01", "-e", "2024-01-02"], "has no time schedule"),
        (["daily_etl", "-s", "2024-01-05", "-e", "2024-01-01"], "is after end"),
        (["daily_etl", "-s", "yesterday", "-e", "2024-01-01"], "invalid start"),
        (["daily_etl", "-s", "2024-01-01", "-e", "2024-01-02", "-p", "nope=1"], "not a param"),
        (["daily_etl", "-s", "1990-01-01", "-e", "2024-01-02"], "more than 10000 intervals"),
    ],
)
def test_backfill_refuses_bad_input_and_writes_nothing(weir, project, store_runs, args, message):
    result = weir("backfill", *args)

    assert result.code == 2, result
    assert message in result.err
    assert store_runs() == []


def test_backfill_only_failed_retries_the_failed_interval_only(weir, project, tmp_path, store_runs):
    (project / "flows" / "more.py").write_text(
        "import weir\n"
        "from pathlib import Path\n\n"
        "@weir.task\n"
        "def check(marker: str) -> str:\n"
        "    ctx = weir.context()\n"
        "    if ctx.logical_date.day == 2 and not Path(marker).exists():\n"
        "        raise RuntimeError('day 2 breaks')\n"
        "    return 'ok'\n\n"
        "@weir.flow(schedule='@daily', max_active_runs=3)\n"
        "def picky(marker: str) -> str:\n"
        "    return check(marker)\n"
    )
    marker = tmp_path / "fixed"
    args = ["backfill", "picky", "-s", "2024-01-01", "-e", "2024-01-03", "-p", f"marker={marker}"]

    first = weir(*args)
    assert first.code == 1, first
    assert "1 failed" in first.out
    states = {r["logical_date"][:10]: r["state"] for r in store_runs()}
    assert states == {"2024-01-01": "success", "2024-01-02": "failed", "2024-01-03": "success"}

    marker.write_text("yes")
    second = weir(*args, "--only-failed", "--json")
    assert second.code == 0, second
    actions = {r["logical_date"][:10]: r["action"] for r in second.json()["intervals"]}
    assert actions == {"2024-01-01": "succeeded", "2024-01-02": "retry", "2024-01-03": "succeeded"}
    assert [r["state"] for r in store_runs()] == ["success"] * 3


@pytest.mark.slow
def test_backfill_stopped_with_ctrl_c_takes_up_where_it_stopped(weir, spawn, project, store_runs, wait_for):
    import signal

    args = ("backfill", "slow_daily", "-s", "2024-01-01", "-e", "2024-01-04", "-p", "seconds=1.5")
    proc = spawn(*args)
    wait_for(lambda: any(r["state"] == "running" for r in store_runs()), what="a running run")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)

    assert proc.returncode == 130, out
    assert "run the same command again" in out
    stopped = store_runs()
    assert 1 <= len(stopped) < 4
    assert all(r["owner"] is None for r in stopped)
    # It reports what it did, not what it planned: the runs it made, the intervals not reached.
    assert f"4 intervals: {len(stopped)} new, 0 taken up" in out
    assert f"not started: {4 - len(stopped)} intervals" in out

    again = weir(*args)

    assert again.code == 0, again
    runs = store_runs()
    assert len(runs) == 4
    assert [r["state"] for r in runs] == ["success"] * 4
    assert len({r["run_key"] for r in runs}) == 4
