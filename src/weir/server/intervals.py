"""The HTTP shapes of a flow's schedule intervals: a backfill asked for, what it does with each
interval, and the coming scheduled runs (beside :mod:`weir.server.schemas`, which is full)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from weir.control import backfill as plan

#: What a backfill does with an interval, in the API's words, by :mod:`weir.control.backfill`'s.
ACTIONS: dict[str, Literal["make", "take_up", "retry", "skip"]] = {
    plan.CREATE: "make",
    plan.TAKE_UP: "take_up",
    plan.RETRY: "retry",
}


class BackfillRequest(BaseModel):
    """A backfill of the past intervals of a flow's time schedule whose logical dates are in
    [start, end], both included (as `weir backfill` takes them)."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(
        max_length=64,
        description="the first logical date: an ISO date or datetime; without an offset it is read in "
        "the timezone of the flow's cron schedule (UTC otherwise)",
    )
    end: str = Field(max_length=64, description="the last logical date, included")
    params: dict[str, Any] = Field(default={}, description="the runs' params (default: the flow's defaults)")
    max_active: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="the most runs of the backfill going at once; the schedulers drive at most the "
        "flow's max_active_runs at once, so a smaller number is refused (drive the backfill with "
        "`weir backfill --max-active N` for that)",
    )
    rerun_failed: bool = Field(
        default=True, description="retry the intervals whose run failed or was cancelled"
    )
    dry_run: bool = Field(default=False, description="say what would be done, and write nothing")


class BackfillInterval(BaseModel):
    """One interval of a backfill and what is (or would be) done with it."""

    logical_date: datetime
    interval_start: datetime
    interval_end: datetime
    action: Literal["make", "take_up", "retry", "skip"] = Field(
        description="make a run; take up an unfinished run nobody drives; retry a failed or cancelled "
        "run; skip (see reason)"
    )
    run_id: int | None = Field(description="the interval's run: the one there was, or the one made")
    state: str | None = Field(description="the state of that run before the backfill (queued for one made)")
    reason: str | None = Field(description="why the interval is skipped, or what went wrong with it")

    @classmethod
    def of(cls, item: plan.Item) -> BackfillInterval:
        action = ACTIONS.get(item.action, "skip")
        reason = item.note
        if action == "skip" and reason is None:
            reason = {
                plan.SUCCEEDED: f"run {item.run_id} succeeded",
                plan.ELSEWHERE: f"run {item.run_id} is driven by a live process",
            }.get(item.action, item.action)
        elif action == "retry" and item.note:
            action = "skip"  # the retry was refused (retried or taken meanwhile): nothing was done
        return cls(
            logical_date=item.logical_date,
            interval_start=item.interval.interval_start,
            interval_end=item.interval.interval_end,
            action=action,
            run_id=item.run_id,
            state=item.state,
            reason=reason,
        )


class BackfillResult(BaseModel):
    """What a backfill does (``dry_run``: would do) with each interval, and the runs it queued."""

    flow_name: str
    dry_run: bool
    max_active: int = Field(description="the most runs of the flow the schedulers drive at once")
    counts: dict[str, int] = Field(description="intervals by action: make, take_up, retry, skip")
    intervals: list[BackfillInterval] = Field(description="oldest first")
    run_ids: list[int] = Field(
        description="the runs made, freed or retried, queued for a scheduler to drive (none on a dry run)"
    )
    waiting: str | None = Field(
        default=None, description="why those runs do not start yet (a paused flow, no scheduler running)"
    )

    @classmethod
    def of(cls, flow_name: str, items: list[plan.Item], *, dry_run: bool, max_active: int) -> BackfillResult:
        intervals = [BackfillInterval.of(item) for item in items]
        counts = dict.fromkeys(("make", "take_up", "retry", "skip"), 0)
        for interval in intervals:
            counts[interval.action] += 1
        queued = (
            [] if dry_run else [i.run_id for i in intervals if i.action != "skip" and i.run_id is not None]
        )
        return cls(
            flow_name=flow_name,
            dry_run=dry_run,
            max_active=max_active,
            counts=counts,
            intervals=intervals,
            run_ids=queued,
        )


class ComingRunOut(BaseModel):
    """A scheduled run to come: when it fires, its logical date and its data interval."""

    fire_at: datetime
    logical_date: datetime
    interval_start: datetime
    interval_end: datetime


class ComingRuns(BaseModel):
    """A flow's coming scheduled runs, soonest first (what `weir flows next` prints)."""

    flow_name: str
    schedule: str | None = Field(description="the time schedule in words; null when the flow has none")
    paused: bool = Field(description="a paused flow makes none of these runs until it is unpaused")
    items: list[ComingRunOut]
    note: str | None = Field(description="why there are none: no time schedule, or the schedule has ended")

    @classmethod
    def of(cls, found: plan.ComingRuns) -> ComingRuns:
        return cls(
            flow_name=found.flow_name,
            schedule=found.schedule,
            paused=found.paused,
            items=[
                ComingRunOut(
                    fire_at=r.fire_at,
                    logical_date=r.logical_date,
                    interval_start=r.interval_start,
                    interval_end=r.interval_end,
                )
                for r in found.runs
            ],
            note=found.note,
        )
