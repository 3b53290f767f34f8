"""Case work on alerts: listing, showing (audited), acknowledging, notes, assigning,
escalating, a second reviewer's sign-off, closing and reopening.

The schools' incident procedure wants two senior people on anything serious: closing a
critical alert, or one referred to the local authority or the police, needs a second
reviewer's sign-off first (``alerts review ID --reviewer NAME``), and the second reviewer
cannot be the first (the person the alert is assigned to, or who acknowledged it). The
second reviewer is named by their user name on the roster, and must be staff there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from monitord.core.model import Severity
from monitord.store.database import audit, mine, table_of, utc
from monitord.store.tables import AlertEventRow, AlertRow, AuditRow, EventRow, MatchRow, PersonRow

STATUSES = ("open", "acknowledged", "closed")
OUTCOMES = ("no_concern", "internal_action", "referred_local_authority", "referred_police")
OUTCOME_TEXT = {
    "no_concern": "No concern",
    "internal_action": "Internal action",
    "referred_local_authority": "Referred to the local authority",
    "referred_police": "Referred to the police",
}
REFERRED = frozenset({"referred_local_authority", "referred_police"})
ESCALATIONS = ("high", "critical")


class CaseError(Exception):
    """A request about an alert that cannot be carried out; the message says why."""


def _iso(value: datetime | None) -> str | None:
    return utc(value).isoformat().replace("+00:00", "Z") if value else None


def alert_json(row: Any) -> dict[str, Any]:
    """An alert in the shape ``alerts list --json`` promises."""
    return {
        "id": int(row.id),
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "severity": row.severity,
        "category": row.category,
        "status": row.status,
        "person": row.person,
        "role": row.role,
        "year_group": row.year_group,
        "device": row.device,
        "ip": row.ip,
        "indicator": row.indicator,
        "first_seen": _iso(row.first_seen),
        "last_seen": _iso(row.last_seen),
        "count": int(row.count),
        "blocked": bool(row.blocked),
        "sources": json.loads(row.sources),
        "recipients": json.loads(row.recipients),
        "rule": row.rule,
        "assignee": row.assignee,
        "reviewer": row.reviewer,
        "reviewed_at": _iso(row.reviewed_at),
        "outcome": row.outcome,
        "attribution": row.attribution,
    }


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts a list shows. ``limit``: the newest so many (of those before the alert
    ``before``, for the next page back), still listed oldest first."""

    status: str | None = None
    since: datetime | None = None
    severity: str | None = None
    category: str | None = None
    person: str | None = None
    limit: int | None = None
    before: int | None = None


def list_alerts(
    engine: Engine,
    status: str | None = None,
    since: datetime | None = None,
    *,
    where: AlertFilter | None = None,
) -> list[dict[str, Any]]:
    f = where or AlertFilter(status=status, since=since)
    at = table_of(AlertRow)
    query = select(at).where(mine(engine, at.c.site_id))
    if f.status:
        query = query.where(at.c.status == f.status)
    if f.since:
        query = query.where(at.c.last_seen >= f.since)
    if f.severity:
        query = query.where(at.c.severity == f.severity)
    if f.category:
        query = query.where(at.c.category == f.category)
    if f.person:
        query = query.where(func.lower(at.c.person) == f.person.lower())
    if f.before is not None:
        query = query.where(at.c.id < f.before)
    if f.limit is not None:
        query = query.order_by(at.c.id.desc()).limit(f.limit)
    with engine.connect() as conn:
        found = [alert_json(r) for r in conn.execute(query)]
    return sorted(found, key=lambda a: int(a["id"]))


@dataclass(frozen=True, slots=True)
class AlertDetail:
    alert: dict[str, Any]
    events: list[dict[str, Any]]
    history: list[dict[str, Any]]


def show_alert(engine: Engine, alert_id: int, actor: str, now: datetime) -> AlertDetail:
    """The alert, its events with their raw lines and matches, and its history. The view is
    itself recorded in the audit trail."""
    at, aet, et, mt = (
        table_of(AlertRow),
        table_of(AlertEventRow),
        table_of(EventRow),
        table_of(MatchRow),
    )
    audt = table_of(AuditRow)
    with engine.begin() as conn:
        row = conn.execute(select(at).where(mine(conn, at.c.site_id), at.c.id == alert_id)).first()
        if row is None:
            raise CaseError(f"no alert {alert_id}")
        events = []
        query = (
            select(et)
            .join(aet, aet.c.event_id == et.c.id)
            .where(aet.c.alert_id == alert_id)
            .order_by(et.c.ts)
        )
        for ev in conn.execute(query):
            matches = conn.execute(
                select(mt.c.category, mt.c.list_name, mt.c.entry, mt.c.allow).where(
                    mt.c.event_id == ev.id
                )
            ).all()
            events.append(
                {
                    "id": ev.id,
                    "ts": _iso(ev.ts),
                    "source": ev.source,
                    "format": ev.fmt,
                    "indicator": ev.url or ev.domain,
                    "blocked": bool(ev.blocked),
                    # The school's filter's own verdict and category, when it logged them.
                    "filter_action": ev.action,
                    "filter_category": ev.filter_category,
                    "attribution": ev.attribution,
                    "raw": bytes(ev.raw).decode("utf-8", "replace"),
                    "offset": int(ev.offset),
                    "file_id": ev.file_id,
                    "matches": [
                        {"category": m.category, "list": m.list_name, "entry": m.entry}
                        for m in matches
                        if not m.allow
                    ],
                }
            )
        history = [
            {"ts": _iso(h.ts), "actor": h.actor, "action": h.action, "detail": json.loads(h.detail)}
            for h in conn.execute(
                select(audt).where(audt.c.subject == f"alert:{alert_id}").order_by(audt.c.id)
            )
        ]
        audit(conn, actor, "alert.view", f"alert:{alert_id}", {}, now=now)
    return AlertDetail(alert_json(row), events, history)


