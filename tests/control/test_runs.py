"""``weir.control.runs``: trigger, cancel, retry, clear and release, each checked before it writes,
each in one transaction with exactly one audit row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import weir
from weir.control import flows as flow_actions
from weir.control import runs as actions
from weir.control.context import Context
from weir.control.pools import set_pool
from weir.errors import DuplicateRunError, NotFoundError, ParamsError, PausedError, PoolError, RunStateError
from weir.runs import run_flow
from weir.scheduler.leases import new_owner
from weir.sdk.snapshot import snapshot_of
from weir.settings import Settings
from weir.store import owners, tasks
from weir.testing import FakeClock

from .conftest import audit_rows, run_count, run_of, task_states

LEASE = 30.0
#: Whether task ``b`` of ``pipeline`` fails (the inline executor runs tasks in this process).
BROKEN = {"b": True}


@weir.task
def double(n: int) -> int:
    return n * 2


@weir.flow
def doubler(n: int, label: str = "x") -> int:
    return double(n)


@weir.task(pool="db")
def query() -> int:
    return 1


@weir.flow
def pooled() -> int:
    return query()


@weir.flow(schedule="@daily", paused=True)
def sleepy() -> int:
    return double(1)


@weir.flow(schedule="@daily")
def nightly() -> int:
    return double(1)


@weir.flow(schedule="30 2 * * *", tz="Europe/Paris")
def paris_half_past_two() -> int:
    return double(1)


@weir.flow(schedule="15 2 * * *", tz="Australia/Lord_Howe")
def lord_howe_quarter_past_two() -> int:
    return double(1)


@weir.task
def a() -> int:
    return 1


@weir.task
def b(x: int) -> int:
    if BROKEN["b"]:
        raise RuntimeError("b is broken")
    return x + 1


@weir.task
def c(x: int) -> int:
    return x * 10


@weir.flow
def pipeline() -> int:
    double(1)  # beside the chain a -> b -> c
    return c(b(a()))


@weir.task
def numbers() -> list[int]:
    return [1, 2, 3, 4]


@weir.task
def half(x: int) -> int:
    if x % 2:
        raise ValueError(f"{x} is odd")
    return x // 2


@weir.task
def total(xs: list[int]) -> int:
    return sum(xs)


@weir.flow
def halves() -> int:
    return total(half.map(numbers()))


def store(ctx: Context, flow: Any) -> str:
    """Register ``flow``'s snapshot; returns its version."""
    return flow_actions.register_snapshot(ctx, snapshot_of(flow))


def failed_run(settings: Settings, flow: Any) -> int:
    """The id of an ended (failed) run of ``flow``, run inline in this process."""
    BROKEN["b"] = True
    run = run_flow(flow, {}, settings=settings)
    assert run.state == "failed"
    return run.id


def live_driver(ctx: Context, clock: FakeClock, run_id: int) -> str:
    """Make a live owner (this process, a good lease) the driver of ``run_id``; its id."""
    owner = new_owner("run", clock)
    with ctx.store.transaction() as tx:
        owners.register(tx, owner)
        owners.renew(tx, owner.id, clock.now(), LEASE)
        assert owners.claim(tx, run_id, owner.id, clock.now()) is not None
    return owner.id


# -- trigger --------------------------------------------------------------------------------------


def test_trigger_queues_a_run_with_the_params_checked_and_defaults_filled(ctx: Context, audited) -> None:
    version = store(ctx, doubler)

    made, row = audited(lambda: actions.trigger(ctx, "doubler", {"n": "5"}))

    assert (made.flow_name, made.version, made.params) == ("doubler", version, {"n": 5, "label": "x"})
    run = run_of(ctx, made.run_id)
    assert (run.state, run.params, run.trigger, run.owner) == ("queued", made.params, "manual", None)
    assert task_states(ctx, made.run_id) == {"double": "pending"}
    assert (row.actor, row.via, row.action, row.target) == ("ada", "cli", "trigger", f"run {made.run_id}")
    assert row.detail == {"flow": "doubler", "trigger": "manual"}


def test_trigger_refuses_bad_params_naming_each_and_writes_nothing(ctx: Context) -> None:
    store(ctx, doubler)
    rows = len(audit_rows(ctx))

    with pytest.raises(ParamsError) as caught:
        actions.trigger(ctx, "doubler", {"n": "five", "colour": "red"})

    assert {name for name, _ in caught.value.problems} == {"n", "colour"}
    assert run_count(ctx) == 0 and len(audit_rows(ctx)) == rows


