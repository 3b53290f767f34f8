"""Weeks: Monday to Monday in the school's time zone, and the digest's time in it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from alerting.reports.digest.week import Week
from alerting.schedule import (
    digest_trigger,
)
from monitord.settings.config import Config
from tests.alerting.reports.digest.site import (
    TZ,
    WEEK,
)


def test_a_week_runs_monday_to_monday_in_school_time() -> None:
    week = Week.parse("2026-W47", TZ)
    assert week == WEEK
    assert week.label == "2026-W47"
    assert week.days[0] == date(2026, 11, 16)
    assert week.start == datetime(2026, 11, 16, tzinfo=UTC)  # GMT in November
    assert week.end == datetime(2026, 11, 23, tzinfo=UTC)
    summer = Week.parse("2026w27", TZ)
    assert summer.start == datetime(2026, 6, 28, 23, tzinfo=UTC)  # BST: an hour before
    assert week.title == "Monday 16 to Sunday 22 November 2026"
    assert week.shift(-1).label == "2026-W46"
    assert Week(2026, 1, TZ).shift(-1).label == "2025-W52"
    # Monday 07:00 is about the week that ended at midnight.
    monday = datetime(2026, 11, 23, 7, tzinfo=TZ)
    assert Week.last_completed(monday, TZ) == week
    for bad in ("2026-W54", "W47", "2026-11-16", ""):
        with pytest.raises(ValueError, match="ISO week"):
            Week.parse(bad, TZ)


def test_the_digest_goes_on_monday_at_seven_in_school_time(cfg: Config) -> None:
    trigger = digest_trigger(cfg)
    friday = datetime(2026, 11, 20, 12, tzinfo=TZ)
    assert trigger.get_next_fire_time(None, friday) == datetime(2026, 11, 23, 7, tzinfo=TZ)
    june = datetime(2026, 6, 26, 12, tzinfo=TZ)
    fire = trigger.get_next_fire_time(None, june)
    assert fire is not None
    assert fire.astimezone(UTC) == datetime(2026, 6, 29, 6, tzinfo=UTC)  # 07:00 BST
