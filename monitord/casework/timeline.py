"""One person's or one device's day (``monitord timeline``): every event from every source
(resolver, proxy, agent, packets) in time order, the flagged ones marked with their category,
severity and the alerts that hold them. Recorded in the audit trail like a search."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text

from monitord.casework.found import Found, event_columns, fetch_events
from monitord.casework.lookupsearch import in_time_order, lookup_day
from monitord.casework.output import local_time, printable, resolve_device
from monitord.casework.plan import USER_INDEX, tie_key, time_param
from monitord.casework.query import SearchError
from monitord.casework.search import check_reason
from monitord.store.database import audit, mine_sql


def day_span(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A day in the school's time zone: its first moment and the next day's."""
    start = datetime.combine(day, time(0, 0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz)
    return start, end


def day_events(
    conn: Connection, day: date, tz: ZoneInfo, user: str | None = None, device: str | None = None
) -> list[Found]:
    """The day's events of ``user`` (and/or ``device``), oldest first, each with the alerts
    that hold it."""
    if user is None and device is None:
        raise SearchError("timeline needs --user or --device")
    start, end = day_span(day, tz)
    where = ["e.ts >= :start", "e.ts < :end"]
    params: dict[str, object] = {
        "start": time_param(conn, start),
        "end": time_param(conn, end),
    }
    own, site = mine_sql(conn, "e.site_id")
    if site:  # one school's events (a trust's view reads every school's)
        where.append(own)
        params.update(site)
    if user is not None:
        where.append("e.username = :user")
        params["user"] = user
    if device is not None:
        where.append("e.device_id = :device")
        params["device"] = device
    index = USER_INDEX if user is not None else "ix_events_device_ts"
    hint = f" INDEXED BY {index}" if conn.dialect.name == "sqlite" else ""
    match = f"FROM events AS e{hint} WHERE {' AND '.join(where)}"
    order = f"ORDER BY e.ts, e.{tie_key(conn.dialect.name, index)}"
    events = fetch_events(conn, f"SELECT {event_columns(conn)} {match} {order}", params)
    events = in_time_order(events, lookup_day(conn, start, end, user, device))
    # The alerts holding any of them, in one statement.
    held: dict[str, list[int]] = {}
    query = text(
        f"SELECT a.event_id, a.alert_id FROM alert_events AS a "
        f"WHERE a.event_id IN (SELECT e.id {match}) ORDER BY a.alert_id"
    )
    for event_id, alert_id in conn.execute(query, params):
        held.setdefault(event_id, []).append(int(alert_id))
    return [ev._replace(alerts=tuple(held[ev.id])) if ev.id in held else ev for ev in events]


def timeline(
    engine: Engine,
    day: date,
    tz: ZoneInfo,
    actor: str,
    reason: str | None,
    now: datetime,
    *,
    user: str | None = None,
    device: str | None = None,
    require_reason: bool = True,
    output: str = "table",
) -> list[Found]:
    """The day's events, and an audit record of who looked, at whom, and why."""
    why = check_reason(reason, require_reason, "timeline")
    if user is None and device is None:
        raise SearchError("timeline needs --user or --device")
    asked: dict[str, object] = {"date": day.isoformat()}
    if user is not None:
        asked["user"] = user
    if device is not None:
        asked["device"] = device
    with engine.connect() as conn:
        if device is not None:
            device = resolve_device(conn, device)
        events = day_events(conn, day, tz, user, device)
    subject = f"user:{user}" if user is not None else f"device:{device}"
    detail = {
        "filters": asked,
        "reason": why,
        "results": len(events),
        "flagged": sum(1 for ev in events if ev.flagged),
        "output": output,
    }
    with engine.begin() as conn:
        audit(conn, actor, "timeline", subject[:256], detail, now=now)
    return events


def _flag(ev: Found) -> str:
    parts = [
        ev.category,
        ev.severity if ev.severity != "none" else None,
        "blocked" if ev.blocked else None,
        ", ".join(f"alert {a}" for a in ev.alerts or ()) or None,
    ]
    return " ".join(x for x in parts if x)


def render(events: Sequence[Found], tz: ZoneInfo, *, by_user: bool) -> list[str]:
    """The day as aligned lines, one an event (a table of thousands of rows would take
    seconds to lay out): ``!`` marks a flagged one, its category, severity and alerts in
    brackets at the end. ``by_user``: the device column, else the person's."""
    rows = [
        (
            "!" if ev.flagged else " ",
            local_time(ev.ts, tz, with_date=False),
            printable(ev.source),
            printable(ev.kind),
            printable((ev.device or ev.ip) if by_user else ev.person),
            printable(ev.indicator, 100),
            _flag(ev) if ev.flagged else "",
        )
        for ev in events
    ]
    header = (" ", "time", "source", "kind", "device" if by_user else "person", "indicator", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    out = []
    for r in [header, *rows]:
        line = "  ".join(r[i].ljust(widths[i]) for i in range(5)) + "  " + r[5]
        out.append(line + (f"  [{r[6]}]" if r[6] else ""))
    return out