def _change(
    engine: Engine,
    alert_id: int,
    actor: str,
    action: str,
    values: dict[str, Any],
    detail: dict[str, Any],
    now: datetime,
) -> None:
    at = table_of(AlertRow)
    with engine.begin() as conn:
        row = conn.execute(
            select(at.c.status).where(mine(conn, at.c.site_id), at.c.id == alert_id)
        ).first()
        if row is None:
            raise CaseError(f"no alert {alert_id}")
        if row.status == "closed" and action != "alert.note":
            raise CaseError(f"alert {alert_id} is closed")
        if values:
            conn.execute(update(at).where(at.c.id == alert_id).values(updated_at=now, **values))
        audit(conn, actor, action, f"alert:{alert_id}", detail, now=now)


def ack(engine: Engine, alert_id: int, actor: str, now: datetime) -> None:
    _change(engine, alert_id, actor, "alert.ack", {"status": "acknowledged"}, {}, now)


def note(engine: Engine, alert_id: int, actor: str, text: str, now: datetime) -> None:
    if not text.strip():
        raise CaseError("a note needs some text")
    _change(engine, alert_id, actor, "alert.note", {}, {"text": text}, now)


def close(engine: Engine, alert_id: int, actor: str, outcome: str, now: datetime) -> None:
    if outcome not in OUTCOMES:
        raise CaseError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    at = table_of(AlertRow)
    with engine.connect() as conn:
        row = conn.execute(
            select(at.c.severity, at.c.reviewer).where(
                mine(conn, at.c.site_id), at.c.id == alert_id
            )
        ).first()
    if (
        row is not None
        and row.reviewer is None
        and (outcome in REFERRED or row.severity == "critical")
    ):
        why = "a critical alert" if row.severity == "critical" else f"an alert {outcome}"
        raise CaseError(
            f"alert {alert_id}: closing {why} needs a second reviewer's sign-off first: "
            f"monitord alerts review {alert_id} --reviewer NAME"
        )
    _change(
        engine,
        alert_id,
        actor,
        "alert.close",
        {"status": "closed", "outcome": outcome},
        {"outcome": outcome},
        now,
    )


def assign(engine: Engine, alert_id: int, actor: str, user: str, now: datetime) -> None:
    """Give the alert to ``user``, who handles it (the first reviewer)."""
    if not user.strip():
        raise CaseError("assign needs the user name of the person who handles the alert")
    _change(engine, alert_id, actor, "alert.assign", {"assignee": user}, {"assignee": user}, now)


def first_reviewer(engine: Engine, alert_id: int) -> str | None:
    """Who handled the alert first: the person it is assigned to, else who acknowledged it."""
    at, audt = table_of(AlertRow), table_of(AuditRow)
    with engine.connect() as conn:
        assignee = conn.execute(
            select(at.c.assignee).where(mine(conn, at.c.site_id), at.c.id == alert_id)
        ).scalar()
        if assignee:
            return str(assignee)
        acked = conn.execute(
            select(audt.c.actor)
            .where(audt.c.subject == f"alert:{alert_id}", audt.c.action == "alert.ack")
            .order_by(audt.c.id)
            .limit(1)
        ).scalar()
    return None if acked is None else str(acked)


# Who may sign off an alert as its second reviewer: a named member of staff on the roster
# (the headteacher or a senior colleague; for the headteacher's own alerts, the chair of
# governors), never a pupil, a visitor or a shared supply login.
REVIEWER_ROLES = ("staff", "headteacher", "governor")


