"""A school week (and the eleven before it) written straight into the store's tables, as the
pipeline, the alert manager and case work would have left them: the data the digest tests
and the README's screenshot are made from.

Run as a script to write a preview of its digest into a folder:
``python -m tests.alerting.reports.digestweek DIR`` (the named copy with ``--named``).
"""

from __future__ import annotations

import hashlib
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update

from alerting.reports.digest.week import Week
from monitord.store.database import audit, insert_ignore, inserted_id, table_of
from monitord.store.tables import (
    AlertRow,
    CheckpointRow,
    DeviceRow,
    EventRow,
    PersonRow,
    RejectedRow,
)

# (username, display name, role, year group)
PEOPLE = [
    ("amelia.p", "Amelia Patel", "pupil", "6"),
    ("noah.w", "Noah Williams", "pupil", "6"),
    ("isla.j", "Isla Jones", "pupil", "5"),
    ("leo.b", "Leo Brown", "pupil", "5"),
    ("freya.t", "Freya Taylor", "pupil", "4"),
    ("oscar.d", "Oscar Davies", "pupil", "4"),
    ("ava.e", "Ava Evans", "pupil", "3"),
    ("theo.w", "Theo Wilson", "pupil", "3"),
    ("mia.t", "Mia Thomas", "pupil", "2"),
    ("jack.r", "Jack Roberts", "pupil", "1"),
    ("mr.hughes", "David Hughes", "staff", None),
    ("ms.khan", "Sara Khan", "staff", None),
    ("mrs.green", "Helen Green", "headteacher", None),
]
ROLE = {u: (r, y) for u, _, r, y in PEOPLE}
SOURCES = (("pihole", "dnsmasq"), ("proxy", "squid"), ("agents", "agent"))
LOW_CATEGORIES = ("gaming", "video_streaming", "shopping", "large_download", "file_sharing")
# This week's alerts: (day index, hour, minute, severity, category, username, indicator)
ALERTS = [
    (0, 9, 12, "high", "self_harm", "isla.j", "search: how to hide cuts from parents"),
    (0, 13, 40, "medium", "social_media", "noah.w", "www.tiktok.com"),
    (0, 14, 5, "high", "filter_bypass", "noah.w", "hola.org"),
    (1, 10, 35, "high", "pornography", "leo.b", "www.pornhub.com"),
    (1, 11, 2, "medium", "gambling", "mr.hughes", "www.bet365.com"),
    (1, 12, 20, "medium", "messaging", "amelia.p", "discord.com"),
    (2, 9, 48, "high", "bullying", "freya.t", "typed: nobody likes you oscar just leave"),
    (2, 12, 15, "medium", "social_media", "amelia.p", "www.instagram.com"),
    (2, 15, 50, "medium", "unauthorised_device", None, "5c:f9:38:a1:22:07"),
    (3, 10, 41, "critical", "child_abuse", None, "http://iwf-test.example/abuse/1"),
    (3, 11, 30, "high", "violence", "oscar.d", "www.liveleak.com"),
    (3, 13, 10, "medium", "social_media", "isla.j", "www.snapchat.com"),
    (4, 9, 5, "high", "filter_bypass", "amelia.p", "www.croxyproxy.com"),
    (4, 12, 45, "medium", "monitoring_gap", None, "source proxy (squid) has written nothing"),
    (4, 14, 20, "high", "suicide", "theo.w", "search: i want to die"),
]
# How each of them stands now: alert index -> (status, outcome or None, assignee, reviewer)
CASEWORK = {
    0: ("closed", "internal_action", "ms.khan", None),
    1: ("closed", "no_concern", "ms.khan", None),
    3: ("closed", "internal_action", "ms.khan", None),
    4: ("acknowledged", None, "mrs.green", None),
    5: ("closed", "no_concern", "ms.khan", None),
    6: ("acknowledged", None, "ms.khan", None),
    9: ("closed", "referred_police", "mrs.green", "ms.khan"),
    11: ("closed", "no_concern", "ms.khan", None),
    13: ("closed", "no_concern", "it.tech", None),
}
# Last week's alerts, by category and severity, and the weeks before (a count each).
LAST_WEEK = [
    ("high", "self_harm", "isla.j"),
    ("medium", "social_media", "noah.w"),
    ("medium", "social_media", "amelia.p"),
    ("medium", "social_media", "freya.t"),
    ("medium", "gaming", "leo.b"),
    ("high", "pornography", "oscar.d"),
    ("medium", "messaging", "amelia.p"),
    ("high", "filter_bypass", "noah.w"),
    ("medium", "unauthorised_device", None),
]
EARLIER_WEEKS = [6, 9, 4, 11, 7, 8, 12, 5, 9, 10]  # weeks -11 .. -2
UNAUTHORISED = [
    ("5c:f9:38:a1:22:07", "Apple, Inc.", "Jaydens-iPhone", (2, 3, 4)),
    ("3c:28:6d:10:9e:41", "Google, Inc.", "Pixel-7", (1,)),
    ("a4:83:e7:5d:02:19", "Apple, Inc.", "iPad", (0, 1, 2, 3, 4)),
]