def test_trigger_of_a_snapshot_with_bad_params_does_not_register_it(ctx: Context) -> None:
    with pytest.raises(ParamsError, match="n: Field required"):
        actions.trigger(ctx, snapshot_of(doubler), {})
    with pytest.raises(NotFoundError, match="no flow 'doubler'"):
        actions.trigger(ctx, "doubler")  # nothing was registered

    assert run_count(ctx) == 0 and audit_rows(ctx) == []


def test_trigger_with_refuse_paused_refuses_a_paused_flow_and_writes_nothing(ctx: Context) -> None:
    store(ctx, sleepy)  # paused= applies when no state is stored yet

    with pytest.raises(PausedError, match="'sleepy' is paused"):
        actions.trigger(ctx, "sleepy", refuse_paused=True)
    assert run_count(ctx) == 0

    made = actions.trigger(ctx, "sleepy")  # by hand, a paused flow still runs
    assert run_of(ctx, made.run_id).state == "queued"


def test_trigger_refuses_a_missing_pool_naming_the_task_and_the_pool(ctx: Context) -> None:
    store(ctx, pooled)

    with pytest.raises(PoolError) as caught:
        actions.trigger(ctx, "pooled")

    assert "task 'query'" in str(caught.value) and "pool 'db'" in str(caught.value)
    assert run_count(ctx) == 0
    set_pool(ctx, "db", 2)
    made = actions.trigger(ctx, "pooled")
    with ctx.store.read() as conn:
        assert [r.pool for r in tasks.get_task_runs(conn, made.run_id)] == ["db"]


def test_a_second_run_with_the_same_key_raises_duplicate_run_error(ctx: Context) -> None:
    store(ctx, doubler)
    first = actions.trigger(ctx, "doubler", {"n": 1}, run_key="nightly-1")
    rows = len(audit_rows(ctx))

    with pytest.raises(DuplicateRunError, match="'nightly-1' exists already"):
        actions.trigger(ctx, "doubler", {"n": 2}, run_key="nightly-1")

    assert run_count(ctx) == 1 and run_of(ctx, first.run_id).params["n"] == 1
    assert len(audit_rows(ctx)) == rows


# -- the dates of a run made by hand --------------------------------------------------------------


def utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


@pytest.mark.parametrize(
    ("flow", "fire", "previous"),
    [
        (nightly, "2024-06-04T00:00:00+00:00", "2024-06-03T00:00:00+00:00"),
        # 02:30 is skipped in Paris on 2024-03-31: the fire time is 03:00 CEST, right after the gap
        (paris_half_past_two, "2024-03-31T03:00:00+02:00", "2024-03-30T02:30:00+01:00"),
        # 02:15 is skipped on Lord Howe Island on 2024-10-06 (a 30-minute shift): 02:30 (+11)
        (lord_howe_quarter_past_two, "2024-10-06T02:30:00+11:00", "2024-10-05T02:15:00+10:30"),
    ],
    ids=["daily", "paris-dst-gap", "lord-howe-half-hour-gap"],
)
def test_a_run_made_exactly_at_a_fire_time_gets_the_interval_that_fire_time_closes(
    flow: Any, fire: str, previous: str
) -> None:
    snapshot = snapshot_of(flow)
    end, start = utc(fire), utc(previous)

    assert actions.manual_interval(snapshot, end) == (start, (start, end))
    # a moment earlier, that interval has not ended: the one before it is the latest
    earlier = actions.manual_interval(snapshot, end - timedelta(microseconds=1))
    assert earlier[1] is not None and earlier[1][1] == start and earlier[0] == earlier[1][0]


def test_a_run_of_an_unscheduled_flow_is_dated_when_it_is_made() -> None:
    assert actions.manual_interval(snapshot_of(doubler), utc("2024-06-04T00:00:00+00:00")) == (
        utc("2024-06-04T00:00:00+00:00"),
        None,
    )


def test_a_run_triggered_at_midnight_of_a_daily_flow_covers_the_day_that_just_ended(
    ctx: Context, clock: FakeClock
) -> None:
    store(ctx, nightly)
    clock.set(utc("2024-06-04T00:00:00+00:00"))

    made = actions.trigger(ctx, "nightly", {})

    run = run_of(ctx, made.run_id)
    day = utc("2024-06-03T00:00:00+00:00")
    assert (run.logical_date, run.interval_start, run.interval_end) == (day, day, clock.now())


