"""``weir.control.context``: who acts, through what, at what time; and the audit row of an action."""

from __future__ import annotations

import dataclasses
import getpass

import pytest

from weir.clock import SystemClock
from weir.control.context import VIA, Actor, Context, record
from weir.settings import Settings
from weir.testing import FakeClock

from .conftest import NOW, audit_rows


def test_context_of_acts_as_the_os_user_on_the_settings_store_by_default(settings: Settings) -> None:
    ctx = Context.of(settings, via="api")

    assert ctx.actor == Actor(name=getpass.getuser(), via="api")
    assert isinstance(ctx.clock, SystemClock) and ctx.settings is settings
    with ctx.store.read() as conn:
        assert conn.dialect.name in {"sqlite", "postgresql"}


def test_context_of_takes_a_name_and_a_clock(settings: Settings) -> None:
    clock = FakeClock(NOW)

    ctx = Context.of(settings, via="scheduler", name="host:1:abc", clock=clock)

    assert ctx.actor == Actor(name="host:1:abc", via="scheduler") and ctx.clock is clock
    assert set(VIA) == {"cli", "api", "ui", "scheduler", "python"}


def test_actors_and_contexts_are_frozen(ctx: Context) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.actor.name = "eve"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.clock = FakeClock(NOW)  # type: ignore[misc]


def test_record_appends_one_row_at_the_clocks_time_for_the_actor(ctx: Context) -> None:
    with ctx.store.transaction() as tx:
        record(tx, ctx, "pause", "flow etl", reason="maintenance", ticket=None)

    (row,) = audit_rows(ctx)
    assert (row.at, row.actor, row.via, row.action, row.target) == (NOW, "ada", "cli", "pause", "flow etl")
    assert row.detail == {"reason": "maintenance"}  # None values are left out


def test_record_without_detail_stores_none(ctx: Context) -> None:
    with ctx.store.transaction() as tx:
        record(tx, ctx, "unpause", "flow etl", ticket=None)

    assert [r.detail for r in audit_rows(ctx)] == [None]


def test_a_record_is_part_of_its_action_and_is_lost_with_it(ctx: Context) -> None:
    with pytest.raises(RuntimeError), ctx.store.transaction() as tx:
        record(tx, ctx, "pause", "flow etl")
        raise RuntimeError("the action failed after recording")

    assert audit_rows(ctx) == []