@dataclass
class Generated:
    """What was written, for tests that want to know without asking the store."""

    week: Week
    now: datetime
    alert_ids: list[int] = field(default_factory=list)
    last_week_ids: list[int] = field(default_factory=list)


def _eid(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def _event(
    ts: datetime,
    source: str,
    fmt: str,
    n: int,
    *,
    kind: str = "dns",
    domain: str | None = None,
    username: str | None = None,
    category: str | None = None,
    severity: str = "none",
    **extra: Any,
) -> dict[str, Any]:
    role, year = ROLE.get(username or "", (None, None))
    row: dict[str, Any] = {
        "id": _eid(source, ts.isoformat(), n),
        "site_id": "default",
        "ts": ts,
        "source": source,
        "fmt": fmt,
        "kind": kind,
        "client_ip": f"10.0.{n % 4}.{n % 250 + 2}",
        "client_mac": None,
        "user": None,
        "domain": domain,
        "url": None,
        "method": None,
        "qtype": "A" if kind == "dns" else None,
        "action": None,
        "blocked": False,
        "status": None,
        "size": None,
        "hostname": None,
        "text": None,
        "username": username,
        "device_id": None,
        "role": role,
        "year_group": year,
        "attributed_by": "assigned_device" if username else "unattributed",
        "attribution": "generated for the digest tests",
        "category": category,
        "severity": severity,
        "file_id": f"{source}-file",
        "offset": n * 80,
        "raw": f"{ts:%b %d %H:%M:%S} {source}: query[A] {domain} from 10.0.0.{n % 250}".encode(),
    }
    row.update(extra)
    return row


def generate(engine: Engine, week: Week, seed: int = 47) -> Generated:
    """Write ``week`` and the eleven weeks before it; returns what was written."""
    rnd = random.Random(seed)
    tz = week.tz
    now = datetime.combine(week.monday + timedelta(days=7), time(7, 0), tz).astimezone(UTC)
    gen = Generated(week, now)

    def at(day: int, hour: int, minute: int = 0, w: Week = week) -> datetime:
        local = datetime.combine(w.monday + timedelta(days=day), time(hour, minute), tz)
        return local.astimezone(UTC)

    pt, dt = table_of(PersonRow), table_of(DeviceRow)
    et, at_ = table_of(EventRow), table_of(AlertRow)
    with engine.begin() as conn:
        insert_ignore(
            conn,
            pt,
            [
                {
                    "username": u,
                    "display_name": name,
                    "role": role,
                    "year_group": year,
                    "class_name": f"{year}A" if year else None,
                    "email": None if role == "pupil" else f"{u}@school.example",
                    "active": True,
                    "updated_at": at(0, 7, w=week.shift(-12)),
                }
                for u, name, role, year in PEOPLE
            ],
        )
        insert_ignore(
            conn,
            dt,
            [
                {
                    "device_id": "IPAD-LIB-03",
                    "mac": "a4:83:e7:5d:02:19",
                    "hostname": "iPad",
                    "ownership": "visitor_owned",
                    "assigned_to": None,
                    "ip": None,
                    "location": "library",
                    "active": True,
                    "updated_at": at(0, 7, w=week.shift(-12)),
                }
            ],
        )

        # Ordinary traffic, this week: every source every school day, a trickle at weekends;
        # the proxy says nothing on Thursday (a quiet school day).
        events: list[dict[str, Any]] = []
        n = 0
        for day in range(7):
            for source, fmt in SOURCES:
                if source == "proxy" and day == 3:
                    continue
                count = (140 if source != "agents" else 60) if day < 5 else 6
                for _ in range(count):
                    n += 1
                    hour = rnd.randint(8, 15) if day < 5 else rnd.randint(9, 20)
                    ts = at(day, hour, rnd.randint(0, 59))
                    events.append(_event(ts, source, fmt, n, domain="www.bbc.co.uk"))
        # Low-severity activity, by year group, this week and the eleven before.
        for back in range(12):
            w = week.shift(-back)
            per_week = 38 if back == 0 else 20 + (back * 7) % 23
            for _ in range(per_week):
                n += 1
                user = rnd.choice(PEOPLE)[0]
                category = rnd.choice(LOW_CATEGORIES)
                day = rnd.randint(0, 4)
                hour = rnd.choice((8, 10, 10, 12, 12, 12, 13, 15, 16))
                ts = at(day, hour, rnd.randint(0, 59), w)
                events.append(
                    _event(
                        ts,
                        "pihole",
                        "dnsmasq",
                        n,
                        domain=f"{category}.example",
                        username=user,
                        category=category,
                        severity="low",
                    )
                )
        # Unauthorised devices (one event per device per day, as identity makes them).
        for mac, maker, host, days in UNAUTHORISED:
            for day in days:
                n += 1
                device = "IPAD-LIB-03" if mac.startswith("a4:83") else None
                events.append(
                    _event(
                        at(day, 8, 40 + len(host) % 15),
                        "leases",
                        "dnsmasq-leases",
                        n,
                        kind="device",
                        category="unauthorised_device",
                        severity="medium",
                        client_mac=mac,
                        hostname=host,
                        device_id=device,
                        text=f"{mac} ({maker}), {host}, leased 10.0.3.{n % 200}: "
                        "visitor-owned devices may not use this network",
                    )
                )
        # The proxy's silence, as the health check records it.
        n += 1
        events.append(
            _event(
                at(4, 12, 45),
                "proxy",
                "monitoring_gap",
                n,
                kind="health",
                category="monitoring_gap",
                severity="medium",
                hostname="proxy",
                text="source proxy (squid) has written nothing since Thu 19 Nov 08:00 GMT "
                "(limit 2 h)",
            )
        )
        insert_ignore(conn, et, events)

        # This week's alerts, each with its event.
        def alert(ts: datetime, severity: str, category: str, user: str | None, ind: str) -> int:
            role, year = ROLE.get(user or "", (None, None))
            return inserted_id(
                conn.execute(
                    at_.insert().values(
                        site_id="default",
                        group_key=f"default|person:{user}|{category}",
                        created_at=ts,
                        updated_at=ts,
                        severity=severity,
                        category=category,
                        status="open",
                        person=user,
                        role=role,
                        year_group=year,
                        device=None,
                        ip="10.0.1.20",
                        indicator=ind,
                        first_seen=ts,
                        last_seen=ts,
                        count=1,
                        blocked=False,
                        sources='["dnsmasq"]',
                        recipients='["dsl@school.example"]',
                        rule=f"severity.{category}.pupil",
                    )
                )
            )

        for day, hour, minute, severity, category, who, ind in ALERTS:
            gen.alert_ids.append(alert(at(day, hour, minute), severity, category, who, ind))
        last = week.shift(-1)
        for i, (severity, category, who) in enumerate(LAST_WEEK):
            ts = at(i % 5, 10 + i % 5, 7 * i % 60, last)
            gen.last_week_ids.append(alert(ts, severity, category, who, f"{category}.example"))
        for back, count in zip(range(11, 1, -1), EARLIER_WEEKS, strict=True):
            w = week.shift(-back)
            for i in range(count):
                severity = "high" if i % 3 == 0 else "medium"
                category = ("social_media", "gaming", "filter_bypass", "messaging")[i % 4]
                ts = at(i % 5, 9 + i % 6, 0, w)
                alert_id = alert(ts, severity, category, PEOPLE[i % 10][0], f"{category}.example")
                # Long since dealt with.
                conn.execute(
                    update(at_)
                    .where(at_.c.id == alert_id)
                    .values(status="closed", outcome="no_concern")
                )
        # Last week's alerts were all closed last week, but one.
        for i, alert_id in enumerate(gen.last_week_ids[:-1]):
            ts = at(4, 16, i, last)
            conn.execute(
                update(at_)
                .where(at_.c.id == alert_id)
                .values(status="closed", outcome="no_concern", updated_at=ts)
            )
            audit(
                conn,
                "ms.khan",
                "alert.close",
                f"alert:{alert_id}",
                {"outcome": "no_concern"},
                now=ts,
            )

        # Case work this week, as monitord.casework.cases records it.
        for index, (status, outcome, assignee, reviewer) in CASEWORK.items():
            alert_id = gen.alert_ids[index]
            day = ALERTS[index][0]
            ts = at(min(day + 1, 4), 15, 30 + index)
            conn.execute(update(at_).where(at_.c.id == alert_id).values(assignee=assignee))
            audit(conn, "dsl", "alert.assign", f"alert:{alert_id}", {"assignee": assignee}, now=ts)
            if reviewer:
                conn.execute(
                    update(at_)
                    .where(at_.c.id == alert_id)
                    .values(reviewer=reviewer, reviewed_at=ts + timedelta(minutes=5))
                )
                audit(
                    conn,
                    reviewer,
                    "alert.review",
                    f"alert:{alert_id}",
                    {"reviewer": reviewer, "first_reviewer": assignee},
                    now=ts + timedelta(minutes=5),
                )
            close_at = ts + timedelta(minutes=10)
            values: dict[str, Any] = {"status": status, "updated_at": close_at}
            if status == "closed":
                values["outcome"] = outcome
                audit(
                    conn,
                    assignee,
                    "alert.close",
                    f"alert:{alert_id}",
                    {"outcome": outcome},
                    now=close_at,
                )
            else:
                audit(conn, assignee, "alert.ack", f"alert:{alert_id}", {}, now=close_at)
            conn.execute(update(at_).where(at_.c.id == alert_id).values(**values))

        # Change control: two list imports, a silence, a new agent, roster changes.
        audit(
            conn,
            "it.tech",
            "list.import",
            "ut1-adult",
            {
                "category": "pornography",
                "sha256": "9f2c4e71a0b3d5c8e6f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
                "domains": 4_563_102,
                "urls": 4_018,
                "expressions": 0,
                "previous_domains": 4_551_870,
                "previous_urls": 4_011,
            },
            now=at(0, 7, 30),
        )
        audit(
            conn,
            "it.tech",
            "list.import",
            "school-blocked",
            {
                "category": "filter_bypass",
                "sha256": "1b7e0c55d2a94f3e8c6b1a0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f",
                "domains": 212,
                "urls": 0,
                "expressions": 0,
                "previous_domains": 205,
                "previous_urls": 0,
            },
            now=at(2, 16, 5),
        )
        audit(
            conn,
            "ms.khan",
            "silence.add",
            "silence:4",
            {
                "reason": "Isla's safety plan: the DSL reviews her searches daily with her mum",
                "person": "isla.j",
                "device": None,
                "category": "self_harm",
                "expires_at": str(at(4, 16)),
            },
            now=at(1, 8, 50),
        )
        audit(conn, "it.tech", "agent.add", "agent:suite-pc-agents", {}, now=at(3, 8, 15))
        for u in ("jack.r", "mia.t"):
            audit(conn, "it.tech", "person.update", u, {"changed": {"class_name": 1}}, now=at(0, 7))
        audit(conn, "it.tech", "person.add", "new.pupil", {}, now=at(0, 7))
        audit(
            conn,
            "monitord",
            "exemption.used",
            "mr.hughes",
            {"category": "filter_bypass", "event": "x", "rule": "nominated.filter_bypass"},
            now=at(2, 11),
        )

        # Each source's read position, and lines it could not read.
        ct, rt = table_of(CheckpointRow), table_of(RejectedRow)
        for source, fmt in (*SOURCES, ("leases", "dnsmasq-leases")):
            conn.execute(
                ct.insert().values(
                    source=source,
                    path=f"/var/log/{source}.log",
                    file_id=f"{source}-file",
                    inode=1,
                    offset=n * 80,
                    lines=n,
                    events=n,
                    rejected=0,
                    last_event_at=at(6, 20),
                    updated_at=at(6, 20),
                )
            )
            del fmt
        reasons = ["not a dnsmasq log-queries line"] * 12 + ["timestamp without a time"] * 5
        for i, reason in enumerate(reasons):
            conn.execute(
                rt.insert().values(
                    id=_eid("rejected", i),
                    source="pihole",
                    fmt="dnsmasq",
                    path="/var/log/pihole.log",
                    file_id="pihole-file",
                    offset=i * 100,
                    reason=reason,
                    raw=b"Nov 17 garbled line",
                    read_at=at(1 + i % 3, 11),
                )
            )
    return gen


def main(argv: list[str]) -> int:
    """Write the generated week's digest preview into a folder (the README's screenshot)."""
    import tempfile
    from zoneinfo import ZoneInfo

    from alerting.reports.digest.collect import collect
    from alerting.reports.digest.render import render, write_preview
    from monitord.classify.policy import load_policy
    from monitord.service.initdir import init_dir
    from monitord.settings.config import load_config
    from monitord.store.database import open_store

    out = Path(argv[0])
    named = "--named" in argv
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(init_dir(Path(tmp) / "site")[0])
        engine = open_store(cfg.database_url)
        week = Week(2026, 47, ZoneInfo(cfg.settings.school.timezone))
        gen = generate(engine, week)
        policy = load_policy(cfg.policy_file, cfg.tz)
        digest = collect(engine, cfg, policy, week, gen.now, named=named)
        for path in write_preview(render(digest), out):
            print(path)
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
