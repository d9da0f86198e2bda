"""The loop that drives runs: writes before work leaves, fencing, and a stale write kept to its run."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

import weir
from weir.control.context import Context
from weir.control.runs import trigger
from weir.executors.base import Executor, Report, TryKey, WorkItem
from weir.executors.registry import create_executor
from weir.scheduler.leases import new_owner
from weir.scheduler.loop import Loop
from weir.sdk.snapshot import snapshot_of
from weir.settings import Settings
from weir.store import owners, runs, tasks
from weir.store.store import open_store
from weir.testing import FakeClock


@weir.task
def first() -> int:
    return 1


@weir.task
def second(x: int) -> int:
    return x + 1


@weir.flow
def pair() -> int:
    return second(first())


#: What ``look`` found in the store about itself while it ran: (state, try number).
LOOKED: list[tuple[str, int]] = []


@weir.task
def look() -> int:
    ctx = weir.context()
    with open_store(Settings.from_env().database_url).read() as conn:
        (row,) = [r for r in tasks.get_task_runs(conn, ctx.run_id) if r.task_id == ctx.task_id]
    LOOKED.append((row.state, row.try_number))
    return 1


@weir.flow
def looking() -> int:
    return look()


class Watching(Executor):
    """The inline executor, with a hook called at every submit, made to look like an executor
    whose work may start as soon as it is submitted (as a pool of processes does)."""

    name = "watching"

    def __init__(self, inner: Executor, on_submit: Any) -> None:
        self.inner = inner
        self.on_submit = on_submit
        self.capabilities = dataclasses.replace(inner.capabilities, runs_in_poll=False)

    @property
    def slots(self) -> int:
        return self.inner.slots

    def submit(self, item: WorkItem) -> None:
        self.on_submit(item)
        self.inner.submit(item)

    def poll(self, timeout: float | None) -> list[Report]:
        return self.inner.poll(timeout)

    def cancel(self, key: TryKey) -> None:
        self.inner.cancel(key)


@pytest.fixture
def setup(store_url: str) -> Any:
    settings = Settings.from_env(executor="inline")
    ctx = Context.of(settings, via="python")
    snapshot = snapshot_of(pair)
    made = [trigger(ctx, snapshot).run_id for _ in range(2)]
    return settings, ctx, made


def _loop(settings: Settings, executor: Executor, clock: Any = None) -> Loop:
    from weir.clock import SystemClock

    clock = clock or SystemClock()
    return Loop(open_store(settings.database_url), executor, new_owner("test", clock), settings, clock)


def _state(settings: Settings, run_id: int) -> str:
    with open_store(settings.database_url).read() as conn:
        return runs.get_run(conn, run_id, result=False).state


def test_every_try_is_recorded_queued_with_its_number_before_it_leaves(setup: Any) -> None:
    settings, _, (run_id, _) = setup
    seen: list[tuple[str, int, str, int]] = []

    def check(item: WorkItem) -> None:
        with open_store(settings.database_url).read() as conn:
            (row,) = [r for r in tasks.get_task_runs(conn, item.run_id) if r.task_id == item.task_id]
        seen.append((item.task_id, item.try_number, row.state, row.try_number))

    inner = create_executor("inline", settings)
    inner.start()
    loop = _loop(settings, Watching(inner, check))
    loop.add(run_id)
    loop.run()
    assert _state(settings, run_id) == "success"
    assert seen == [("first", 1, "queued", 1), ("second", 1, "queued", 1)]


def test_on_the_inline_executor_a_try_is_recorded_running_before_its_code_runs(store_url: str) -> None:
    LOOKED.clear()
    run = looking.run(executor="inline")
    assert run.state == "success"
    assert LOOKED == [("running", 1)]


def test_a_foreign_write_to_one_run_leaves_the_other_run_and_the_loop_going(setup: Any) -> None:
    settings, _, (stale_id, good_id) = setup
    store = open_store(settings.database_url)

    def interfere(item: WorkItem) -> None:
        if item.run_id == stale_id and item.task_id == "first":
            with store.transaction() as tx:  # someone else moves the task run under the loop's feet
                tx.execute(
                    text("UPDATE task_runs SET state = 'cancelled' WHERE run_id = :r AND task_id = 'first'"),
                    {"r": stale_id},
                )

    inner = create_executor("inline", settings)
    inner.start()
    loop = _loop(settings, Watching(inner, interfere))
    lost: list[int] = []
    loop.on_lost = lost.append
    loop.add(stale_id)
    loop.add(good_id)
    loop.run()  # no StaleStateError escapes: the daemon would keep going
    assert lost == [stale_id]
    assert _state(settings, good_id) == "success"
    with store.read() as conn:
        stale = runs.get_run(conn, stale_id, result=False)
        (first_row,) = [r for r in tasks.get_task_runs(conn, stale_id) if r.task_id == "first"]
    assert first_row.state == "cancelled"  # the foreign write stands; the loop wrote nothing over it
    assert stale.owner is None  # handed back: its next driver reads it again from the store


def test_an_owner_whose_run_was_adopted_never_writes_to_it_again(setup: Any) -> None:
    settings, _, (run_id, _) = setup
    store = open_store(settings.database_url)
    clock = FakeClock(weir_now())
    short = dataclasses.replace(settings, lease_seconds=5)
    inner = create_executor("inline", settings)
    inner.start()
    adopter = new_owner("adopter", clock)

    def adopt(item: WorkItem) -> None:
        if item.task_id == "second":
            clock.advance(timedelta(seconds=60))  # the first owner stalls past its lease...
            with store.transaction() as tx:  # ...and another owner adopts its run
                owners.register(
                    tx, dataclasses.replace(adopter, lease_expires_at=clock.now() + timedelta(hours=1))
                )
                assert owners.claim(tx, run_id, adopter.id, clock.now()) is not None

    loop = Loop(store, Watching(inner, adopt), new_owner("first", clock), short, clock)
    lost: list[int] = []
    loop.on_lost = lost.append
    loop.add(run_id)
    loop.lease.stop(expire=False)  # no heartbeat thread: the lease lapses as the clock moves
    loop.run()
    assert lost == [run_id]
    with store.read() as conn:
        run = runs.get_run(conn, run_id, result=False)
        (second_row,) = [r for r in tasks.get_task_runs(conn, run_id) if r.task_id == "second"]
    assert run.owner == adopter.id and run.fence == 2
    assert second_row.state == "queued"  # as the first owner left it before the adoption: nothing after


def weir_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
