"""The clock the scheduler reads time from; tests swap in a fake one.

:class:`Clock` is the interface code accepts; :class:`SystemClock` is the real one. Any object
with the same three methods satisfies it (``weir.testing.FakeClock`` does), no subclassing needed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of wall-clock time, monotonic time and waits."""

    def now(self) -> datetime:
        """The current wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a counter that never goes backwards, for measuring waits."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` before returning."""
        ...


class SystemClock:
    """The real clock: the system's wall-clock time (aware UTC) and monotonic counter."""

    def now(self) -> datetime:
        """The current wall-clock time, aware UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """:func:`time.monotonic`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` (:func:`time.sleep`)."""
        time.sleep(seconds)
