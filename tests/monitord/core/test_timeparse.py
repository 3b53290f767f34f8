from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitord.core.timeparse import parse_duration, parse_when

TZ = ZoneInfo("Europe/London")
NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)  # 13:00 in London (BST)


def test_iso_date_is_school_midnight() -> None:
    assert parse_when("2026-07-14", TZ, NOW) == datetime(2026, 7, 13, 23, 0, tzinfo=UTC)


def test_today_with_time_is_local() -> None:
    assert parse_when("today 10:00", TZ, NOW) == datetime(2026, 7, 15, 9, 0, tzinfo=UTC)


def test_yesterday() -> None:
    assert parse_when("yesterday", TZ, NOW) == datetime(2026, 7, 13, 23, 0, tzinfo=UTC)


def test_duration_means_ago() -> None:
    assert parse_when("2h", TZ, NOW) == datetime(2026, 7, 15, 10, 0, tzinfo=UTC)


def test_explicit_zone_kept() -> None:
    assert parse_when("2026-07-14T10:00:00+00:00", TZ, NOW) == datetime(
        2026, 7, 14, 10, 0, tzinfo=UTC
    )


def test_nonsense_names_what_was_expected() -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_when("next tuesday", TZ, NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        (600, timedelta(minutes=10)),
    ],
)
def test_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected
