"""Time as a dependency: the system's clock in UTC, and a fixed one that moves when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from monitord.core.clock import Clock, FixedClock, SystemClock


def test_the_system_clock_is_utc_and_now() -> None:
    clock: Clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)


def test_a_fixed_clock_keeps_its_time_in_utc_until_advanced() -> None:
    start = datetime(2026, 11, 20, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    clock = FixedClock(start)
    assert clock.now() == start
    assert clock.now().tzinfo is UTC
    assert clock.now() == clock.now()
    clock.advance(timedelta(minutes=90))
    assert clock.now() == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