def named_reviewer(engine: Engine, alert_id: int, name: str) -> str:
    """The second reviewer's user name as the roster has it: an active member of staff (or
    governor) of this school who is not the person the alert is about."""
    pt, at = table_of(PersonRow), table_of(AlertRow)
    with engine.connect() as conn:
        person = conn.execute(
            select(pt.c.username, pt.c.role, pt.c.active).where(
                mine(conn, pt.c.site_id), func.lower(pt.c.username) == name.lower()
            )
        ).first()
        about = conn.execute(select(at.c.person).where(at.c.id == alert_id)).scalar()
    if person is None or not person.active or person.role not in REVIEWER_ROLES:
        why = "is not on" if person is None or not person.active else f"is {person.role} on"
        raise CaseError(
            f"--reviewer {name}: {why} this school's roster as staff: the second reviewer "
            "is a named member of staff (their user name on the roster, as in "
            "`monitord people list`), or a governor for the headteacher's alerts"
        )
    if about is not None and str(about).lower() == str(person.username).lower():
        raise CaseError(f"alert {alert_id} is about {name}: they cannot review it")
    return str(person.username)


def review(engine: Engine, alert_id: int, actor: str, reviewer: str | None, now: datetime) -> None:
    """Record the second reviewer's sign-off: ``reviewer`` named on the roster, or None when
    the actor signs as themselves, an account the caller has authenticated."""
    account = reviewer is None
    reviewer = actor if reviewer is None else reviewer.strip()
    if not reviewer:
        raise CaseError("review needs --reviewer NAME, the second senior person")
    at = table_of(AlertRow)
    with engine.connect() as conn:
        found = conn.execute(
            select(at.c.id, at.c.person).where(mine(conn, at.c.site_id), at.c.id == alert_id)
        ).first()
    if found is None:
        raise CaseError(f"no alert {alert_id}")
    first = first_reviewer(engine, alert_id)
    if first is None:
        raise CaseError(
            f"alert {alert_id} has no first reviewer yet: assign or acknowledge it first "
            "(monitord alerts assign ID USER); the review is a second person's"
        )
    if first.casefold() == reviewer.casefold():
        raise CaseError(
            f"alert {alert_id}: {reviewer} is the first reviewer; the sign-off must be a "
            "second person's"
        )
    if not account:
        reviewer = named_reviewer(engine, alert_id, reviewer)
    elif str(found.person or "").casefold() == reviewer.casefold():
        raise CaseError(f"alert {alert_id} is about {reviewer}: they cannot review it")
    _change(
        engine,
        alert_id,
        actor,
        "alert.review",
        {"reviewer": reviewer, "reviewed_at": now},
        {"reviewer": reviewer, "first_reviewer": first},
        now,
    )


def escalate(
    engine: Engine,
    alert_id: int,
    actor: str,
    severity: str,
    reason: str,
    now: datetime,
    mail: Callable[[Connection, int, str], None] | None = None,
) -> tuple[str, str]:
    """Raise an alert's severity by hand; returns (severity before, after). ``mail`` queues
    the update mail for the new severity in the same transaction (given the alert's id and
    its severity before)."""
    if severity not in ESCALATIONS:
        raise CaseError(f"severity {severity!r} is not one of {', '.join(ESCALATIONS)}")
    if not reason.strip():
        raise CaseError('escalate needs a --reason "..." (it is kept in the audit trail)')
    at = table_of(AlertRow)
    with engine.begin() as conn:
        row = conn.execute(
            select(at.c.severity, at.c.status).where(mine(conn, at.c.site_id), at.c.id == alert_id)
        ).first()
        if row is None:
            raise CaseError(f"no alert {alert_id}")
        before = str(row.severity)
        if Severity(severity).rank <= Severity(before).rank:
            raise CaseError(f"alert {alert_id} is already {before}: escalate raises, never lowers")
        if row.status == "closed":
            raise CaseError(f"alert {alert_id} is closed")
        detail = {"from": before, "to": severity, "reason": reason}
        conn.execute(
            update(at).where(at.c.id == alert_id).values(severity=severity, updated_at=now)
        )
        audit(conn, actor, "alert.escalate", f"alert:{alert_id}", detail, now=now)
        if mail is not None:
            mail(conn, alert_id, before)
    return before, severity


def reopen(engine: Engine, alert_id: int, actor: str, reason: str, now: datetime) -> None:
    """Open a closed alert again (new information came to light); its outcome is cleared
    and its second review with it, since a closing will need a fresh sign-off."""
    if not reason.strip():
        raise CaseError("reopening an alert needs a reason (it is kept in the audit trail)")
    at = table_of(AlertRow)
    with engine.begin() as conn:
        status = conn.execute(
            select(at.c.status).where(mine(conn, at.c.site_id), at.c.id == alert_id)
        ).scalar()
        if status is None:
            raise CaseError(f"no alert {alert_id}")
        if status != "closed":
            raise CaseError(f"alert {alert_id} is {status}, not closed")
        conn.execute(
            update(at)
            .where(at.c.id == alert_id)
            .values(status="open", outcome=None, reviewer=None, reviewed_at=None, updated_at=now)
        )
        audit(conn, actor, "alert.reopen", f"alert:{alert_id}", {"reason": reason}, now=now)
