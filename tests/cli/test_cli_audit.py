"""``weir audit``: every action taken from the command line, newest first, with who took it."""

from __future__ import annotations

import getpass


def test_audit_lists_actions_newest_first_with_actor_and_via(weir, project):
    assert weir("trigger", "manual").code == 0
    assert weir("pause", "manual").code == 0
    assert weir("pools", "set", "db", "2").code == 0
    assert weir("runs", "cancel", "1").code == 0

    rows = weir("audit", "--json").json()

    actions = [(r["action"], r["target"]) for r in rows]
    assert actions[:4] == [
        ("cancel", "run 1"),
        ("set_pool", "pool db"),
        ("pause", "flow manual"),
        ("trigger", "run 1"),
    ]
    assert ("register", "flows") in actions[4:]  # the project's files, brought in step first
    assert {r["via"] for r in rows} == {"cli"}
    assert {r["actor"] for r in rows} == {getpass.getuser()}
    assert rows[0]["id"] > rows[1]["id"]
    assert rows[3]["detail"]["flow"] == "manual"


def test_audit_filters_by_action_and_target_and_limits(weir, project):
    assert weir("pools", "set", "db", "1").code == 0
    assert weir("pools", "set", "db", "2").code == 0
    assert weir("pools", "set", "api", "3").code == 0

    by_action = weir("audit", "--action", "set_pool", "--json").json()
    by_target = weir("audit", "--target", "pool db", "--json").json()
    limited = weir("audit", "--limit", "1", "--json").json()
    text = weir("audit", "--action", "set_pool")

    assert [r["target"] for r in by_action] == ["pool api", "pool db", "pool db"]
    assert [r["detail"]["slots"] for r in by_target] == [2, 1]
    assert [r["target"] for r in limited] == ["pool api"]
    assert text.code == 0 and "set_pool" in text.out and "slots=3" in text.out
    assert "no actions recorded matching the filters" in weir("audit", "--action", "nothing").out
