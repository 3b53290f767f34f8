"""An ISO week in the school's time zone, Monday 00:00 to Monday 00:00: the span a digest
covers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Week:
    """An ISO week in the school's time zone."""

    year: int
    number: int
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, tz: ZoneInfo) -> Week:
        """``2026-W47`` (or ``2026W47``)."""
        m = _WEEK.match(text)
        if m:
            try:
                date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
            except ValueError:
                pass
            else:
                return cls(int(m.group(1)), int(m.group(2)), tz)
        raise ValueError(f"--week {text!r}: expected an ISO week such as 2026-W47")

    @classmethod
    def of(cls, ts: datetime, tz: ZoneInfo) -> Week:
        iso = ts.astimezone(tz).isocalendar()
        return cls(iso.year, iso.week, tz)

    @classmethod
    def last_completed(cls, now: datetime, tz: ZoneInfo) -> Week:
        """The latest week that has ended by ``now``: the one a Monday digest is about."""
        return cls.of(now, tz).shift(-1)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(self.monday + timedelta(days=i) for i in range(7))

    def day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.tz).astimezone(UTC)

    @property
    def start(self) -> datetime:
        return self.day_start(self.monday)

    @property
    def end(self) -> datetime:
        return self.day_start(self.monday + timedelta(days=7))

    def shift(self, weeks: int) -> Week:
        return Week.of(
            datetime.combine(self.monday + timedelta(weeks=weeks), time(12), self.tz), self.tz
        )

    @property
    def title(self) -> str:
        first, last = self.days[0], self.days[-1]
        if first.month == last.month:
            return f"Monday {first.day} to Sunday {last.day} {last:%B %Y}"
        if first.year == last.year:
            return f"Monday {first.day} {first:%B} to Sunday {last.day} {last:%B %Y}"
        return f"Monday {first.day} {first:%B %Y} to Sunday {last.day} {last:%B %Y}"
