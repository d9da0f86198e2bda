"""Driving a backfill in this process: the runs of a flow's past intervals, at most ``max_active``
at a time, with one :class:`~weir.scheduler.loop.Loop`. What to do with each interval (create,
take up, retry, leave alone) is decided by :mod:`weir.control.backfill`."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from weir.control import backfill as plan
from weir.control.backfill import TO_DRIVE, Item
from weir.control.context import Context
from weir.errors import RunClaimedError, WeirError
from weir.scheduler.leases import new_owner
from weir.scheduler.loop import Loop
from weir.schedules import DueRun

if TYPE_CHECKING:
    from weir.engine.changes import Listener
    from weir.engine.run import RunEngine
    from weir.executors.base import Executor
    from weir.graph.snapshot import FlowSnapshot


@dataclass(slots=True, kw_only=True)
class Report:
    """What a backfill did: every interval's item, and whether it was stopped before the end."""

    items: list[Item]
    stopped: bool = False

    def count(self, *actions: str) -> int:
        return sum(item.action in actions for item in self.items)

    @property
    def driven(self) -> list[Item]:
        return [item for item in self.items if item.action in TO_DRIVE and item.run_id is not None]

    @property
    def failed(self) -> list[Item]:
        return [item for item in self.driven if item.state not in (None, "success", "queued", "running")]

    @property
    def unfinished(self) -> list[Item]:
        return [item for item in self.driven if item.state in (None, "queued", "running")]

    def done(self, action: str) -> int:
        """How many intervals had ``action`` carried out (a stopped backfill did not reach all)."""
        return sum(
            item.action == action and (item.done or item.action not in TO_DRIVE) for item in self.items
        )

    @property
    def not_started(self) -> list[Item]:
        """Intervals the backfill was to act on and did not reach (it was stopped first)."""
        return [item for item in self.items if item.action in TO_DRIVE and not item.done]


def backfill(
    ctx: Context,
    snapshot: FlowSnapshot,
    intervals: list[DueRun],
    *,
    executor: Executor,
    params: dict[str, Any] | None = None,
    max_active: int | None = None,
    only_failed: bool = False,
    stop: threading.Event | None = None,
    on_plan: Callable[[list[Item]], None] | None = None,
    on_start: Callable[[Item], None] | None = None,
    on_end: Callable[[Item], None] | None = None,
    listener: Listener | None = None,
    grace: float = 10.0,
) -> Report:
    """Make and drive the runs of ``intervals`` in this process, ``max_active`` at a time.

    Each interval is looked up by its run key first: a succeeded run is skipped, an unfinished
    one nobody drives is taken up, a failed (or cancelled) one is retried (with ``only_failed``,
    only failed runs are retried and nothing else is done), a missing one is created with
    trigger ``backfill``. When ``stop`` is set the backfill starts nothing more, lets running
    tries end (up to ``grace`` seconds) and hands its unfinished runs back, so that the same
    backfill started again takes them up.

    Raises:
        ParamsError: invalid params (nothing is written).
    """
    values = snapshot.validate_params(params or {})
    spec = snapshot.schedule_spec
    limit = max_active or (spec.max_active_runs if spec is not None else 1)
    stop = stop or threading.Event()
    items = plan.preview(ctx, snapshot, intervals, only_failed=only_failed)
    report = Report(items=items)
    if on_plan is not None:
        on_plan(items)
    todo = deque(item for item in items if item.action in TO_DRIVE)
    if not todo:
        return report
    loop = Loop(ctx.store, executor, new_owner("backfill", ctx.clock), ctx.settings, ctx.clock)
    active: dict[int, tuple[Item, RunEngine]] = {}

    def retire(final: bool = False) -> None:
        for run_id, (item, engine) in list(active.items()):
            if engine.finished:
                item.state = str(engine.run_state)
                del active[run_id]
                if on_end is not None:
                    on_end(item)
            elif final:
                item.state = str(engine.run_state)

    try:
        loop.register()
        while (todo or active) and not stop.is_set():
            while todo and len(active) < limit and not stop.is_set():
                item = todo.popleft()
                engine = _start(ctx, snapshot, item, values, loop, listener)
                if engine is None:
                    if on_end is not None:
                        on_end(item)
                    continue
                active[engine.run_id] = (item, engine)
                if on_start is not None:
                    on_start(item)
            if active:
                loop.step(0.25)
                retire()
    finally:
        try:
            _hand_back(loop, grace)
        finally:
            retire(final=True)
            report.stopped = bool(todo or active)
    return report


def _start(
    ctx: Context,
    snapshot: FlowSnapshot,
    item: Item,
    values: dict[str, Any],
    loop: Loop,
    listener: Listener | None,
) -> RunEngine | None:
    if not plan.prepare(ctx, snapshot, item, values):
        return None
    item.done = True  # made, freed or cleared: in the store now, whatever follows
    assert item.run_id is not None
    try:
        engine = loop.add(item.run_id, listener)
    except RunClaimedError:
        item.action, item.note = plan.ELSEWHERE, "taken by another process (a scheduler) first"
        return None
    except WeirError as exc:
        item.note = str(exc)
        return None
    item.state = str(engine.run_state)
    return engine


def _hand_back(loop: Loop, grace: float) -> None:
    """Start nothing more, let running tries end (up to ``grace`` s; a second Ctrl-C stops
    waiting), write what is left and give the unfinished runs back for the next backfill."""
    try:
        for engine in loop.engines.values():
            engine.hold()
        deadline = loop.clock.monotonic() + grace
        while any(e.inflight for e in loop.engines.values()) and loop.clock.monotonic() < deadline:
            loop.step(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        loop.hand_back()
        loop.close()
