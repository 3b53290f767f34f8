"""Opening and growing alerts from policy decisions, and queueing their mail.

An alert groups one person's (or, failing a person, one device's or address's) events of one
category while they keep coming within the group window: the DSL gets one alert that grows,
not one per lookup. The alert, its links to events, its audit records and its outbox messages
are written in the batch's transaction, so a restart neither forgets an open alert nor mails
it twice.

When mail goes:

- a new alert is mailed at once (critical, high) or with the next batch (medium); outside
  school hours high and medium follow ``[alerts] out_of_hours_*``, critical always goes at once;
- an alert that keeps growing is mailed again, as a reply in the same thread, once its last
  mail is older than ``realert_interval``, and at once when it is raised to a higher severity;
- a critical alert about someone holds back the mail of their lower alerts for
  ``inhibit_window`` (the alerts are still made, and the hold is in the audit trail);
- no alert is mailed to the person it is about, nor the headteacher's to the headteacher;
- in a backfill (``ingest --backfill``), an alert about events older than
  ``backfill_quiet_after`` is recorded and not mailed (critical ones are): nobody is told
  weeks later of what a log from last term held, one mail at a time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select, update

from alerting.delivery import Outgoing, enqueue
from alerting.mail import (
    Escalation,
    MailContext,
    Update,
    alert_outgoing,
    build_escalation_message,
)
from alerting.nearby import NearQueries, indicator_of, nearby
from monitord.casework.silences import silence_for, silences_after
from monitord.classify.policy import Policy, policy_of
from monitord.classify.storefacts import person_on_roster
from monitord.core.clock import Clock
from monitord.core.model import Decision, Judged, Person, Severity
from monitord.core.paths import DEFAULTS
from monitord.settings.config import Config
from monitord.store.database import (
    audit,
    insert_ignore,
    inserted_id,
    mine,
    site_of,
    table_of,
    utc,
)
from monitord.store.tables import (
    AlertEventRow,
    AlertRow,
    AuditRow,
    ListVersionRow,
    OutboxRow,
)

ALERTING = frozenset({Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL})
IMMEDIATE = frozenset({Severity.HIGH, Severity.CRITICAL})
STARTER_LISTS = DEFAULTS / "lists"


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
        else f"mac:{j.event.client_mac}"
        if j.event.client_mac
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


def next_school_start(policy: Policy, ts: datetime) -> datetime:
    """The next moment after ``ts`` when a school day begins (the end of the policy's
    after-school window on a day that is a school day)."""
    begins = time.fromisoformat(policy.doc.times.after_school[1])
    local = ts.astimezone(policy.tz)
    for days in range(8):
        day = local.date() + timedelta(days=days)
        start = datetime.combine(day, begins, policy.tz)
        if start > ts and policy.in_school_hours(start):
            return start.astimezone(ts.tzinfo)
    return ts + timedelta(days=1)  # a policy with no school day at all: try again tomorrow


def who_prefix(key: str) -> str:
    """The part of a group key that names the person (or device), with its separator."""
    return key.rsplit("|", 1)[0] + "|"


@dataclass(frozen=True, slots=True)
class _Open:
    id: int
    first_seen: datetime
    last_seen: datetime
    severity: Severity


@dataclass(slots=True)
class _Batch:
    """What one call of ``apply`` learns once rather than for every alert: whether any
    silence runs past its start (without one, no mail of the batch is silenced), and the
    links of alerts to events it makes."""

    start: datetime
    silences: bool | None = None
    links: dict[tuple[int, str], None] = field(default_factory=dict)  # alert_events rows


@dataclass(slots=True)
class _Growth:
    """What one batch added to an alert that was already open."""

    key: str
    before: Severity
    events: int = 0
    latest: list[tuple[Judged, Decision]] = field(default_factory=list)


class AlertManager:
    """The AlertSink the pipeline calls inside each batch's transaction."""

    def __init__(
        self,
        cfg: Config,
        clock: Clock,
        actor: str = "monitord",
        policy: Policy | None = None,
        *,
        backfill: bool = False,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.actor = actor
        self.backfill = backfill
        self.window = cfg.settings.alerts.group_window
        self.policy = policy or policy_of(cfg)
        self._starter_hashes: dict[str, str] = {}
        self._batch: _Batch | None = None
        self._statements: dict[tuple[str, str, str], Select[Any]] = {}
        self._near: NearQueries = {}

    def addresses(self, lists: Sequence[str], about: Person | None = None) -> list[str]:
        """The addresses of the named [recipients] lists. An alert is never mailed to the
        person it is about, and the headteacher's never to the headteacher (were they also on
        another list, the DSL's say); with nobody left, it goes to the chair of governors."""
        rcpt = self.cfg.settings.recipients
        out: list[str] = []
        for name in lists:
            for addr in getattr(rcpt, name, []):
                if addr not in out:
                    out.append(addr)
        if about is None:
            return out
        own = {about.email.lower()} if about.email else set()
        if about.role == "headteacher":
            own |= {a.lower() for a in rcpt.headteacher}
        kept = [a for a in out if a.lower() not in own]
        if out and not kept:
            kept = [a for a in rcpt.chair if a.lower() not in own]
        return kept

    def due(self, severity: Severity, now: datetime) -> datetime:
        """When a mail of this severity queued now should go."""
        if severity is Severity.CRITICAL:
            return now
        settings = self.cfg.settings.alerts
        if self.policy.in_school_hours(now):
            timing = "immediate" if severity in IMMEDIATE else "batched"
        elif severity in IMMEDIATE:
            timing = settings.out_of_hours_high
        else:
            timing = settings.out_of_hours_medium
        if timing == "immediate":
            return now
        if timing == "batched":
            return next_batch_time(now, settings.batch_interval)
        return next_school_start(self.policy, now)

    def apply(self, conn: Connection, judged: Sequence[Judged]) -> tuple[int, int]:
        if not judged:
            return 0, 0
        self._batch = _Batch(self.clock.now())
        try:
            return self._apply(conn, judged, self._batch)
        finally:
            self._batch = None

    def _apply(self, conn: Connection, judged: Sequence[Judged], batch: _Batch) -> tuple[int, int]:
        opened = updated = 0
        grown: dict[int, _Growth] = {}
        # Critical first, so that it holds back the lower alerts of the same batch about the
        # same person; grouping itself does not depend on the order.
        critical = Severity.CRITICAL
        ordered = sorted(
            judged,
            key=lambda x: (all(d.severity is not critical for d in x.decisions), x.event.ts),
        )
        for j in ordered:
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
                    growth = grown.setdefault(alert_id, _Growth(key, current.severity))
                    growth.events += 1
                    growth.latest.append((j, d))
                    updated += 1
                batch.links[(alert_id, j.event_id)] = None
        # Nothing in the batch reads the links of alerts to events: written together.
        links = [{"alert_id": a, "event_id": e} for a, e in batch.links]
        insert_ignore(conn, table_of(AlertEventRow), links)
        for alert_id, growth in grown.items():
            self._after_growth(conn, alert_id, growth)
        return opened, updated

    def _find_open(self, conn: Connection, key: str, ts: datetime) -> _Open | None:
        """The open alert whose span is within the window of ``ts``, either side: lines read
        late (a rotated log backfilled) must not join an alert days away from them."""
        found = {"key": key, "low": ts - self.window, "high": ts + self.window}
        row = conn.execute(self._statement(conn, "open"), found).first()
        if row is None:
            return None
        return _Open(int(row.id), utc(row.first_seen), utc(row.last_seen), Severity(row.severity))

    def _open(self, conn: Connection, key: str, j: Judged, d: Decision) -> int:
        at = table_of(AlertRow)
        now = self.clock.now()
        person = j.attribution.person
        device = j.attribution.device
        recipients = self.addresses(d.recipients, person)
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
            "attribution": j.attribution.reason,
        }
        alert_id = inserted_id(conn.execute(at.insert(), values))
        audit(
            conn,
            self.actor,
            "alert.create",
            f"alert:{alert_id}",
            {
                "event": j.event_id,
                "severity": d.severity.value,
                "category": d.category,
                "rule": d.rule,
                "attribution": j.attribution.reason,
                "matches": [
                    {
                        "category": m.category,
                        "list": m.list_name,
                        "entry": m.entry,
                        "score": m.score,
                        "allow": m.allow,
                    }
                    for m in j.matches
                ],
                "lists": self._list_versions(conn, j),
                "recipients": recipients,
            },
            now=now,
        )
        if self._held(conn, alert_id, key, j, d, now) is None:
            context = MailContext(
                self.cfg, alert_id, values, j, d, recipients, now, nearby(conn, j, self._near)
            )
            self._queue(conn, alert_id, alert_outgoing(context), recipients, d.severity, now)
        return alert_id

    def _queue(
        self,
        conn: Connection,
        alert_id: int,
        msg: Outgoing,
        recipients: list[str],
        severity: Severity,
        now: datetime,
        thread: str | None = None,
    ) -> None:
        enqueue(
            conn,
            msg,
            site_id=self.cfg.site_id,
            recipients=recipients,
            severity=severity.value,
            now=now,
            due=self.due(severity, now),
            alert_id=alert_id,
            thread=thread,
        )

    def _held(
        self, conn: Connection, alert_id: int, key: str, j: Judged, d: Decision, now: datetime
    ) -> str | None:
        """Why this alert's mail is held back now, or None. The hold is recorded in the audit
        trail, at most once per re-alert interval for one alert while it keeps growing."""
        held = self._hold(conn, alert_id, key, j, d, now)
        if held is None:
            return None
        reason, by = held
        audt = table_of(AuditRow)
        last = conn.execute(
            select(audt.c.ts, audt.c.detail)
            .where(
                mine(conn, audt.c.site_id),
                audt.c.subject == f"alert:{alert_id}",
                audt.c.action == "alert.held",
            )
            .order_by(audt.c.id.desc())
            .limit(1)
        ).first()
        recent = last is not None and (
            now - utc(last.ts) < self.cfg.settings.alerts.realert_interval
            and json.loads(last.detail).get("by") == by
        )
        if not recent:
            detail = {"reason": reason, "by": by, "event": j.event_id}
            audit(conn, self.actor, "alert.held", f"alert:{alert_id}", detail, now=now)
        return reason

    def _hold(
        self, conn: Connection, alert_id: int, key: str, j: Judged, d: Decision, now: datetime
    ) -> tuple[str, str] | None:
        """(why, by what) this alert's mail is held back now, or None."""
        if d.severity is Severity.CRITICAL:
            return None
        quiet = self.cfg.settings.alerts.backfill_quiet_after
        if self.backfill and now - j.event.ts > quiet:
            hours = quiet.total_seconds() / 3600
            return (
                f"a backfill: the event of {j.event.ts.isoformat()} is older than "
                f"alerts.backfill_quiet_after ({hours:g} h); recorded, not mailed",
                "backfill",
            )
        person = j.attribution.person
        device = j.attribution.device
        batch = self._batch
        if batch is not None and batch.silences is None:
            batch.silences = silences_after(conn, batch.start)
        if batch is None or batch.silences:
            silence = silence_for(
                conn,
                person.username if person else j.event.user,
                device.device_id if device else None,
                d.category,
                now,
            )
            if silence is not None:
                return f"silenced by silence {silence}", f"silence:{silence}"
        span = self.cfg.settings.alerts.inhibit_window
        who = who_prefix(key)
        near = {
            # The key's prefix for LIKE, with LIKE's own characters escaped by "/".
            "like": who.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%",
            "who": who,
            "past": who[:-1] + "}",
            "alert_id": alert_id,
            "low": j.event.ts - span,
            "high": j.event.ts + span,
        }
        critical = conn.execute(self._statement(conn, "critical"), near).scalar()
        if critical is None:
            return None
        return f"inhibited by critical alert {critical}", f"alert:{critical}"

    def _statement(self, conn: Connection, name: str) -> Select[Any]:
        """A query run for every alert, made once for the connection's school and database
        (building it anew cost more than running it)."""
        cached = (name, site_of(conn), conn.dialect.name)
        found = self._statements.get(cached)
        if found is not None:
            return found
        at = table_of(AlertRow)
        near = (
            mine(conn, at.c.site_id),
            at.c.status != "closed",
            at.c.last_seen >= bindparam("low"),
            at.c.first_seen <= bindparam("high"),
        )
        query: Any
        if name == "open":
            query = select(at.c.id, at.c.first_seen, at.c.last_seen, at.c.severity)
            query = query.where(at.c.group_key == bindparam("key"), *near)
            query = query.order_by(at.c.last_seen.desc())
        else:  # "critical": a critical alert about the same person near the event
            who: Any = at.c.group_key.like(bindparam("like"), escape="/")
            if conn.dialect.name == "sqlite":
                # SQLite's LIKE (case-insensitive) cannot use the index on group_key; the same
                # prefix as a range of it can (every key that starts "...|" is before "...}").
                who = (
                    who
                    & (at.c.group_key >= bindparam("who"))
                    & (at.c.group_key < bindparam("past"))
                )
            critical = (at.c.severity == Severity.CRITICAL.value, at.c.id != bindparam("alert_id"))
            query = select(at.c.id).where(who, *critical, *near).order_by(at.c.id.desc())
        made: Select[Any] = query.limit(1)
        self._statements[cached] = made
        return made

    def _list_versions(self, conn: Connection, j: Judged) -> dict[str, str]:
        """The sha256 of each list version that matched, as evidence of what was matched
        against: an imported list's active version, or a starter list's shipped file."""
        names = {m.list_name for m in j.matches}
        out: dict[str, str] = {}
        for name in sorted(n for n in names if n.startswith("starter/")):
            if name not in self._starter_hashes:
                path = STARTER_LISTS / f"{name.removeprefix('starter/')}.txt"
                digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
                self._starter_hashes[name] = digest
            out[name] = self._starter_hashes[name]
        imported = sorted(n for n in names if not n.startswith("starter/"))
        if imported:
            lv = table_of(ListVersionRow)
            rows = conn.execute(
                select(lv.c.name, lv.c.sha256).where(lv.c.name.in_(imported), lv.c.active.is_(True))
            )
            out.update({r.name: r.sha256 for r in rows})
        return out

    def _after_growth(self, conn: Connection, alert_id: int, growth: _Growth) -> None:
        """Record what the batch added, and mail an update when one is due: the alert was
        raised, or its last mail is older than the re-alert interval."""
        at, ot = table_of(AlertRow), table_of(OutboxRow)
        now = self.clock.now()
        row = conn.execute(select(at).where(mine(conn, at.c.site_id), at.c.id == alert_id)).one()
        severity = Severity(row.severity)
        raised = severity.rank > growth.before.rank
        audit(
            conn,
            self.actor,
            "alert.update",
            f"alert:{alert_id}",
            {
                "events": [j.event_id for j, _ in growth.latest],
                "count": int(row._mapping["count"]),
                "severity": severity.value,
                **({"raised_from": growth.before.value} if raised else {}),
            },
            now=now,
        )
        j, d = max(growth.latest, key=lambda x: (x[1].severity.rank, x[0].event.ts))
        recipients: list[str] = json.loads(row.recipients)
        if raised:
            for addr in self.addresses(d.recipients, j.attribution.person):
                if addr not in recipients:
                    recipients.append(addr)
            conn.execute(
                update(at).where(at.c.id == alert_id).values(recipients=json.dumps(recipients))
            )
        mails = conn.execute(
            select(ot.c.message_id, ot.c.created_at, ot.c.status)
            .where(ot.c.alert_id == alert_id)
            .order_by(ot.c.id)
        ).all()
        if mails and not raised:
            last = mails[-1]
            if last.status == "queued" or now - utc(last.created_at) < (
                self.cfg.settings.alerts.realert_interval
            ):
                return
        decision = Decision(d.category, severity, d.rule, d.recipients, d.roles_notified)
        if self._held(conn, alert_id, growth.key, j, decision, now) is not None:
            return
        ids = list(dict.fromkeys(m.message_id for m in mails))
        upd = Update(
            number=len(ids),
            thread=ids[0] if ids else None,
            count=int(row._mapping["count"]),
            first_seen=utc(row.first_seen),
            last_seen=utc(row.last_seen),
            raised_from=growth.before if raised else None,
        )
        values = {"indicator": indicator_of(j), "severity": severity.value}
        near = nearby(conn, j, self._near)
        context = MailContext(self.cfg, alert_id, values, j, decision, recipients, now, near, upd)
        message = alert_outgoing(context)
        self._queue(conn, alert_id, message, recipients, severity, now, upd.thread)

    def _grow(self, conn: Connection, current: _Open, j: Judged, d: Decision) -> None:
        at = table_of(AlertRow)
        query = select(at.c.sources).where(mine(conn, at.c.site_id), at.c.id == current.id)
        row = conn.execute(query).one()
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

    def mail_escalation(
        self, conn: Connection, alert_id: int, before: str, actor: str, reason: str
    ) -> None:
        """Queue the mail for an alert raised by hand: to everyone who heard of it before and
        everyone its new severity reaches, in its thread. Neither a silence nor another
        alert holds it back: a person decided it."""
        at, ot = table_of(AlertRow), table_of(OutboxRow)
        now = self.clock.now()
        row = conn.execute(select(at).where(mine(conn, at.c.site_id), at.c.id == alert_id)).one()
        alert = dict(row._mapping)
        for key in ("first_seen", "last_seen"):
            alert[key] = utc(alert[key])
        person = person_on_roster(conn.engine, row.person, row.site_id) if row.person else None
        severity = Severity(row.severity)
        recipients: list[str] = json.loads(row.recipients)
        for addr in self.addresses(self.policy.route(row.category, severity, row.role), person):
            if addr not in recipients:
                recipients.append(addr)
        conn.execute(
            update(at).where(at.c.id == alert_id).values(recipients=json.dumps(recipients))
        )
        ids = list(
            dict.fromkeys(
                conn.execute(
                    select(ot.c.message_id).where(ot.c.alert_id == alert_id).order_by(ot.c.id)
                ).scalars()
            )
        )
        thread = ids[0] if ids else None
        escalation = Escalation(
            alert, person, Severity(before), actor, reason, len(ids), thread, recipients, now
        )
        message = Outgoing.of(build_escalation_message(self.cfg, escalation))
        self._queue(conn, alert_id, message, recipients, severity, now, thread)
