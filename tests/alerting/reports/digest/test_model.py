"""What a digest holds, as its templates read it: a breakdown's totals and rows, an open
alert's age in words and whether it has waited too long, times and year groups as a school
writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerting.reports.digest.model import (
    Compare,
    OpenAlert,
    Row,
    age_text,
    local_text,
    year_text,
)


def test_a_breakdown_totals_its_rows_and_names_a_missing_key_zero() -> None:
    c = Compare("Category", (Row("self_harm", 3, 1), Row("gambling", 2, 4)))
    assert (c.this, c.get("gambling").last) == (5, 4)
    assert c.get("extremism") == Row("extremism", 0, 0)
    assert Row("self_harm", 1, 0).label == "self harm"
    assert [Row("x", a, b).change for a, b in ((2, 2), (5, 3), (1, 4))] == ["=", "+2", "\u22123"]


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(minutes=20), "under an hour"),
        (timedelta(hours=5, minutes=59), "5 h"),
        (timedelta(hours=47), "47 h"),
        (timedelta(days=9, hours=3), "9 days"),
    ],
)
def test_ages_in_words(age: timedelta, text: str) -> None:
    assert age_text(age) == text


def test_an_open_critical_alert_is_stale_after_a_day() -> None:
    def alert(severity: str, age: timedelta) -> OpenAlert:
        return OpenAlert(1, severity, "suicide", "open", "person 1", "x", "Mon", age, None)

    assert alert("critical", timedelta(hours=25)).stale
    assert not alert("critical", timedelta(hours=23)).stale
    assert not alert("medium", timedelta(days=6)).stale
    assert alert("medium", timedelta(days=8)).stale
    assert alert("low", timedelta(days=80)).stale is False


def test_times_and_year_groups_as_a_school_writes_them() -> None:
    tz = ZoneInfo("Europe/London")
    assert local_text(datetime(2026, 7, 1, 8, 5, tzinfo=UTC), tz) == "Wed 01 Jul 09:05"
    assert [year_text(y) for y in ("N", "R", "6")] == ["Nursery", "Reception", "Year 6"]
