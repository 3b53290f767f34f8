"""Everything monitord holds about one person, for a subject access request (``monitord sar``).

Gathered from this school's rows: the roster entry; the devices assigned to them; every event
attributed to them, however it was (the user name in the record, a logon session, a proxy
user, their assigned device) and the events of their devices that name no one; the alerts
about them and the mail sent about those alerts; silences set on them or their devices; lines
monitord could not read that carry their user name; and from the trail, what was done about
those alerts and silences, every search and timeline about them or their devices, and every
case note that names them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, false, func, or_, select, text

from monitord.store.database import mine, mine_sql, table_of
from monitord.store.tables import (
    AlertRow,
    AuditRow,
    DeviceRow,
    EventRow,
    OutboxRow,
    PersonRow,
    RejectedRow,
    SilenceRow,
)

PARTS = ("person", "devices", "events", "alerts", "mail", "silences", "rejected", "audit")
README = """\
Everything monitord holds about {user}, gathered {now} by {actor}
for a subject access request ({reason}).
person.json: the roster entry; devices.json: devices assigned to them;
events.json: activity attributed to them (by their user name, a logon, the proxy or their
  device), and their devices' activity that names no one, with the raw lines as read;
alerts.json: alerts about them; mail.json: the mail sent about those alerts;
silences.json: holds put on the mail of alerts about them or their devices;
rejected.json: lines monitord could not read that carry their user name;
audit.json: what was done about those alerts and silences, searches and timelines about
  them or their devices, and case notes that name them.
"""


def rows(conn: Connection, query: Any) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (bytes as text, times in ISO 8601)."""
    out = []
    for row in conn.execute(query):
        record = {}
        for key, value in row._mapping.items():
            if isinstance(value, bytes | memoryview):
                value = bytes(value).decode("utf-8", "replace")
            elif isinstance(value, datetime):
                value = value.isoformat()
            record[key] = value
        out.append(record)
    return out


def _rejected(conn: Connection, user: str) -> list[dict[str, Any]]:
    """This school's unreadable lines holding ``user`` (in any case); the raw bytes need not
    be valid UTF-8."""
    own, site = mine_sql(conn, "site_id")
    if conn.dialect.name == "postgresql":
        holds = "position(:needle in lower(encode(raw, 'escape'))) > 0"
    else:
        holds = "instr(lower(CAST(raw AS TEXT)), :needle) > 0"
    rt = table_of(RejectedRow)
    ids = conn.execute(
        text(f"SELECT id FROM rejected WHERE {own} AND {holds}"), {**site, "needle": user}
    ).scalars()
    found = sorted(set(ids))
    if not found:
        return []
    return rows(conn, select(rt).where(mine(conn, rt.c.site_id), rt.c.id.in_(found)))


def gather(conn: Connection, user: str) -> dict[str, list[dict[str, Any]]]:
    """Each part of the request (``PARTS``) for the user name ``user`` (lower case); no
    person means no one of that name is on this school's roster."""
    pt, dt, et, at = (table_of(m) for m in (PersonRow, DeviceRow, EventRow, AlertRow))
    ot, st, aut = (table_of(m) for m in (OutboxRow, SilenceRow, AuditRow))
    person = rows(conn, select(pt).where(mine(conn, pt.c.site_id), pt.c.username == user))
    if not person:
        return {name: [] for name in PARTS}
    devices = rows(conn, select(dt).where(mine(conn, dt.c.site_id), dt.c.assigned_to == user))
    device_ids = [d["device_id"] for d in devices]
    on_their_devices = (
        and_(et.c.device_id.in_(device_ids), et.c.username.is_(None)) if device_ids else false()
    )
    theirs = or_(et.c.username == user, func.lower(et.c.user) == user, on_their_devices)
    events = rows(conn, select(et).where(mine(conn, et.c.site_id), theirs).order_by(et.c.ts))
    alerts = rows(
        conn, select(at).where(mine(conn, at.c.site_id), at.c.person == user).order_by(at.c.id)
    )
    alert_ids = [a["id"] for a in alerts]
    mail = rows(
        conn,
        select(ot).where(mine(conn, ot.c.site_id), ot.c.alert_id.in_(alert_ids)).order_by(ot.c.id),
    )
    silenced = or_(st.c.person == user, st.c.device.in_(device_ids))
    silences = rows(conn, select(st).where(mine(conn, st.c.site_id), silenced).order_by(st.c.id))
    subjects = [f"alert:{i}" for i in alert_ids] + [f"silence:{s['id']}" for s in silences]
    subjects += [f"person:{user}", user, f"user:{user}"]
    subjects += [f"device:{d}" for d in device_ids]
    names = {user, *(str(p["display_name"]).lower() for p in person if p["display_name"])}
    notes = and_(
        aut.c.action == "alert.note",
        or_(*(func.lower(aut.c.detail).contains(n, autoescape=True) for n in names)),
    )
    records = rows(
        conn, select(aut).where(or_(aut.c.subject.in_(subjects), notes)).order_by(aut.c.id)
    )
    return {
        "person": person,
        "devices": devices,
        "events": events,
        "alerts": alerts,
        "mail": mail,
        "silences": silences,
        "rejected": _rejected(conn, user),
        "audit": records,
    }