# -- cancel ---------------------------------------------------------------------------------------


def test_cancel_asks_the_live_driver_and_changes_nothing_else(
    ctx: Context, clock: FakeClock, audited
) -> None:
    store(ctx, doubler)
    run_id = actions.trigger(ctx, "doubler", {"n": 1}).run_id
    driver = live_driver(ctx, clock, run_id)
    fence = run_of(ctx, run_id).fence

    outcome, row = audited(lambda: actions.cancel(ctx, run_id))

    assert outcome == actions.CancelOutcome(run_id=run_id, requested=True)
    run = run_of(ctx, run_id)
    assert (run.state, run.cancel_requested, run.owner, run.fence) == ("queued", True, driver, fence)
    assert (row.actor, row.via, row.action, row.target) == ("ada", "cli", "cancel", f"run {run_id}")
    assert row.detail == {"requested": True}


def test_cancel_without_a_live_driver_cancels_in_place_and_raises_the_fence(
    ctx: Context, clock: FakeClock
) -> None:
    store(ctx, doubler)
    run_id = actions.trigger(ctx, "doubler", {"n": 1}).run_id
    live_driver(ctx, clock, run_id)
    clock.advance(LEASE + 1)  # the driver's lease has run out
    fence = run_of(ctx, run_id).fence

    outcome = actions.cancel(ctx, run_id)

    assert outcome.requested is False
    run = run_of(ctx, run_id)
    assert (run.state, run.owner, run.fence) == ("cancelled", None, fence + 1)
    assert "no live driver" in (run.reason or "")
    assert task_states(ctx, run_id) == {"double": "cancelled"}


def test_cancel_of_an_ended_run_is_refused(ctx: Context) -> None:
    store(ctx, doubler)
    run_id = actions.trigger(ctx, "doubler", {"n": 1}).run_id
    actions.cancel(ctx, run_id)

    with pytest.raises(RunStateError, match="already ended"):
        actions.cancel(ctx, run_id)


# -- retry and clear ----------------------------------------------------------------------------------


def test_retry_clears_what_failed_and_keeps_what_succeeded(ctx: Context, settings: Settings, audited) -> None:
    run_id = failed_run(settings, pipeline)

    cleared, row = audited(lambda: actions.retry(ctx, run_id))

    assert cleared == ["b", "c"]
    assert task_states(ctx, run_id) == {"a": "success", "b": "pending", "c": "pending", "double": "success"}
    run = run_of(ctx, run_id)
    assert (run.state, run.ended_at, run.owner) == ("queued", None, None)
    with ctx.store.read() as conn:
        b_run = next(r for r in tasks.get_task_runs(conn, run_id) if r.task_id == "b")
    assert b_run.max_tries == 2  # its one failed try, plus retries (0) + 1
    assert (row.action, row.target, row.detail) == ("retry", f"run {run_id}", {"cleared": ["b", "c"]})


def test_a_retried_run_runs_only_the_cleared_tasks_to_success(ctx: Context, settings: Settings) -> None:
    run_id = failed_run(settings, pipeline)
    actions.retry(ctx, run_id)
    BROKEN["b"] = False
    try:
        again = weir.runs.resume_run(run_id, settings=settings)
    finally:
        BROKEN["b"] = True

    assert again.state == "success" and again.result() == 20
    assert [t.number for t in again.tries("a")] == [1]
    assert [(t.number, t.state) for t in again.tries("b")] == [(1, "failed"), (2, "success")]


def test_retry_of_a_mapped_node_keeps_its_succeeded_elements(ctx: Context, settings: Settings) -> None:
    run_id = failed_run(settings, halves)
    assert task_states(ctx, run_id)["half[1]"] == "success"

    assert actions.retry(ctx, run_id) == ["half", "total"]

    assert task_states(ctx, run_id) == {
        "numbers": "success",
        "half": "pending",
        "half[0]": "pending",
        "half[1]": "success",
        "half[2]": "pending",
        "half[3]": "success",
        "total": "pending",
    }


def test_clearing_the_upstream_of_a_mapped_node_drops_its_elements(ctx: Context, settings: Settings) -> None:
    run_id = failed_run(settings, halves)

    assert actions.clear(ctx, run_id, ["numbers"], downstream=True) == ["half", "numbers", "total"]

    assert task_states(ctx, run_id) == {"numbers": "pending", "half": "pending", "total": "pending"}
    with ctx.store.read() as conn:
        node = next(r for r in tasks.get_task_runs(conn, run_id) if r.task_id == "half")
    assert node.map_count is None  # it fans out anew


