"""Everything monitord holds about one person, for a subject access request (``monitord sar``).

Gathered from this school's rows: the roster entry; the devices assigned to them; every event
attributed to them, however it was (the user name in the record, a logon session, a proxy
user, their assigned device) and the events of their devices that name no one; the alerts
about them and the mail sent about those alerts; silences set on them or their devices; lines
monitord could not read that carry their user name; and from the trail, what was done about
those alerts and silences, every search and timeline about them or their devices, and every
case note that names them.

When they have a console account (by the same user name, or the email on their roster
entry), or when the request is for an account alone (a governor is on no roster): the
account (role, name, email, state, whether a second factor is enrolled, created, disabled;
never its password hash, TOTP secret or any code), its sign-in attempts and live sessions
(times and addresses; never a session's token or CSRF token), and from the trail everything
recorded about the account: sign-ins, failures, lock-outs, enrolment, role changes, sessions
ended. What the account did to others' records is not included: it is about them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, false, func, or_, select, text

from monitord.store.database import mine, mine_sql, table_of, utc
from monitord.store.lookups import lookup_events
from monitord.store.tables import (
    AccountRow,
    AlertRow,
    AuditRow,
    DeviceRow,
    EventRow,
    OutboxRow,
    PersonRow,
    RejectedRow,
    SignInAttemptRow,
    SilenceRow,
    WebSessionRow,
)

PARTS = (
    "person",
    "devices",
    "events",
    "alerts",
    "mail",
    "silences",
    "rejected",
    "accounts",
    "signins",
    "sessions",
    "audit",
)
README = """\
Everything monitord holds about {user}, gathered {now} by {actor}
for a subject access request ({reason}).
person.json: the roster entry; devices.json: devices assigned to them;
events.json: activity attributed to them (by their user name, a logon, the proxy or their
  device), and their devices' activity that names no one, with the raw lines as read;
alerts.json: alerts about them; mail.json: the mail sent about those alerts;
silences.json: holds put on the mail of alerts about them or their devices;
rejected.json: lines monitord could not read that carry their user name;
accounts.json: their console account, if they have one (role, state, whether two-factor
  sign-in is enrolled; no password, secret or code); signins.json: its sign-in attempts
  (kept 30 days); sessions.json: its signed-in sessions;
audit.json: what was done about those alerts and silences, searches and timelines about
  them or their devices, case notes that name them, and what was recorded about their
  account (sign-ins, failures, lock-outs, enrolment, role changes, sessions ended).
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


def _accounts(conn: Connection, user: str, person: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The school's accounts of the person: by user name, or by their roster email. What
    is shown of each: never a hash, a secret or a code."""
    t = table_of(AccountRow)
    emails = {str(p["email"]).lower() for p in person if p.get("email")}
    theirs = t.c.username == user
    if emails:
        theirs = or_(theirs, func.lower(t.c.email).in_(sorted(emails)))
    shown = (t.c.username, t.c.role, t.c.full_name, t.c.email, t.c.state, t.c.disabled)
    query = select(*shown, t.c.totp_secret.is_not(None).label("two_factor"))
    query = query.add_columns(t.c.created_at, t.c.updated_at)
    found = rows(conn, query.where(mine(conn, t.c.site_id), theirs).order_by(t.c.username))
    for account in found:
        account["two_factor"] = bool(account["two_factor"]) and account["state"] == "active"
        account["disabled"] = bool(account["disabled"])
    return found


def _account_parts(conn: Connection, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The accounts' sign-in attempts and sessions (times and addresses only)."""
    it, wt = table_of(SignInAttemptRow), table_of(WebSessionRow)
    attempts = select(it.c.username, it.c.ts, it.c.address, it.c.outcome)
    attempts = attempts.where(mine(conn, it.c.site_id), it.c.username.in_(names))
    sessions = select(wt.c.username, wt.c.created_at, wt.c.last_seen, wt.c.address)
    sessions = sessions.where(mine(conn, wt.c.site_id), wt.c.username.in_(names))
    return {
        "signins": rows(conn, attempts.order_by(it.c.ts, it.c.id)),
        "sessions": rows(conn, sessions.order_by(wt.c.created_at)),
    }


def _with_lookups(
    conn: Connection, events: list[dict[str, Any]], user: str, device_ids: list[str]
) -> list[dict[str, Any]]:
    """``events`` with the person's lookups that matched nothing (and their devices' that
    name no one), raw lines and all, in time order."""
    chosen = ['username = :user OR lower("user") = :user']
    params: dict[str, Any] = {"user": user}
    if device_ids:
        marks = ", ".join(f":device{i}" for i in range(len(device_ids)))
        chosen.append(f"(device_id IN ({marks}) AND username IS NULL)")
        params.update({f"device{i}": d for i, d in enumerate(device_ids)})
    own, site = mine_sql(conn, "site_id")
    parties = f"SELECT id FROM lookup_parties WHERE {own} AND ({' OR '.join(chosen)})"
    found = lookup_events(conn, f"l.party IN ({parties})", {**params, **site})
    if not found:
        return events
    for record in found:
        record["ts"] = record["ts"].isoformat()
        record["raw"] = bytes(record["raw"]).decode("utf-8", "replace")
    return sorted(events + found, key=lambda r: utc(datetime.fromisoformat(str(r["ts"]))))


def gather(conn: Connection, user: str) -> dict[str, list[dict[str, Any]]]:
    """Each part of the request (``PARTS``) for the user name ``user`` (lower case); no
    person and no account means no one of that name is on this school's roster or has
    an account."""
    pt, dt, et, at = (table_of(m) for m in (PersonRow, DeviceRow, EventRow, AlertRow))
    ot, st, aut = (table_of(m) for m in (OutboxRow, SilenceRow, AuditRow))
    person = rows(conn, select(pt).where(mine(conn, pt.c.site_id), pt.c.username == user))
    accounts = _accounts(conn, user, person)
    if not person and not accounts:
        return {name: [] for name in PARTS}
    account_names = [str(a["username"]) for a in accounts]
    devices = rows(conn, select(dt).where(mine(conn, dt.c.site_id), dt.c.assigned_to == user))
    device_ids = [d["device_id"] for d in devices]
    on_their_devices = (
        and_(et.c.device_id.in_(device_ids), et.c.username.is_(None)) if device_ids else false()
    )
    theirs = or_(et.c.username == user, func.lower(et.c.user) == user, on_their_devices)
    events = rows(conn, select(et).where(mine(conn, et.c.site_id), theirs).order_by(et.c.ts))
    events = _with_lookups(conn, events, user, device_ids)
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
    subjects += [f"account:{n}" for n in account_names]
    names = {user, *(str(p["display_name"]).lower() for p in person if p["display_name"])}
    names |= {str(a["full_name"]).lower() for a in accounts if a["full_name"]}
    notes = and_(
        aut.c.action == "alert.note",
        or_(*(func.lower(aut.c.detail).contains(n, autoescape=True) for n in names)),
    )
    records = rows(
        conn,
        select(aut)
        .where(mine(conn, aut.c.site_id), or_(aut.c.subject.in_(subjects), notes))
        .order_by(aut.c.id),
    )
    return {
        "person": person,
        "devices": devices,
        "events": events,
        "alerts": alerts,
        "mail": mail,
        "silences": silences,
        "rejected": _rejected(conn, user),
        "accounts": accounts,
        **_account_parts(conn, account_names),
        "audit": records,
    }
