"""Timestamps without a year or zone, as syslog writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


@lru_cache(maxsize=8192)
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
    except ValueError:
        return None
    ref_local = reference.astimezone(tz)
    latest = ref_local + timedelta(days=1)
    for year in (ref_local.year, ref_local.year - 1):
        try:
            local = datetime(year, mon, day, hh, mm, ss, tzinfo=tz)
        except ValueError:
            continue  # no such date that year (Feb 29), or no such time at all
        if local <= latest:
            return local.astimezone(UTC)
    return None