def test_retry_is_refused_for_a_run_that_has_not_ended_or_has_nothing_failed(
    ctx: Context, settings: Settings
) -> None:
    store(ctx, doubler)
    queued = actions.trigger(ctx, "doubler", {"n": 1}).run_id
    with pytest.raises(RunStateError, match="is queued"):
        actions.retry(ctx, queued)

    succeeded = run_flow(doubler, {"n": 1}, settings=settings).id
    with pytest.raises(RunStateError, match="no failed, cancelled or upstream-failed task"):
        actions.retry(ctx, succeeded)


def test_clear_takes_the_chosen_tasks_and_those_downstream_or_upstream(
    ctx: Context, settings: Settings, audited
) -> None:
    run_id = failed_run(settings, pipeline)

    cleared, row = audited(lambda: actions.clear(ctx, run_id, ["a"], downstream=True))

    assert cleared == ["a", "b", "c"]
    assert task_states(ctx, run_id) == {"a": "pending", "b": "pending", "c": "pending", "double": "success"}
    assert (row.action, row.detail) == (
        "clear",
        {"cleared": ["a", "b", "c"], "tasks": ["a"], "downstream": True},
    )

    other = failed_run(settings, pipeline)
    assert actions.clear(ctx, other, ["c"], upstream=True) == ["a", "b", "c"]
    third = failed_run(settings, pipeline)
    assert actions.clear(ctx, third, ["double"]) == ["double"]
    assert task_states(ctx, third)["b"] == "failed"


def test_clear_of_an_unknown_task_names_it_and_changes_nothing(ctx: Context, settings: Settings) -> None:
    run_id = failed_run(settings, pipeline)
    rows = len(audit_rows(ctx))

    with pytest.raises(NotFoundError, match="no task 'zzz'"):
        actions.clear(ctx, run_id, ["a", "zzz"])

    assert run_of(ctx, run_id).state == "failed"
    assert task_states(ctx, run_id)["a"] == "success"
    assert len(audit_rows(ctx)) == rows


# -- release --------------------------------------------------------------------------------------


def test_release_refuses_a_live_driver_and_frees_the_run_once_its_lease_ran_out(
    ctx: Context, clock: FakeClock, audited
) -> None:
    store(ctx, doubler)
    run_id = actions.trigger(ctx, "doubler", {"n": 1}).run_id
    driver = live_driver(ctx, clock, run_id)
    fence = run_of(ctx, run_id).fence
    rows = len(audit_rows(ctx))

    with pytest.raises(RunStateError, match="driven by a live process"):
        actions.release(ctx, run_id)
    assert run_of(ctx, run_id).owner == driver and len(audit_rows(ctx)) == rows

    clock.advance(LEASE + 1)
    _, row = audited(lambda: actions.release(ctx, run_id))

    run = run_of(ctx, run_id)
    assert (run.state, run.owner, run.fence) == ("queued", None, fence + 1)
    assert (row.actor, row.via, row.action, row.target) == ("ada", "cli", "resume", f"run {run_id}")


def test_release_of_an_ended_run_points_to_retry(ctx: Context) -> None:
    store(ctx, doubler)
    run_id = actions.trigger(ctx, "doubler", {"n": 1}).run_id
    actions.cancel(ctx, run_id)

    with pytest.raises(RunStateError, match="weir runs retry"):
        actions.release(ctx, run_id)


# -- the audit log ----------------------------------------------------------------------------------


def test_every_run_action_appends_exactly_one_audit_row_for_its_actor(
    ctx: Context, audited: Callable[..., Any]
) -> None:
    store(ctx, doubler)
    made, _ = audited(lambda: actions.trigger(ctx, "doubler", {"n": 1}))
    run = f"run {made.run_id}"
    steps = [
        ("cancel", lambda: actions.cancel(ctx, made.run_id)),
        ("retry", lambda: actions.retry(ctx, made.run_id)),
        ("resume", lambda: actions.release(ctx, made.run_id)),
        ("cancel", lambda: actions.cancel(ctx, made.run_id)),
        ("clear", lambda: actions.clear(ctx, made.run_id, ["double"])),
    ]
    for action, step in steps:
        _, row = audited(step)
        assert (row.actor, row.via, row.action, row.target) == ("ada", "cli", action, run)
