"""Case work on alerts: listing, showing (audited), acknowledging, notes and closing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from monitord.store import audit, table_of, utc
from monitord.tables import AlertEventRow, AlertRow, AuditRow, EventRow, MatchRow

STATUSES = ("open", "acknowledged", "closed")
OUTCOMES = ("no_concern", "internal_action", "referred_local_authority", "referred_police")


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
        "outcome": row.outcome,
    }


def list_alerts(
    engine: Engine, status: str | None = None, since: datetime | None = None
) -> list[dict[str, Any]]:
    at = table_of(AlertRow)
    query = select(at).order_by(at.c.id)
    if status:
        query = query.where(at.c.status == status)
    if since:
        query = query.where(at.c.last_seen >= since)
    with engine.connect() as conn:
        return [alert_json(r) for r in conn.execute(query)]


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
        row = conn.execute(select(at).where(at.c.id == alert_id)).first()
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
        row = conn.execute(select(at.c.status).where(at.c.id == alert_id)).first()
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
    _change(
        engine,
        alert_id,
        actor,
        "alert.close",
        {"status": "closed", "outcome": outcome},
        {"outcome": outcome},
        now,
    )
