"""The weekly digest for the Online Safety Group: what the week held against the week before,
what is still open, what was closed and how, the low-severity activity that raised no alert,
unauthorised devices, the list and policy change-control log and the health of each source,
with "what to look at first" at the top.

It is read from the store alone (events, alerts, the audit trail, checkpoints, rejected
lines), for one ISO week in the school's time zone, Monday 00:00 to Monday 00:00. The HTML
part is rendered from autoescaped Jinja2 templates with its charts as inline ``cid:`` images;
the plain-text part carries the same numbers for mail clients that show no images.

It goes to a group, so by default it names no one: a person is shown by a pseudonym for
this digest ("person 3") and year group, never initials or a role one person holds (the
headteacher); a URL by its site alone (its path and query can hold a search for a named
classmate); searches, typed text and device host names are left out. The
``named`` edition is the DSL's own copy, with names, user names and what was typed.

A digest is queued through the outbox like any alert mail (so the delivery's retries apply)
and recorded in the ``digests`` table in the same transaction: one per site, week and
edition, never twice.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import IntegrityError

from alerting.reports import charts
from monitord.casework.filtercheck import summary_line
from monitord.classify.policy import Policy
from monitord.core.categories import CATEGORIES
from monitord.core.defang import clean, defang
from monitord.core.private import private_dir, write_private
from monitord.identity.roster import ROLES, YEAR_GROUPS
from monitord.settings.config import Config
from monitord.store.database import alert_subjects, audit, inserted_id, mine, table_of, utc
from monitord.store.tables import (
    AlertRow,
    AuditRow,
    CheckpointRow,
    DigestRow,
    EventRow,
    OutboxRow,
    PersonRow,
    RejectedRow,
)

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
_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_DOMAINISH = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?[^\s/]+\.[^\s/]+(?:/\S*)?$", re.IGNORECASE)

TEMPLATES = Environment(
    loader=PackageLoader("alerting", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


class DigestError(Exception):
    """A digest that cannot be made or sent as asked; the message says why."""


class AlreadySent(DigestError):
    """This week's digest of this edition has been queued before."""


# --- weeks -------------------------------------------------------------------------------


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


# --- what the digest holds ---------------------------------------------------------------


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


