"""What a weekly digest holds: its rows, comparisons, open and closed alerts, sources' health
and the lines "to look at first", as frozen view models the templates read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerting.reports.digest.week import Week
from monitord.store.database import utc

GROUP = "group"
NAMED = "named"
ALERT_SEVERITIES = ("critical", "high", "medium")
FLAGGED = ("low", "medium", "high", "critical")
# Categories where a rise is worth a line at the top even when the numbers are small.
CONCERN = (
    "child_abuse",
    "terrorist_content",
    "self_harm",
    "suicide",
    "grooming",
    "bullying",
    "extremism",
    "hate_speech",
)
OUTCOME_TEXT = {
    "no_concern": "No concern",
    "internal_action": "Internal action",
    "referred_local_authority": "Referred to the local authority",
    "referred_police": "Referred to the police",
}
# An open alert of these severities older than this is called out at the top.
STALE = {"critical": timedelta(days=1), "high": timedelta(days=2), "medium": timedelta(days=7)}
AGE_BUCKETS = (
    ("under 1 day", timedelta(days=1)),
    ("1 to 3 days", timedelta(days=3)),
    ("3 to 7 days", timedelta(days=7)),
    ("1 to 4 weeks", timedelta(days=28)),
    ("over 4 weeks", timedelta.max),
)
TREND_WEEKS = 12
CHANGE_PREFIXES = ("list.", "lists.", "policy.", "silence.", "agent.", "filtering.")
# Roster and inventory changes, counted: (one, many).
ROSTER_ACTIONS = {
    "person.add": ("person added", "people added"),
    "person.update": ("person changed", "people changed"),
    "person.retire": ("person no longer listed", "people no longer listed"),
    "device.add": ("device added", "devices added"),
    "device.update": ("device changed", "devices changed"),
    "device.retire": ("device no longer listed", "devices no longer listed"),
}
LEVELS = ("urgent", "check", "note")
CHART_FILES = {
    "per_day": "alerts-per-day.png",
    "heat": "flagged-by-hour.png",
    "trend": "twelve-week-trend.png",
}


class DigestError(Exception):
    """A digest that cannot be made or sent as asked; the message says why."""


class AlreadySent(DigestError):
    """This week's digest of this edition has been queued before."""


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    this: int
    last: int

    @property
    def label(self) -> str:
        return self.key.replace("_", " ")

    @property
    def change(self) -> str:
        d = self.this - self.last
        return "=" if d == 0 else f"+{d}" if d > 0 else f"\u2212{-d}"


@dataclass(frozen=True, slots=True)
class Compare:
    """One breakdown of this week's alerts against last week's."""

    title: str
    rows: tuple[Row, ...]

    @property
    def this(self) -> int:
        return sum(r.this for r in self.rows)

    @property
    def last(self) -> int:
        return sum(r.last for r in self.rows)

    def get(self, key: str) -> Row:
        for r in self.rows:
            if r.key == key:
                return r
        return Row(key, 0, 0)


@dataclass(frozen=True, slots=True)
class OpenAlert:
    id: int
    severity: str
    category: str
    status: str
    who: str
    indicator: str
    created: str
    age: timedelta
    assignee: str | None

    @property
    def age_text(self) -> str:
        return age_text(self.age)

    @property
    def stale(self) -> bool:
        limit = STALE.get(self.severity)
        return limit is not None and self.age > limit


@dataclass(frozen=True, slots=True)
class ClosedAlert:
    id: int
    severity: str
    category: str
    who: str
    outcome: str
    closed: str
    closed_by: str
    open_for: timedelta

    @property
    def outcome_text(self) -> str:
        return OUTCOME_TEXT.get(self.outcome, self.outcome.replace("_", " "))

    @property
    def open_for_text(self) -> str:
        return age_text(self.open_for)


@dataclass(frozen=True, slots=True)
class DeviceSeen:
    mac: str
    device_id: str | None
    hostname: str | None  # the named edition only
    maker: str
    first: str
    last: str
    days: int
    leases: int


@dataclass(frozen=True, slots=True)
class Change:
    when: str
    actor: str
    action: str
    what: str


@dataclass(frozen=True, slots=True)
class SourceHealth:
    name: str
    fmt: str
    per_day: tuple[int, ...]
    gaps: tuple[str, ...]
    rejected: int
    top_reason: str | None
    quiet_days: tuple[str, ...]  # school days with no event at all
    last_event: str | None
    quiet_mask: tuple[bool, ...] = (False,) * 7  # per day of the week: a quiet school day

    @property
    def total(self) -> int:
        return sum(self.per_day)

    @property
    def ok(self) -> bool:
        return not self.gaps and not self.quiet_days and not self.rejected


@dataclass(frozen=True, slots=True)
class Attention:
    level: str  # urgent, check or note
    text: str
    anchor: str


@dataclass(frozen=True, slots=True)
class LowActivity:
    """Low-severity events (recorded, no alert) by category and year group."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[int, ...]], ...]
    total: int
    last_total: int

    def column_totals(self) -> tuple[int, ...]:
        return tuple(sum(r[1][i] for r in self.rows) for i in range(len(self.columns)))


@dataclass(slots=True)
class Digest:
    school: str
    site_id: str
    week: Week
    generated: datetime
    named: bool
    by_category: Compare
    by_severity: Compare
    by_role: Compare
    by_year: Compare
    per_day: dict[str, list[int]]
    open_alerts: list[OpenAlert]
    open_ages: list[tuple[str, int]]
    closed: list[ClosedAlert]
    outcomes: list[tuple[str, int]]
    reviews: int
    low: LowActivity
    heat: list[list[int]]
    trend_labels: list[str]
    trend: dict[str, list[int]]
    trend_low: list[int]
    devices: list[DeviceSeen]
    changes: list[Change]
    roster: list[tuple[str, int]]
    exemptions: list[tuple[str, int]]
    sources: list[SourceHealth]
    attention: list[Attention] = field(default_factory=list)
    # The newest audit record when the digest was made (id, sha256): an anchor of the trail
    # that leaves the server with the mail (`monitord evidence verify --anchor ID:SHA256`).
    anchor: tuple[int, str] | None = None

    @property
    def edition(self) -> str:
        return NAMED if self.named else GROUP

    @property
    def day_labels(self) -> list[str]:
        return [f"{d:%a} {d.day}" for d in self.week.days]

    @property
    def per_day_totals(self) -> list[int]:
        return [sum(v[i] for v in self.per_day.values()) for i in range(7)]

    @property
    def trend_totals(self) -> list[int]:
        return [sum(col) for col in zip(*self.trend.values(), strict=True)]

    @property
    def alerts_this(self) -> int:
        return self.by_severity.this

    @property
    def alerts_last(self) -> int:
        return self.by_severity.last

    @property
    def gaps(self) -> int:
        return sum(len(s.gaps) for s in self.sources)

    @property
    def rejected(self) -> int:
        return sum(s.rejected for s in self.sources)


def age_text(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    if hours < 1:
        return "under an hour"
    if hours < 48:
        return f"{int(hours)} h"
    return f"{int(hours // 24)} days"


def local_text(ts: datetime, tz: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    return utc(ts).astimezone(tz).strftime(fmt)


def year_text(y: str) -> str:
    return {"N": "Nursery", "R": "Reception"}.get(y, f"Year {y}")
