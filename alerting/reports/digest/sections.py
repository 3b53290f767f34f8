"""The digest's sections read from the store for one week: low-severity activity that raised
no alert, the hour-by-day heat map, the twelve-week trend, unauthorised devices, the
change-control log and the health of each source."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from alerting.reports.digest.model import (
    ALERT_SEVERITIES,
    CHANGE_PREFIXES,
    FLAGGED,
    ROSTER_ACTIONS,
    TREND_WEEKS,
    Change,
    DeviceSeen,
    LowActivity,
    SourceHealth,
    local_text,
    year_text,
)
from alerting.reports.digest.week import Week
from monitord.casework.filtercheck import summary_line
from monitord.classify.policy import Policy
from monitord.core.defang import clean
from monitord.identity.roster import YEAR_GROUPS
from monitord.settings.config import Config
from monitord.store.database import mine, table_of, utc
from monitord.store.lookupcounts import judged_count, judged_lookups
from monitord.store.tables import (
    AlertRow,
    AuditRow,
    CheckpointRow,
    EventRow,
    RejectedRow,
)

# What the digest counts as low-severity activity (recorded, no alert).
LOW = ("low",)


def _low_activity(conn: Connection, week: Week, prev: Week) -> LowActivity:
    et = table_of(EventRow)
    rows = [
        *conn.execute(
            select(et.c.category, et.c.year_group, func.count())
            .where(et.c.ts >= week.start, et.c.ts < week.end, et.c.severity == "low")
            .where(mine(conn, et.c.site_id))
            .group_by(et.c.category, et.c.year_group)
        ),
        *judged_lookups(conn, week.start, week.end, ("category", "year_group"), severities=LOW),
    ]
    last_total = _low_count(conn, prev)
    columns = [*YEAR_GROUPS, "other"]
    grid: dict[str, list[int]] = defaultdict(lambda: [0] * len(columns))
    for category, year, n in rows:
        col = columns.index(year) if year in YEAR_GROUPS else len(columns) - 1
        grid[str(category or "uncategorised")][col] += int(n)
    used = [i for i in range(len(columns)) if any(v[i] for v in grid.values())]
    ordered = sorted(grid.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    labels = tuple(
        year_text(columns[i]) if columns[i] != "other" else "staff and others" for i in used
    )
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
    times = [(utc(ts), 1) for (ts,) in conn.execute(query)]
    times += judged_lookups(conn, week.start, week.end, ("ts",), severities=FLAGGED)
    for ts, n in times:
        local = ts.astimezone(week.tz)
        grid[(local.date() - week.monday).days][local.hour] += int(n)
    return grid


def _low_count(conn: Connection, week: Week) -> int:
    """How many low-severity events (lookups among them) the week holds."""
    et = table_of(EventRow)
    events = conn.execute(
        select(func.count())
        .select_from(et)
        .where(et.c.ts >= week.start, et.c.ts < week.end, et.c.severity == "low")
        .where(mine(conn, et.c.site_id))
    ).scalar_one()
    return int(events) + judged_count(conn, week.start, week.end, severities=LOW)


def _trend(conn: Connection, week: Week) -> tuple[list[str], dict[str, list[int]], list[int]]:
    at = table_of(AlertRow)
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
    low = [_low_count(conn, w) for w in weeks]
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
                local_text(rows[0].ts, week.tz),
                local_text(latest.ts, week.tz),
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
                what += f" until {local_text(until, tz)}"
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
    # The school's own records; the category lists are the store's, whoever changed them.
    shared_lists = audt.c.action.like("list.%") | audt.c.action.like("lists.%")
    rows = conn.execute(
        select(audt)
        .where(audt.c.ts >= week.start, audt.c.ts < week.end)
        .where(mine(conn, audt.c.site_id) | shared_lists)
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
                    local_text(r.ts, week.tz),
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
                local_text(last, week.tz) if last else None,
                mask,
            )
        )
    return out
