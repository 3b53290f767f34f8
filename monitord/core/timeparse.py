"""Times as people type them: ISO dates and times (school time unless a zone is given),
``today``, ``yesterday``, ``today 10:00``, and ``2h`` / ``3d`` meaning that long ago."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RELATIVE_DAY = re.compile(r"^(today|yesterday)(?:\s+(\d{1,2}:\d{2}(?::\d{2})?))?$")


def parse_when(text: str, tz: ZoneInfo, now: datetime) -> datetime:
    """An aware datetime for ``text``; ValueError with what was expected otherwise."""
    s = text.strip().lower()
    m = _RELATIVE_DAY.match(s)
    if m:
        day = now.astimezone(tz).date()
        if m.group(1) == "yesterday":
            day -= timedelta(days=1)
        t = time.fromisoformat(m.group(2)) if m.group(2) else time(0, 0)
        return datetime.combine(day, t, tzinfo=tz)
    if re.fullmatch(r"\d+\s*[smhdw]", s):
        return now - parse_duration(s)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time (expected e.g. 2026-11-20, 2026-11-20T10:00, "
            "today 10:00, yesterday, 2h)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def parse_duration(value: object) -> timedelta:
    """``"90s"``, ``"30m"``, ``"2h"``, ``"1d"``, ``"1w"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30m' or '2h'")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"expected a duration such as '30m' or '2h', got {value!r}")
