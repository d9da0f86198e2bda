"""``weir db upgrade``."""

from __future__ import annotations

import re


def test_db_upgrade_reports_the_revision_before_and_after(weir, home):
    first = weir("db", "upgrade")
    again = weir("db", "upgrade")

    assert first.code == 0, first
    upgraded = re.search(r"store upgraded: \(empty\) -> (\S+)", first.out)
    assert upgraded, first
    assert (home / "weir.db").exists()
    assert again.code == 0
    assert f"store already at revision {upgraded[1]}" in again.out
