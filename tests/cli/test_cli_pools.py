"""``weir pools set|list|delete``, and a task waiting for a pool slot as ``weir runs show`` tells it."""

from __future__ import annotations

import pytest

POOLED = """
import time
from pathlib import Path

import weir


@weir.task(pool="db")
def query(gate: str) -> str:
    while not Path(gate).exists():
        time.sleep(0.05)
    return "done"


@weir.flow
def pooled(gate: str) -> str:
    return query(gate)
"""


def _pools(weir):
    return {row["name"]: row for row in weir("pools", "list", "--json").json()}


def test_pools_set_creates_changes_and_lists_a_pool(weir):
    assert "no pools" in weir("pools", "list").out

    made = weir("pools", "set", "db", "2", "--description", "the warehouse")
    changed = weir("pools", "set", "db", "3")

    assert made.code == 0, made
    assert "pool db: 2 slots" in made.out
    assert changed.code == 0, changed
    [row] = weir("pools", "list", "--json").json()
    assert (row["name"], row["slots"], row["used"], row["free"]) == ("db", 3, 0, 3)
    assert row["description"] == "the warehouse"
    table = weir("pools", "list").out
    assert "db" in table and "the warehouse" in table


def test_pools_delete_forgets_a_pool_and_refuses_an_unknown_one(weir):
    assert weir("pools", "set", "db", "1").code == 0

    deleted = weir("pools", "delete", "db")
    again = weir("pools", "delete", "db")

    assert deleted.code == 0, deleted
    assert "pool db deleted" in deleted.out
    assert _pools(weir) == {}
    assert again.code == 2
    assert "there is no pool 'db'" in again.err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["pools", "set", "no spaces", "1"], "pool"),
        (["pools", "set", "db", "2000000"], "slots must be a whole number from 0 to 1000000"),
    ],
)
def test_pools_set_refuses_a_bad_name_or_slot_count(weir, args, expected):
    done = weir(*args)

    assert done.code == 2, done
    assert done.err.startswith("error: ") and expected in done.err
    assert _pools(weir) == {}


def test_a_run_of_a_flow_whose_pool_does_not_exist_is_refused(weir, write_file):
    write_file("pooled.py", POOLED)

    done = weir("trigger", "pooled.py:pooled", "-p", "gate=x")

    assert done.code == 2, done
    assert "uses pool 'db', which does not exist" in done.err
    assert weir("runs", "list", "--json").json() == []


@pytest.mark.slow
def test_a_task_waits_for_a_slot_shows_why_and_runs_once_the_pool_has_one(
    weir, spawn, write_file, tmp_path, wait_for
):
    write_file("pooled.py", POOLED)
    gate = tmp_path / "gate"
    assert weir("pools", "set", "db", "0").code == 0
    proc = spawn("run", "pooled.py:pooled", "-p", f"gate={gate}", "-e", "local")

    def note():
        shown = weir("runs", "show", "1", "--json")
        return shown.code == 0 and shown.json()["task_runs"][0]["note"]

    waiting = wait_for(note, what="the task to wait for its pool")
    assert waiting == "waiting for a slot of pool 'db' (0 slots, all in use)"
    shown = weir("runs", "show", "1").out
    assert "query: waiting for a slot of pool 'db'" in shown

    assert weir("pools", "set", "db", "1").code == 0
    busy = wait_for(lambda: _pools(weir)["db"]["used"] == 1 and _pools(weir)["db"], what="the slot taken")
    assert busy["free"] == 0
    gate.touch()
    proc.communicate(timeout=60)

    assert proc.returncode == 0
    data = weir("runs", "show", "1", "--json").json()
    assert data["state"] == "success"
    assert data["task_runs"][0]["note"] is None
    assert _pools(weir)["db"]["used"] == 0