def _local(ts: datetime, tz: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    return utc(ts).astimezone(tz).strftime(fmt)


class _People:
    """Display names for the user names the digest mentions, and how each is shown."""

    def __init__(self, conn: Connection, usernames: Iterable[str], named: bool) -> None:
        wanted = sorted({u for u in usernames if u})
        pt = table_of(PersonRow)
        self.rows: dict[str, Any] = {}
        for chunk in range(0, len(wanted), 500):
            part = wanted[chunk : chunk + 500]
            query = select(pt).where(mine(conn, pt.c.site_id), pt.c.username.in_(part))
            for r in conn.execute(query):
                self.rows[r.username] = r
        self.named = named
        self.refs: dict[str, str] = {}

    def who(self, username: str | None, role: str | None, year: str | None) -> str:
        if not username:
            return "not attributed"
        row = self.rows.get(username)
        name = row.display_name if row is not None else None
        role = role or (row.role if row is not None else None)
        year = year or (row.year_group if row is not None else None)
        if not self.named:
            # The group's copy: a pseudonym, numbered as people first appear in this digest,
            # and the year group. Initials, or a role one person holds ("S.M., headteacher"),
            # would name them to a group that knows the school.
            ref = self.refs.setdefault(username, f"person {len(self.refs) + 1}")
            return f"{ref}, {_year(year)}" if year else f"{ref}, no year group"
        base = f"{clean(name, 120)} ({clean(username, 120)})" if name else clean(username, 120)
        if year:
            return f"{base}, Year {year}" if year not in ("N", "R") else f"{base}, {_year(year)}"
        return f"{base}, {role}" if role else base


def _year(y: str) -> str:
    return {"N": "Nursery", "R": "Reception"}.get(y, f"Year {y}")


def _indicator(indicator: str, category: str, named: bool) -> str:
    """What an alert matched, for the group's copy the site alone: a URL's path and query can
    hold a search for a named classmate, and a search or typed text is the pupil's own words."""
    if named or category == "monitoring_gap":
        return defang(indicator, 160)
    if _DOMAINISH.match(indicator.strip()):
        rest = _SCHEME.sub("", indicator.strip(), count=1)
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        return defang(authority.rsplit("@", 1)[-1].split(":", 1)[0], 160)
    return "(text: in the DSL's copy)"


def _group_role(role: str | None) -> str:
    """A role as the group's copy counts it: a role one person holds (the headteacher, the
    only governor) would name them, so every adult is counted together."""
    return "unknown" if not role else "pupil" if role == "pupil" else "adult"


def _compare(title: str, keys: Sequence[str], this: Counter[str], last: Counter[str]) -> Compare:
    rows = [Row(k, this[k], last[k]) for k in keys if this[k] or last[k]]
    extra = sorted(set(this) | set(last) - set(keys))
    rows += [Row(k, this[k], last[k]) for k in extra if k not in keys and (this[k] or last[k])]
    return Compare(title, tuple(rows))


def collect(
    engine: Engine,
    cfg: Config,
    policy: Policy,
    week: Week,
    now: datetime,
    *,
    named: bool = False,
) -> Digest:
    """Everything the digest shows for ``week``, read from the store as it is ``now``."""
    tz = cfg.tz
    prev = week.shift(-1)
    at, audt = table_of(AlertRow), table_of(AuditRow)
    with engine.connect() as conn:
        # Alerts of this week and the one before, for the comparisons, by when what they
        # are about happened (a backfill of last month's logs counts in last month).
        two = conn.execute(
            select(
                at.c.id, at.c.first_seen, at.c.severity, at.c.category, at.c.role, at.c.year_group
            ).where(
                mine(conn, at.c.site_id), at.c.first_seen >= prev.start, at.c.first_seen < week.end
            )
        ).all()
        this_rows = [r for r in two if utc(r.first_seen) >= week.start]
        last_rows = [r for r in two if utc(r.first_seen) < week.start]

        def count(rows: Sequence[Any], attr: str, none: str) -> Counter[str]:
            return Counter(str(getattr(r, attr) or none) for r in rows)

        by_category = _compare(
            "Category",
            CATEGORIES,
            count(this_rows, "category", "?"),
            count(last_rows, "category", "?"),
        )
        by_severity = _compare(
            "Severity",
            ALERT_SEVERITIES,
            count(this_rows, "severity", "?"),
            count(last_rows, "severity", "?"),
        )
        if named:
            by_role = _compare(
                "Role",
                (*ROLES, "unknown"),
                count(this_rows, "role", "unknown"),
                count(last_rows, "role", "unknown"),
            )
        else:
            by_role = _compare(
                "Role",
                ("pupil", "adult", "unknown"),
                Counter(_group_role(r.role) for r in this_rows),
                Counter(_group_role(r.role) for r in last_rows),
            )
        years = (*(_year(y) for y in YEAR_GROUPS), "no year group")

        def year_count(rows: Sequence[Any]) -> Counter[str]:
            return Counter(_year(r.year_group) if r.year_group else "no year group" for r in rows)

        by_year = _compare("Year group", years, year_count(this_rows), year_count(last_rows))

        per_day: dict[str, list[int]] = defaultdict(lambda: [0] * 7)
        for r in this_rows:
            day = utc(r.first_seen).astimezone(tz).date()
            per_day[str(r.category)][(day - week.monday).days] += 1

        # Open alerts (as they stand now) raised before the week ended.
        open_q = (
            select(at)
            .where(mine(conn, at.c.site_id), at.c.status != "closed", at.c.created_at < week.end)
            .order_by(at.c.id)
        )
        open_rows = conn.execute(open_q).all()

        # Alerts closed during the week, from the audit trail's close records.
        closes = conn.execute(
            select(audt.c.ts, audt.c.actor, audt.c.subject, audt.c.detail)
            .where(audt.c.action == "alert.close", audt.c.ts >= week.start, audt.c.ts < week.end)
            .order_by(audt.c.id)
        ).all()
        closed_ids = [
            int(c.subject.split(":", 1)[1]) for c in closes if c.subject.startswith("alert:")
        ]
        closed_rows = (
            {
                int(r.id): r
                for r in conn.execute(
                    select(at).where(mine(conn, at.c.site_id), at.c.id.in_(closed_ids))
                )
            }
            if closed_ids
            else {}
        )
        # Reviews of this site's alerts (the audit trail is the whole store's).
        reviews = int(
            conn.execute(
                select(func.count())
                .select_from(audt)
                .where(
                    audt.c.action == "alert.review",
                    audt.c.ts >= week.start,
                    audt.c.ts < week.end,
                    audt.c.subject.in_(alert_subjects(conn)),
                )
            ).scalar_one()
        )

        people = _People(
            conn,
            [r.person for r in open_rows] + [r.person for r in closed_rows.values()],
            named,
        )
        open_alerts = [
            OpenAlert(
                int(r.id),
                r.severity,
                r.category,
                r.status,
                people.who(r.person, r.role, r.year_group),
                _indicator(r.indicator, r.category, named),
                _local(r.created_at, tz),
                now - utc(r.created_at),
                clean(r.assignee, 120) if r.assignee else None,
            )
            for r in open_rows
        ]
        open_alerts.sort(key=lambda a: (-_rank(a.severity), -a.age, a.id))
        closed: list[ClosedAlert] = []
        for c in closes:
            if not c.subject.startswith("alert:"):
                continue
            row = closed_rows.get(int(c.subject.split(":", 1)[1]))
            if row is None:
                continue
            outcome = str(json.loads(c.detail).get("outcome") or row.outcome or "")
            closed.append(
                ClosedAlert(
                    int(row.id),
                    row.severity,
                    row.category,
                    people.who(row.person, row.role, row.year_group),
                    outcome,
                    _local(c.ts, tz),
                    clean(c.actor, 120),
                    utc(c.ts) - utc(row.created_at),
                )
            )
        outcome_count = Counter(c.outcome for c in closed)
        outcomes = [(OUTCOME_TEXT[o], outcome_count[o]) for o in OUTCOME_TEXT if outcome_count[o]]
        outcomes += [(o, n) for o, n in sorted(outcome_count.items()) if o not in OUTCOME_TEXT]

        low = _low_activity(conn, week, prev)
        heat = _heat(conn, week)
        trend_labels, trend, trend_low = _trend(conn, week)
        devices = _devices(conn, week, named)
        changes, roster, exemptions = _changes(conn, week, named)
        sources = _sources(conn, cfg, policy, week)
        newest = conn.execute(
            select(audt.c.id, audt.c.hash).order_by(audt.c.id.desc()).limit(1)
        ).first()

    ages = Counter[str]()
    for a in open_alerts:
        for name, limit in AGE_BUCKETS:
            if a.age < limit:
                ages[name] += 1
                break
    digest = Digest(
        school=clean(cfg.settings.school.name, 200),
        site_id=cfg.settings.school.site_id,
        week=week,
        generated=now,
        named=named,
        by_category=by_category,
        by_severity=by_severity,
        by_role=by_role,
        by_year=by_year,
        per_day=dict(per_day),
        open_alerts=open_alerts,
        open_ages=[(name, ages[name]) for name, _ in AGE_BUCKETS],
        closed=closed,
        outcomes=outcomes,
        reviews=reviews,
        low=low,
        heat=heat,
        trend_labels=trend_labels,
        trend=trend,
        trend_low=trend_low,
        devices=devices,
        changes=changes,
        roster=roster,
        exemptions=exemptions,
        sources=sources,
        anchor=(int(newest.id), str(newest.hash)) if newest is not None else None,
    )
    digest.attention = what_to_look_at(digest)
    return digest


def _rank(severity: str) -> int:
    order = ("none", "low", "medium", "high", "critical")
    return order.index(severity) if severity in order else 0


def _low_activity(conn: Connection, week: Week, prev: Week) -> LowActivity:
    et = table_of(EventRow)
    rows = conn.execute(
        select(et.c.category, et.c.year_group, func.count())
        .where(et.c.ts >= week.start, et.c.ts < week.end, et.c.severity == "low")
        .where(mine(conn, et.c.site_id))
        .group_by(et.c.category, et.c.year_group)
    ).all()
    last_total = int(
        conn.execute(
            select(func.count())
            .select_from(et)
            .where(et.c.ts >= prev.start, et.c.ts < prev.end, et.c.severity == "low")
            .where(mine(conn, et.c.site_id))
        ).scalar_one()
    )
    columns = [*YEAR_GROUPS, "other"]
    grid: dict[str, list[int]] = defaultdict(lambda: [0] * len(columns))
    for category, year, n in rows:
        col = columns.index(year) if year in YEAR_GROUPS else len(columns) - 1
        grid[str(category or "uncategorised")][col] += int(n)
    used = [i for i in range(len(columns)) if any(v[i] for v in grid.values())]
    ordered = sorted(grid.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    labels = tuple(_year(columns[i]) if columns[i] != "other" else "staff and others" for i in used)
    return LowActivity(
        labels,
        tuple((cat, tuple(v[i] for i in used)) for cat, v in ordered),
        sum(int(n) for _, _, n in rows),
        last_total,
    )


def _heat(conn: Connection, week: Week) -> list[list[int]]:
    et = table_of(EventRow)
    grid = [[0] * 24 for _ in range(7)]
    query = select(et.c.ts).where(
        et.c.ts >= week.start,
        et.c.ts < week.end,
        et.c.severity.in_(FLAGGED),
        mine(conn, et.c.site_id),
    )
    for (ts,) in conn.execute(query):
        local = utc(ts).astimezone(week.tz)
        grid[(local.date() - week.monday).days][local.hour] += 1
    return grid


def _trend(conn: Connection, week: Week) -> tuple[list[str], dict[str, list[int]], list[int]]:
    at, et = table_of(AlertRow), table_of(EventRow)
    weeks = [week.shift(-i) for i in range(TREND_WEEKS - 1, -1, -1)]
    index = {w.label: i for i, w in enumerate(weeks)}
    by_severity = {s: [0] * len(weeks) for s in ALERT_SEVERITIES}
    rows = conn.execute(
        select(at.c.first_seen, at.c.severity).where(
            at.c.first_seen >= weeks[0].start,
            at.c.first_seen < week.end,
            mine(conn, at.c.site_id),
        )
    )
    for seen, severity in rows:
        i = index.get(Week.of(utc(seen), week.tz).label)
        if i is not None and severity in by_severity:
            by_severity[severity][i] += 1
    low = [
        int(
            conn.execute(
                select(func.count())
                .select_from(et)
                .where(et.c.ts >= w.start, et.c.ts < w.end, et.c.severity == "low")
                .where(mine(conn, et.c.site_id))
            ).scalar_one()
        )
        for w in weeks
    ]
    labels = [f"W{w.number:02d}" for w in weeks]
    return labels, by_severity, low


def _devices(conn: Connection, week: Week, named: bool) -> list[DeviceSeen]:
    et = table_of(EventRow)
    query = (
        select(et.c.ts, et.c.client_mac, et.c.hostname, et.c.device_id, et.c.text)
        .where(
            et.c.ts >= week.start,
            et.c.ts < week.end,
            et.c.category == "unauthorised_device",
            mine(conn, et.c.site_id),
        )
        .order_by(et.c.ts)
    )
    seen: dict[str, list[Any]] = defaultdict(list)
    for r in conn.execute(query):
        seen[str(r.client_mac or r.device_id or r.hostname or "?")].append(r)
    out = []
    for mac, rows in seen.items():
        latest = rows[-1]
        maker = ""
        m = re.search(r"\(([^)]*)\)", latest.text or "")
        if m:
            maker = clean(m.group(1), 80)
        days = {utc(r.ts).astimezone(week.tz).date() for r in rows}
        out.append(
            DeviceSeen(
                clean(mac, 40),
                clean(latest.device_id, 128) if latest.device_id else None,
                clean(latest.hostname, 128) if named and latest.hostname else None,
                maker,
                _local(rows[0].ts, week.tz),
                _local(latest.ts, week.tz),
                len(days),
                len(rows),
            )
        )
    out.sort(key=lambda d: (-d.days, d.mac))
    return out


def _describe_change(r: Any, named: bool, tz: ZoneInfo) -> str:
    detail: dict[str, Any] = json.loads(r.detail or "{}")
    subject = clean(r.subject, 200)
    if r.action == "list.import":
        parts = []
        for key in ("domains", "urls", "expressions"):
            n = detail.get(key)
            if n:
                before = detail.get(f"previous_{key}")
                was = f" (was {before:,})" if isinstance(before, int) and before != n else ""
                parts.append(f"{n:,} {key}{was}")
        sha = str(detail.get("sha256") or "")[:12]
        what = f"list {subject} ({detail.get('category', '?')}) imported"
        if parts:
            what += ": " + ", ".join(parts)
        return what + (f", sha256 {sha}" if sha else "")
    if r.action in ("list.remove", "list.disable", "list.enable", "list.update"):
        verb = {"list.update": "updated from their sources"}.get(r.action, r.action[5:] + "d")
        names = [clean(x.get("name", "?"), 120) for x in detail.get("lists", [])]
        before, after = detail.get("before") or {}, detail.get("after") or {}
        what = f"lists {verb}: {', '.join(names[:5]) or subject}"
        what += f" and {len(names) - 5} more" if len(names) > 5 else ""
        if isinstance(before.get("domains"), int) and isinstance(after.get("domains"), int):
            what += f"; domains in use {before['domains']:,} -> {after['domains']:,}"
        return what
    if r.action == "silence.add":
        target = "a person" if detail.get("person") else "a device"
        if named:
            target = clean(detail.get("person") or detail.get("device") or "?", 120)
        what = f"{subject}: alerts about {target}"
        what += f" in {detail['category']}" if detail.get("category") else " in every category"
        what += " held back from mail"
        if detail.get("expires_at"):
            try:
                until = datetime.fromisoformat(str(detail["expires_at"]))
            except ValueError:
                pass
            else:
                what += f" until {_local(until, tz)}"
        if named and detail.get("reason"):
            what += f" ({clean(detail['reason'], 200)})"
        return what
    if r.action == "filtering.check":
        return summary_line(detail)
    if r.action == "silence.expire":
        return f"{subject} ended by hand"
    if r.action == "agent.add":
        return f"endpoint agent {subject.removeprefix('agent:')} allowed to report"
    if r.action == "agent.revoke":
        return f"endpoint agent {subject.removeprefix('agent:')}: token revoked"
    return f"{r.action} {subject}".strip()


def _changes(
    conn: Connection, week: Week, named: bool
) -> tuple[list[Change], list[tuple[str, int]], list[tuple[str, int]]]:
    audt = table_of(AuditRow)
    rows = conn.execute(
        select(audt)
        .where(audt.c.ts >= week.start, audt.c.ts < week.end)
        .where(
            audt.c.action.like("list.%")
            | audt.c.action.like("lists.%")
            | audt.c.action.like("policy.%")
            | audt.c.action.like("silence.%")
            | audt.c.action.like("agent.%")
            | audt.c.action.like("filtering.%")
            | audt.c.action.like("person.%")
            | audt.c.action.like("device.%")
            | (audt.c.action == "exemption.used")
        )
        .order_by(audt.c.ts, audt.c.id)
    ).all()
    changes: list[Change] = []
    roster = Counter[str]()
    exemptions = Counter[str]()
    for r in rows:
        if r.action in ROSTER_ACTIONS:
            roster[r.action] += 1
        elif r.action == "exemption.used":
            detail = json.loads(r.detail or "{}")
            exemptions[str(detail.get("category") or "?")] += 1
        elif r.action.startswith(CHANGE_PREFIXES):
            changes.append(
                Change(
                    _local(r.ts, week.tz),
                    clean(r.actor, 120),
                    r.action,
                    _describe_change(r, named, week.tz),
                )
            )
    return (
        changes,
        [(text[roster[a] != 1], roster[a]) for a, text in ROSTER_ACTIONS.items() if roster[a]],
        sorted(exemptions.items(), key=lambda kv: (-kv[1], kv[0])),
    )


def _sources(conn: Connection, cfg: Config, policy: Policy, week: Week) -> list[SourceHealth]:
    et, rt, ct = table_of(EventRow), table_of(RejectedRow), table_of(CheckpointRow)
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * 7)
    formats: dict[str, str] = {s.name: s.format for s in cfg.settings.sources}
    for i, day in enumerate(week.days):
        start = week.day_start(day)
        end = week.day_start(day + timedelta(days=1))
        query = (
            select(et.c.source, et.c.fmt, func.count())
            .where(et.c.ts >= start, et.c.ts < end, et.c.kind != "health")
            .where(mine(conn, et.c.site_id))
            .group_by(et.c.source, et.c.fmt)
        )
        for source, fmt, n in conn.execute(query):
            counts[str(source)][i] += int(n)
            formats.setdefault(str(source), str(fmt))
    gaps: dict[str, list[str]] = defaultdict(list)
    query = (
        select(et.c.ts, et.c.hostname, et.c.source, et.c.text)
        .where(et.c.ts >= week.start, et.c.ts < week.end, et.c.category == "monitoring_gap")
        .where(mine(conn, et.c.site_id))
        .order_by(et.c.ts)
    )
    for r in conn.execute(query):
        gaps[str(r.hostname or r.source)].append(clean(r.text or "silent", 300))
    rejected: dict[str, int] = {}
    reasons: dict[str, str] = {}
    rq = (
        select(rt.c.source, rt.c.reason, func.count())
        .where(rt.c.read_at >= week.start, rt.c.read_at < week.end)
        .where(mine(conn, rt.c.site_id))
        .group_by(rt.c.source, rt.c.reason)
        .order_by(func.count().desc())
    )
    for source, reason, n in conn.execute(rq):
        rejected[str(source)] = rejected.get(str(source), 0) + int(n)
        reasons.setdefault(str(source), clean(reason, 200))
    last_events = {
        str(r.source): r.last_event_at
        for r in conn.execute(
            select(ct.c.source, ct.c.last_event_at).where(mine(conn, ct.c.site_id))
        )
    }
    names = [s.name for s in cfg.settings.sources]
    names += sorted((set(counts) | set(gaps) | set(rejected)) - set(names) - {"health"})
    school_days = [i for i, d in enumerate(week.days) if policy.is_school_day(d)]
    out = []
    for name in names:
        per_day = tuple(counts[name]) if name in counts else (0,) * 7
        mask = tuple(i in school_days and per_day[i] == 0 for i in range(7))
        quiet = tuple(f"{week.days[i]:%a} {week.days[i].day}" for i in range(7) if mask[i])
        last = last_events.get(name)
        out.append(
            SourceHealth(
                clean(name, 128),
                formats.get(name, "?"),
                per_day,
                tuple(gaps.get(name, ())),
                rejected.get(name, 0),
                reasons.get(name),
                quiet,
                _local(last, week.tz) if last else None,
                mask,
            )
        )
    return out


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def what_to_look_at(d: Digest) -> list[Attention]:
    """The few things the group should look at first, most pressing first."""
    out: list[Attention] = []
    crit = d.by_severity.get("critical").this
    if crit:
        out.append(
            Attention(
                "urgent",
                f"{crit} critical alert{'s' if crit != 1 else ''} this week (illegal content "
                "or a child at risk): check that each has been referred and reviewed.",
                "open",
            )
        )
    stale = [a for a in d.open_alerts if a.stale]
    if stale:
        ids = ", ".join(f"#{a.id}" for a in stale[:8]) + (" and more" if len(stale) > 8 else "")
        worst = max(stale, key=lambda a: a.age)
        out.append(
            Attention(
                "urgent" if any(a.severity in ("critical", "high") for a in stale) else "check",
                f"{len(stale)} open alert{'s' if len(stale) != 1 else ''} past the time to act "
                f"({ids}); the oldest, #{worst.id} ({worst.severity} {worst.category}), has "
                f"been open {worst.age_text}.",
                "open",
            )
        )
    for row in d.by_category.rows:
        if row.key in CONCERN and row.this > row.last:
            out.append(
                Attention(
                    "urgent" if row.key in ("child_abuse", "terrorist_content") else "check",
                    f"{row.label}: {row.this} alert{'s' if row.this != 1 else ''} this week "
                    f"against {row.last} last week.",
                    "compare",
                )
            )
    for row in d.by_category.rows:
        if row.key not in CONCERN and row.this >= 3 and row.this >= 2 * max(row.last, 1):
            out.append(
                Attention(
                    "check",
                    f"{row.label} alerts rose to {row.this} from {row.last} last week.",
                    "compare",
                )
            )
    for s in d.sources:
        if s.gaps:
            out.append(
                Attention(
                    "check",
                    f"Source {s.name} went quiet {_times(len(s.gaps))} this week: nothing it "
                    "should have seen was checked then.",
                    "sources",
                )
            )
        elif s.quiet_days:
            out.append(
                Attention(
                    "check",
                    f"Source {s.name} recorded nothing on {', '.join(s.quiet_days)} (school days).",
                    "sources",
                )
            )
        if s.rejected:
            out.append(
                Attention(
                    "note",
                    f"Source {s.name}: {s.rejected:,} line{'s' if s.rejected != 1 else ''} "
                    "could not be read (has the log format changed?).",
                    "sources",
                )
            )
    if d.devices:
        n = len(d.devices)
        out.append(
            Attention(
                "check",
                f"{n} unauthorised device{'s' if n != 1 else ''} joined the network "
                f"({sum(x.leases for x in d.devices)} lease{'s' if n != 1 else ''}).",
                "devices",
            )
        )
    if d.changes:
        out.append(
            Attention(
                "note",
                f"{len(d.changes)} list or policy change{'s' if len(d.changes) != 1 else ''}: "
                "check that each was expected.",
                "changes",
            )
        )
    if not out:
        out.append(Attention("note", "Nothing stands out this week.", "compare"))
    out.sort(key=lambda a: LEVELS.index(a.level))
    return out


# --- rendering ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    images: dict[str, bytes]  # chart name to PNG
    digest: Digest

    def html(self, sources: Mapping[str, str]) -> str:
        """The HTML with each chart's ``src`` from ``sources`` (``cid:...`` or a file)."""
        return TEMPLATES.get_template("digest.html.j2").render(d=self.digest, img=sources)


def render(d: Digest) -> Rendered:
    images = {
        "per_day": charts.stacked_bars(
            "Alerts per day, by category", d.day_labels, d.per_day, empty="No alerts this week"
        ),
        "heat": charts.heat_map(
            "Flagged activity (low severity and above) by day and hour", d.heat, d.day_labels
        ),
        "trend": charts.trend(
            f"Twelve weeks to {d.week.label}", d.trend_labels, d.trend, d.trend_low
        ),
    }
    text = TEMPLATES.get_template("digest.txt.j2").render(d=d)
    return Rendered(text, images, d)


def subject(d: Digest) -> str:
    copy = " (named copy for the DSL)" if d.named else ""
    return clean(f"[monitord] Weekly digest {d.week.label}{copy} - {d.school}", 200)


def message_id(cfg: Config, d: Digest) -> str:
    domain = cfg.settings.smtp.sender.rpartition("@")[2] or "monitord.local"
    site = re.sub(r"[^A-Za-z0-9-]", "-", cfg.settings.school.site_id)
    return f"<digest-{d.week.label}.{d.edition}.{site}.monitord@{clean(domain, 200)}>"


def build_message(
    cfg: Config, r: Rendered, recipients: Sequence[str], now: datetime
) -> EmailMessage:
    """multipart/alternative: the plain text, then multipart/related holding the HTML and its
    charts as inline images the HTML names by ``cid:``."""
    d = r.digest
    site = re.sub(r"[^A-Za-z0-9-]", "-", cfg.settings.school.site_id)
    cids = {name: f"{name}.{d.week.label}.{site}@monitord" for name in r.images}
    msg = EmailMessage()
    msg["Subject"] = subject(d)
    msg["From"] = cfg.settings.smtp.sender
    msg["To"] = ", ".join(recipients) if recipients else "undisclosed-recipients:;"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(cfg, d)
    msg["X-Monitord-Digest"] = f"{d.week.label} {d.edition}"
    msg.set_content(r.text)
    msg.add_alternative(r.html({k: f"cid:{v}" for k, v in cids.items()}), subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    assert isinstance(html_part, EmailMessage)
    for name, png in r.images.items():
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{cids[name]}>",
            filename=CHART_FILES[name],
            disposition="inline",
        )
    return msg


def write_preview(r: Rendered, folder: Path) -> list[Path]:
    """The digest as files: ``digest.html`` (charts beside it), ``digest.txt`` and the PNGs."""
    private_dir(folder)
    written = []
    for name, png in r.images.items():
        written.append(write_private(folder / CHART_FILES[name], png))
    html = write_private(folder / "digest.html", r.html(CHART_FILES).encode())
    text = write_private(folder / "digest.txt", r.text.encode())
    return [html, text, *written]


# --- queueing ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Queued:
    week: Week
    edition: str
    outbox_id: int
    recipients: tuple[str, ...]


def recipients_for(cfg: Config, named: bool) -> list[str]:
    r = cfg.settings.recipients
    return list(r.dsl if named else r.online_safety_group)


def sent_before(engine: Engine, site_id: str, week: Week, edition: str) -> Any | None:
    dt = table_of(DigestRow)
    with engine.connect() as conn:
        return conn.execute(
            select(dt).where(
                mine(conn, dt.c.site_id, site_id), dt.c.week == week.label, dt.c.edition == edition
            )
        ).first()


def queue_digest(
    engine: Engine,
    cfg: Config,
    policy: Policy,
    week: Week,
    now: datetime,
    actor: str,
    *,
    named: bool = False,
) -> Queued:
    """Make the week's digest and queue it for mail, recorded so that it goes once: raises
    AlreadySent if this week's digest of this edition was queued before."""
    edition = NAMED if named else GROUP
    site = cfg.settings.school.site_id
    recipients = recipients_for(cfg, named)
    if not recipients:
        key = "dsl" if named else "online_safety_group"
        raise DigestError(f"recipients.{key} is empty in the config: nobody to send the digest to")
    done = sent_before(engine, site, week, edition)
    if done is not None:
        raise AlreadySent(_already(week, edition, done, cfg.tz))
    rendered = render(collect(engine, cfg, policy, week, now, named=named))
    msg = build_message(cfg, rendered, recipients, now)
    dt, ot = table_of(DigestRow), table_of(OutboxRow)
    try:
        with engine.begin() as conn:
            # The record first: a second run racing this one fails here, before its mail.
            conn.execute(
                dt.insert().values(
                    site_id=site,
                    week=week.label,
                    edition=edition,
                    queued_at=now,
                    queued_by=actor,
                    recipients=json.dumps(recipients),
                )
            )
            outbox_id = inserted_id(
                conn.execute(
                    ot.insert().values(
                        site_id=site,
                        alert_id=None,
                        created_at=now,
                        due_at=now,
                        status="queued",
                        attempts=0,
                        message_id=str(msg["Message-ID"]),
                        recipients=json.dumps(recipients),
                        subject=str(msg["Subject"]),
                        message=bytes(msg),
                        severity="digest",
                    )
                )
            )
            conn.execute(
                dt.update()
                .where(
                    mine(conn, dt.c.site_id, site), dt.c.week == week.label, dt.c.edition == edition
                )
                .values(outbox_id=outbox_id)
            )
            audit(
                conn,
                actor,
                "digest.queued",
                f"digest:{week.label}",
                {"edition": edition, "outbox": outbox_id, "recipients": recipients},
                now=now,
            )
    except IntegrityError:
        done = sent_before(engine, site, week, edition)
        raise AlreadySent(_already(week, edition, done, cfg.tz)) from None
    return Queued(week, edition, outbox_id, tuple(recipients))


def _already(week: Week, edition: str, row: Any | None, tz: ZoneInfo) -> str:
    what = "the DSL's named digest" if edition == NAMED else "the digest"
    if row is None:
        return f"{what} for {week.label} has already been queued"
    when = _local(row.queued_at, tz, "%a %d %b %Y %H:%M")
    return (
        f"{what} for {week.label} was already queued on {when} by {row.queued_by} "
        f"(outbox message {row.outbox_id}): it is sent once"
    )
