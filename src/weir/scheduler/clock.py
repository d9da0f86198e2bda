"""The clock the scheduler reads time from; tests swap in a fake one."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Wall-clock time (aware UTC) and a monotonic counter for waits."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
