"""What users need to test flows without waiting: a clock they control.

``FakeClock`` satisfies the :class:`weir.clock.Clock` protocol, so a scheduler built with
one sees exactly the time the test sets::

    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    clock.advance(hours=1)
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock"]


class FakeClock:
    """A clock that moves only when told to.

    ``now()`` is aware UTC; ``monotonic()`` starts at 0.0 and counts seconds. ``advance`` moves both,
    and ``sleep`` is ``advance`` (it returns at once, the time having passed); ``set`` moves the wall
    clock only, as an administrator setting the system clock would, so a monotonic reading never
    goes backwards. Safe to use from several threads.

    Args:
        start: the initial wall-clock time; must be timezone-aware (it is converted to UTC).

    Raises:
        ValueError: ``start`` is naive.
    """

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)
        self._monotonic = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current fake wall-clock time, aware UTC."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Seconds advanced since the clock was made."""
        with self._lock:
            return self._monotonic

    def advance(
        self,
        delta: timedelta | float = 0,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> datetime:
        """Move both clocks forward by ``delta`` (a timedelta or seconds) plus the keywords; return ``now()``.

        Raises:
            ValueError: the total is negative (time does not run backwards; use ``set``).
        """
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        step += timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if step < timedelta(0):
            raise ValueError(
                f"cannot advance by a negative amount ({step}); use set() to move the wall clock"
            )
        with self._lock:
            self._now += step
            self._monotonic += step.total_seconds()
            return self._now

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass at once: the same as ``advance(seconds)``.

        Raises:
            ValueError: ``seconds`` is negative.
        """
        self.advance(seconds)

    def set(self, when: datetime) -> datetime:
        """Set the wall clock to the aware datetime ``when`` (forwards or backwards); return ``now()``.

        Raises:
            ValueError: ``when`` is naive.
        """
        moment = _aware(when)
        with self._lock:
            self._now = moment
            return self._now


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"FakeClock needs a timezone-aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)
