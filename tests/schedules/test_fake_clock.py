"""weir.testing.FakeClock: the clock tests control, with the interface of the real one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from weir.clock import Clock
from weir.testing import FakeClock


def test_fake_clock_has_the_real_clock_interface() -> None:
    public = {name for name in vars(Clock) if not name.startswith("_")}
    assert public <= {name for name in dir(FakeClock) if not name.startswith("_")}


def test_now_is_the_start_in_utc_until_advanced() -> None:
    clock = FakeClock(datetime(2024, 1, 1, 1, tzinfo=ZoneInfo("Europe/Paris")))
    assert clock.now() == datetime(2024, 1, 1, tzinfo=UTC) and clock.now().tzinfo is UTC
    assert clock.now() == clock.now()


def test_advance_moves_wall_and_monotonic_time_together() -> None:
    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    assert clock.monotonic() == 0.0
    assert clock.advance(timedelta(hours=1)) == datetime(2024, 1, 1, 1, tzinfo=UTC)
    clock.advance(90)
    clock.advance(days=1, minutes=1)
    assert clock.now() == datetime(2024, 1, 2, 1, 2, 30, tzinfo=UTC)
    assert clock.monotonic() == 3600 + 90 + 86400 + 60


def test_sleep_returns_at_once_with_the_time_passed() -> None:
    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    clock.sleep(2.5)
    assert clock.now() == datetime(2024, 1, 1, 0, 0, 2, 500000, tzinfo=UTC)
    assert clock.monotonic() == 2.5


def test_set_moves_the_wall_clock_only() -> None:
    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    clock.advance(seconds=5)
    clock.set(datetime(2023, 6, 1, tzinfo=UTC))
    assert clock.now() == datetime(2023, 6, 1, tzinfo=UTC)
    assert clock.monotonic() == 5.0


def test_time_cannot_be_advanced_backwards_nor_set_naive() -> None:
    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2024, 1, 1))
