"""Timestamps without a year or zone, as syslog writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def syslog_time(
    month: str, day: int, hms: str, tz: ZoneInfo, reference: datetime
) -> datetime | None:
    """``Dec  3 08:51:27`` in the school's zone, as UTC.

    The year is the reference's (the file's modification time), or the year before when that
    would put the line more than a day after the reference: a December line read in January
    belongs to the year before. Returns None for a date that does not exist.
    """
    mon = MONTHS.get(month[:3].lower())
    if mon is None:
        return None
    try:
        hh, mm, ss = (int(x) for x in hms.split(":"))
        ref_local = reference.astimezone(tz)
        local = datetime(ref_local.year, mon, day, hh, mm, ss, tzinfo=tz)
        if local > ref_local + timedelta(days=1):
            local = local.replace(year=ref_local.year - 1)
    except ValueError:
        return None
    return local.astimezone(UTC)
