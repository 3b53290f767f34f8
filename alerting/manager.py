"""Opening and growing alerts from policy decisions, and queueing their mail.

An alert groups one person's (or, failing a person, one device's or address's) events of one
category while they keep coming within the group window: the DSL gets one alert that grows,
not one per lookup. The alert, its links to events, its audit record and its outbox message
are written in the batch's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from alerting.mail import MailContext, build_alert_message
from monitord.clock import Clock
from monitord.config import Config
from monitord.model import Decision, Judged, Severity
from monitord.store import audit, insert_ignore, inserted_id, table_of, utc
from monitord.tables import AlertEventRow, AlertRow, OutboxRow

ALERTING = frozenset({Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL})
IMMEDIATE = frozenset({Severity.HIGH, Severity.CRITICAL})


def indicator_of(j: Judged) -> str:
    ev = j.event
    return ev.url or ev.domain or ev.text or ev.client_mac or ev.client_ip or "?"


def group_key(site_id: str, j: Judged, category: str) -> str:
    person = j.attribution.person
    device = j.attribution.device
    who = (
        f"person:{person.username}"
        if person
        else f"user:{j.event.user}"
        if j.event.user
        else f"device:{device.device_id}"
        if device
        else f"ip:{j.event.client_ip}"
        if j.event.client_ip
        else f"host:{j.event.hostname}"
    )
    return f"{site_id}|{who}|{category}"


def next_batch_time(ts: datetime, interval: timedelta) -> datetime:
    """The next whole multiple of ``interval`` after ``ts`` (hourly: the next o'clock)."""
    step = int(interval.total_seconds()) or 3600
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(((epoch // step) + 1) * step, ts.tzinfo)


@dataclass(frozen=True, slots=True)
class _Open:
    id: int
    first_seen: datetime
    last_seen: datetime
    severity: Severity


class AlertManager:
    """The AlertSink the pipeline calls inside each batch's transaction."""

    def __init__(self, cfg: Config, clock: Clock, actor: str = "monitord") -> None:
        self.cfg = cfg
        self.clock = clock
        self.actor = actor
        self.window = cfg.settings.alerts.group_window

    def addresses(self, lists: Sequence[str]) -> list[str]:
        rcpt = self.cfg.settings.recipients
        out: list[str] = []
        for name in lists:
            for addr in getattr(rcpt, name, []):
                if addr not in out:
                    out.append(addr)
        return out

    def apply(self, conn: Connection, judged: Sequence[Judged]) -> tuple[int, int]:
        opened = updated = 0
        et = table_of(AlertEventRow)
        for j in sorted(judged, key=lambda x: x.event.ts):
            for d in j.decisions:
                if d.exempt:
                    audit(
                        conn,
                        self.actor,
                        "exemption.used",
                        j.attribution.person.username if j.attribution.person else "",
                        {"event": j.event_id, "category": d.category, "rule": d.rule},
                        now=self.clock.now(),
                    )
                    continue
                if d.severity not in ALERTING:
                    continue
                key = group_key(self.cfg.settings.school.site_id, j, d.category)
                current = self._find_open(conn, key, j.event.ts)
                if current is None:
                    alert_id = self._open(conn, key, j, d)
                    opened += 1
                else:
                    alert_id = current.id
                    self._grow(conn, current, j, d)
                    updated += 1
                insert_ignore(conn, et, [{"alert_id": alert_id, "event_id": j.event_id}])
        return opened, updated

    def _find_open(self, conn: Connection, key: str, ts: datetime) -> _Open | None:
        """The open alert whose span is within the window of ``ts``, either side: lines read
        late (a rotated log backfilled) must not join an alert days away from them."""
        at = table_of(AlertRow)
        row = conn.execute(
            select(at.c.id, at.c.first_seen, at.c.last_seen, at.c.severity)
            .where(
                at.c.group_key == key,
                at.c.status != "closed",
                at.c.last_seen >= ts - self.window,
                at.c.first_seen <= ts + self.window,
            )
            .order_by(at.c.last_seen.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return _Open(int(row.id), utc(row.first_seen), utc(row.last_seen), Severity(row.severity))

    def _open(self, conn: Connection, key: str, j: Judged, d: Decision) -> int:
        at = table_of(AlertRow)
        now = self.clock.now()
        person = j.attribution.person
        device = j.attribution.device
        recipients = self.addresses(d.recipients)
        values: dict[str, Any] = {
            "site_id": self.cfg.settings.school.site_id,
            "group_key": key,
            "created_at": now,
            "updated_at": now,
            "severity": d.severity.value,
            "category": d.category,
            "status": "open",
            "person": person.username if person else j.event.user,
            "role": person.role if person else None,
            "year_group": person.year_group if person else None,
            "device": device.device_id if device else None,
            "ip": j.event.client_ip,
            "indicator": indicator_of(j),
            "first_seen": j.event.ts,
            "last_seen": j.event.ts,
            "count": 1,
            "blocked": j.event.blocked,
            "sources": json.dumps([j.fmt]),
            "recipients": json.dumps(recipients),
            "rule": d.rule,
        }
        alert_id = inserted_id(conn.execute(at.insert().values(**values)))
        audit(
            conn,
            self.actor,
            "alert.create",
            f"alert:{alert_id}",
            {"event": j.event_id, "severity": d.severity.value, "category": d.category},
            now=now,
        )
        msg = build_alert_message(
            MailContext(self.cfg, alert_id, values, j, d, recipients, now),
        )
        due = (
            now
            if d.severity in IMMEDIATE
            else next_batch_time(now, self.cfg.settings.alerts.batch_interval)
        )
        conn.execute(
            table_of(OutboxRow)
            .insert()
            .values(
                alert_id=alert_id,
                created_at=now,
                due_at=due,
                status="queued",
                attempts=0,
                message_id=str(msg["Message-ID"]),
                recipients=json.dumps(recipients),
                subject=str(msg["Subject"]),
                message=bytes(msg),
            )
        )
        return alert_id

    def _grow(self, conn: Connection, current: _Open, j: Judged, d: Decision) -> None:
        at = table_of(AlertRow)
        row = conn.execute(select(at.c.sources).where(at.c.id == current.id)).one()
        sources = json.loads(row.sources)
        if j.fmt not in sources:
            sources.append(j.fmt)
        severity = max(current.severity, d.severity, key=lambda s: s.rank)
        values: dict[str, Any] = {
            "count": at.c.count + 1,
            "first_seen": min(current.first_seen, j.event.ts),
            "last_seen": max(current.last_seen, j.event.ts),
            "updated_at": self.clock.now(),
            "severity": severity.value,
            "sources": json.dumps(sources),
        }
        if j.event.blocked:
            values["blocked"] = True
        conn.execute(update(at).where(at.c.id == current.id).values(**values))
