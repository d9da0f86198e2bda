"""Helpers for the scheduler daemon tests: flow files in a folder, a store, a fake clock.

``Project.scheduler(clock)`` builds a :class:`weir.scheduler.service.Scheduler` on the inline
executor that reads the project's flow folder; tests move time with the clock and call
``tick()``, which does the scheduling work of one pass without waiting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from weir.errors import StaleStateError
from weir.executors.registry import executor_for
from weir.scheduler.service import Created, Scheduler
from weir.schedules import next_fire_time
from weir.settings import Settings
from weir.store import runs
from weir.store.db import get_engine
from weir.store.records import RunRecord
from weir.store.store import open_store
from weir.testing import FakeClock

HEADER = """import weir


@weir.task
def noop() -> int:
    return 1

"""


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def flow_source(name: str, *, params: str = "", schedule: str | None = None, **options: Any) -> str:
    """The source of a one-task flow; ``schedule`` is a Python expression, ``options`` are literals."""
    args = [f"schedule={schedule}"] if schedule is not None else []
    args += [f"{key}={value!r}" for key, value in options.items()]
    return f"\n\n@weir.flow({', '.join(args)})\ndef {name}({params}) -> int:\n    return noop()\n"


class Project:
    """Flow files in a folder, the settings that point at them, and the schedulers built on them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.flows_dir = root / "flows"
        self.flows_dir.mkdir(parents=True, exist_ok=True)
        base = Settings.from_env(executor="inline", cwd=root)
        # The tests move a fake clock by hours at a time: leases must outlast such jumps.
        self.settings = dataclasses.replace(
            base, flows_dirs=(self.flows_dir,), lease_seconds=10 * 365 * 86400
        )
        self.engine = get_engine(self.settings.database_url)
        self._schedulers: list[Scheduler] = []

    def write(self, filename: str, body: str, *, header: bool = True) -> Path:
        """Write a flow file; its modification time always moves forward, even within one tick."""
        path = self.flows_dir / filename
        existed = path.exists()
        old = path.stat().st_mtime_ns if existed else 0
        path.write_text((HEADER if header else "") + body, encoding="utf-8")
        if existed:
            new = max(path.stat().st_mtime_ns, old + 1_000_000_000)
            os.utime(path, ns=(new, new))
        return path

    def scheduler(self, clock: FakeClock) -> Scheduler:
        # FakeClock has Clock's interface, but Clock is a class, not a Protocol.
        scheduler = Scheduler(self.settings, executor_for(self.settings), clock=clock)
        self._schedulers.append(scheduler)
        return scheduler

    def runs(self, flow: str | None = None) -> list[RunRecord]:
        """Every run (of ``flow``), oldest id first."""
        with open_store(self.settings.database_url).read() as conn:
            return list(reversed(runs.list_runs(conn, flow=flow, limit=1_000_000).runs))

    def logical_dates(self, flow: str) -> list[datetime]:
        return sorted(r.logical_date for r in self.runs(flow) if r.logical_date is not None)

    def close(self) -> None:
        for scheduler in self._schedulers:
            # Two loops driving one run (the bug xfailed in test_service_idempotency) collide here.
            with contextlib.suppress(StaleStateError):
                scheduler.loop.close()
            scheduler.executor.shutdown()


def tick_every(
    scheduler: Scheduler, clock: FakeClock, until: datetime, step: timedelta
) -> list[tuple[datetime, Created]]:
    """Advance by ``step`` and tick until ``until``; each run made, with the time it was made."""
    made: list[tuple[datetime, Created]] = []
    while clock.now() < until:
        clock.advance(min(step, until - clock.now()))
        made.extend((clock.now(), created) for created in scheduler.tick())
    return made


def wake_at_fire_times(
    scheduler: Scheduler, clock: FakeClock, until: datetime
) -> list[tuple[datetime, Created]]:
    """Sleep exactly until the next fire time of any flow, as the daemon does, and tick there."""
    made: list[tuple[datetime, Created]] = []
    scheduler.tick()
    while True:
        fires = [
            fire
            for flow in scheduler.flows.values()
            if flow.schedule_spec is not None
            and (fire := next_fire_time(flow.schedule_spec, clock.now())) is not None
        ]
        if not fires or min(fires) > until:
            return made
        clock.advance(min(fires) - clock.now())
        made.extend((clock.now(), created) for created in scheduler.tick())
