"""Reading a week from the store: alerts of the week and the one before, open and closed
alerts with who they concern (a pseudonym in the group's copy), and the sections read by
:mod:`alerting.reports.digest.sections`."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from alerting.reports.digest.attention import what_to_look_at
from alerting.reports.digest.model import (
    AGE_BUCKETS,
    ALERT_SEVERITIES,
    OUTCOME_TEXT,
    ClosedAlert,
    Compare,
    Digest,
    OpenAlert,
    Row,
    local_text,
    year_text,
)
from alerting.reports.digest.sections import (
    _changes,
    _devices,
    _heat,
    _low_activity,
    _sources,
    _trend,
)
from alerting.reports.digest.week import Week
from monitord.classify.policy import Policy
from monitord.core.categories import CATEGORIES
from monitord.core.defang import clean, defang
from monitord.identity.roster import ROLES, YEAR_GROUPS
from monitord.settings.config import Config
from monitord.store.database import alert_subjects, mine, table_of, utc
from monitord.store.tables import (
    AlertRow,
    AuditRow,
    PersonRow,
)

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_DOMAINISH = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?[^\s/]+\.[^\s/]+(?:/\S*)?$", re.IGNORECASE)


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
            return f"{ref}, {year_text(year)}" if year else f"{ref}, no year group"
        base = f"{clean(name, 120)} ({clean(username, 120)})" if name else clean(username, 120)
        if year:
            return (
                f"{base}, Year {year}" if year not in ("N", "R") else f"{base}, {year_text(year)}"
            )
        return f"{base}, {role}" if role else base


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
        years = (*(year_text(y) for y in YEAR_GROUPS), "no year group")

        def year_count(rows: Sequence[Any]) -> Counter[str]:
            return Counter(
                year_text(r.year_group) if r.year_group else "no year group" for r in rows
            )

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
                local_text(r.created_at, tz),
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
                    local_text(c.ts, tz),
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
