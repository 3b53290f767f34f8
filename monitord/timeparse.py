"""Times as people type them: ISO dates and times (school time unless a zone is given),
``today``, ``yesterday``, ``today 10:00``, and ``2h`` / ``3d`` meaning that long ago."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitord.config import parse_duration

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
