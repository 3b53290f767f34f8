"""Placing syslog's year-less, zone-less timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.syslogtime import syslog_time

LONDON = ZoneInfo("Europe/London")
REF = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def test_winter_time_is_utc_in_london() -> None:
    assert syslog_time("Nov", 3, "08:51:27", LONDON, REF) == datetime(
        2026, 11, 3, 8, 51, 27, tzinfo=UTC
    )


def test_summer_time_is_an_hour_ahead_in_london() -> None:
    assert syslog_time("Jul", 15, "10:00:00", LONDON, REF) == datetime(
        2026, 7, 15, 9, 0, tzinfo=UTC
    )


def test_result_is_utc() -> None:
    ts = syslog_time("Jul", 15, "10:00:00", LONDON, REF)
    assert ts is not None
    assert ts.tzinfo is UTC


def test_month_names_are_case_blind() -> None:
    assert syslog_time("nov", 3, "08:00:00", LONDON, REF) == syslog_time(
        "NOV", 3, "08:00:00", LONDON, REF
    )


def test_december_read_in_january_is_last_year() -> None:
    ref = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert syslog_time("Dec", 31, "23:59:59", LONDON, ref) == datetime(
        2026, 12, 31, 23, 59, 59, tzinfo=UTC
    )


def test_up_to_a_day_after_the_reference_is_the_same_year() -> None:
    """A file's modification time can trail its last line a little (or the clocks differ)."""
    assert syslog_time("Nov", 21, "15:59:59", LONDON, REF) == datetime(
        2026, 11, 21, 15, 59, 59, tzinfo=UTC
    )
    assert syslog_time("Nov", 21, "16:00:01", LONDON, REF) == datetime(
        2025, 11, 21, 16, 0, 1, tzinfo=UTC
    )


def test_reference_is_taken_in_the_school_zone() -> None:
    """23:30 UTC on 31 Dec is already New Year in Auckland: a 1 Jan line is this year's."""
    auckland = ZoneInfo("Pacific/Auckland")
    ref = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 12:30 on 1 Jan 2027 in Auckland
    assert syslog_time("Jan", 1, "12:00:00", auckland, ref) == datetime(
        2026, 12, 31, 23, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("month", "day", "hms"),
    [
        ("Feb", 30, "12:00:00"),
        ("Apr", 31, "12:00:00"),
        ("Jan", 0, "12:00:00"),
        ("Jan", 32, "12:00:00"),
        ("Jan", 1, "24:00:00"),
        ("Jan", 1, "12:60:00"),
        ("Jan", 1, "12:00:60"),  # leap seconds are not datetimes
        ("Jan", 1, "12:00"),
        ("Jan", 1, "12:00:00:00"),
        ("Jan", 1, "aa:bb:cc"),
        ("Foo", 1, "12:00:00"),
        ("", 1, "12:00:00"),
    ],
)
def test_impossible_dates_are_none(month: str, day: int, hms: str) -> None:
    assert syslog_time(month, day, hms, LONDON, REF) is None


def test_feb_29_in_a_leap_year() -> None:
    ref = datetime(2028, 3, 10, 12, 0, tzinfo=UTC)
    assert syslog_time("Feb", 29, "12:00:00", LONDON, ref) == datetime(
        2028, 2, 29, 12, 0, tzinfo=UTC
    )


def test_feb_29_with_no_leap_year_in_reach_is_none() -> None:
    assert syslog_time("Feb", 29, "12:00:00", LONDON, datetime(2026, 3, 10, tzinfo=UTC)) is None
    assert syslog_time("Feb", 29, "12:00:00", LONDON, datetime(2026, 1, 10, tzinfo=UTC)) is None


def test_feb_29_read_in_january_after_a_leap_year() -> None:
    """In January 2025 a Feb 29 line can only be from 2024, which had one."""
    ref = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    assert syslog_time("Feb", 29, "12:00:00", LONDON, ref) == datetime(
        2024, 2, 29, 12, 0, tzinfo=UTC
    )


def test_feb_29_read_in_january_of_a_leap_year_is_not_the_year_before() -> None:
    """In January 2028, Feb 29 2028 is still ahead and 2027 had none."""
    ref = datetime(2028, 1, 10, 12, 0, tzinfo=UTC)
    assert syslog_time("Feb", 29, "12:00:00", LONDON, ref) is None
