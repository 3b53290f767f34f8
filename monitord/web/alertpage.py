"""Everything the alert page shows: the alert and its events (the view audited as the
account), who it is about and on which device, the events before and after it on that
person's or device's day, the mail sent about it, and its history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from monitord.casework import cases
from monitord.casework.found import Found
from monitord.casework.timeline import day_events
from monitord.store.database import mine, rows_as_dicts, table_of, utc
from monitord.store.tables import DeviceRow, OutboxRow, PersonRow
from monitord.web import casefile
from monitord.web.gate import Viewer

# Events shown either side of the alert's own, within this long of them.
AROUND = timedelta(minutes=30)
NEARBY = 12


@dataclass(frozen=True, slots=True)
class AlertPage:
    alert: dict[str, Any]
    events: list[dict[str, Any]]
    history: list[dict[str, Any]]
    person: dict[str, Any] | None
    device: dict[str, Any] | None
    before: list[Found]
    after: list[Found]
    mail: list[dict[str, Any]]
    first_reviewer: str | None
    may_review: bool
    assignable: list[str]
    versions: dict[str, str]  # list name -> its SHA-256 when the alert was made


def _nearby(
    engine: Engine, alert: dict[str, Any], own: set[str], tz: ZoneInfo
) -> tuple[list[Found], list[Found]]:
    first = utc(datetime.fromisoformat(alert["first_seen"]))
    last = utc(datetime.fromisoformat(alert["last_seen"]))
    user, device = alert["person"], alert["device"]
    if user is None and device is None:
        return [], []
    days = sorted({(first - AROUND).astimezone(tz).date(), (last + AROUND).astimezone(tz).date()})
    with engine.connect() as conn:
        found = [
            ev
            for day in days
            for ev in day_events(conn, day, tz, user=user, device=None if user else device)
        ]
    before = [ev for ev in found if first - AROUND <= ev.ts < first and ev.id not in own]
    after = [ev for ev in found if last < ev.ts <= last + AROUND and ev.id not in own]
    return before[-NEARBY:], after[:NEARBY]


def _mail(engine: Engine, alert_id: int) -> list[dict[str, Any]]:
    ot = table_of(OutboxRow)
    columns = (ot.c.created_at, ot.c.status, ot.c.sent_at, ot.c.recipients, ot.c.subject)
    with engine.connect() as conn:
        found = rows_as_dicts(
            conn.execute(
                select(*columns)
                .where(mine(conn, ot.c.site_id), ot.c.alert_id == alert_id)
                .order_by(ot.c.id)
            )
        )
    for m in found:
        m["recipients"] = json.loads(m["recipients"])
    return found


def _row(engine: Engine, model: type[Any], key: str, value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    table = table_of(model)
    with engine.connect() as conn:
        row = conn.execute(
            select(table).where(mine(conn, table.c.site_id), table.c[key] == value)
        ).first()
    return None if row is None else dict(row._mapping)


def alert_page(
    engine: Engine, alert_id: int, viewer: Viewer, tz: ZoneInfo, now: datetime
) -> AlertPage:
    """The page's content; reading it is recorded in the audit trail as the account."""
    detail = cases.show_alert(engine, alert_id, viewer.username, now)
    alert = detail.alert
    own = {str(ev["id"]) for ev in detail.events}
    before, after = _nearby(engine, alert, own, tz)
    first = cases.first_reviewer(engine, alert_id)
    me = {viewer.username.casefold(), *(p.casefold() for p in viewer.people)}
    return AlertPage(
        alert=alert,
        events=detail.events,
        history=detail.history,
        person=_row(engine, PersonRow, "username", alert["person"]),
        device=_row(engine, DeviceRow, "device_id", alert["device"]),
        before=before,
        after=after,
        mail=_mail(engine, alert_id),
        first_reviewer=first,
        may_review=first is not None and first.casefold() not in me and not alert["reviewer"],
        assignable=[a.username for a in casefile.assignable(engine, alert)],
        versions={
            str(name): str(sha)
            for h in detail.history
            if h["action"] == "alert.create"
            for name, sha in dict(h["detail"].get("lists", {})).items()
        },
    )
