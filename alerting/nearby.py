"""The events an alert mail shows around its own: the few of the same person (or device, or
address) just before and after it, from ``events`` and from the lookups that matched
nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from alerting.mail import Nearby
from monitord.core.model import Judged
from monitord.store.database import mine, table_of, utc
from monitord.store.lookups import from_micros, micros, select_shown
from monitord.store.tables import EventRow

# How many events of the same person or device an alert mail shows either side of its own,
# and how far away they may be.
NEARBY = 4
NEARBY_SPAN = timedelta(hours=1)


def indicator_of(j: Judged) -> str:
    ev = j.event
    return ev.url or ev.domain or ev.text or ev.client_mac or ev.client_ip or "?"


def nearby(conn: Connection, j: Judged) -> tuple[Nearby, ...]:
    """The few events of the same person (or device, or address) just before and after
    this one, with this one in its place."""
    et = table_of(EventRow)
    person = j.attribution.person
    device = j.attribution.device
    user = person.username if person else j.event.user
    if user:
        same, party = et.c.username == user, {"username": user}
    elif device is not None:
        same, party = et.c.device_id == device.device_id, {"device_id": device.device_id}
    elif j.event.client_ip:
        same, party = et.c.client_ip == j.event.client_ip, {"client_ip": j.event.client_ip}
    else:
        return ()
    ts = j.event.ts
    cols = (et.c.ts, et.c.kind, et.c.url, et.c.domain, et.c.text, et.c.hostname)
    common = (
        mine(conn, et.c.site_id),
        same,
        et.c.id != j.event_id,
        et.c.kind.not_in(("lease", "health")),
    )
    before = conn.execute(
        select(*cols, et.c.category, et.c.blocked)
        .where(*common, et.c.ts <= ts, et.c.ts >= ts - NEARBY_SPAN)
        .order_by(et.c.ts.desc())
        .limit(NEARBY)
    ).all()
    after = conn.execute(
        select(*cols, et.c.category, et.c.blocked)
        .where(*common, et.c.ts > ts, et.c.ts <= ts + NEARBY_SPAN)
        .order_by(et.c.ts)
        .limit(NEARBY)
    ).all()

    def row(r: Any) -> Nearby:
        shown = r.url or r.domain or r.text or r.hostname or "?"
        return Nearby(utc(r.ts), r.kind, shown, r.category, bool(r.blocked))

    earlier = [row(r) for r in before] + _lookups_near(conn, party, ts, before=True)
    later = [row(r) for r in after] + _lookups_near(conn, party, ts, before=False)
    if not earlier and not later:
        return ()
    earlier = sorted(earlier, key=lambda n: n.ts, reverse=True)[:NEARBY]
    later = sorted(later, key=lambda n: n.ts)[:NEARBY]
    ev = j.event
    this = Nearby(ev.ts, ev.kind.value, indicator_of(j), None, ev.blocked, this=True)
    return (*reversed(earlier), this, *later)


def _lookups_near(
    conn: Connection, party: dict[str, str], ts: datetime, *, before: bool
) -> list[Nearby]:
    """The party's lookups that matched nothing within ``NEARBY_SPAN`` before (or after)
    ``ts``, nearest first."""
    at = micros(ts)
    span = micros(ts + NEARBY_SPAN) - at
    if before:
        where, params = ["l.ts <= :at", "l.ts >= :edge"], {"at": at, "edge": at - span}
    else:
        where, params = ["l.ts > :at", "l.ts <= :edge"], {"at": at, "edge": at + span}
    found = select_shown(conn, party=party, where=where, params=params, newest=before, limit=NEARBY)
    return [Nearby(from_micros(int(r[1])), r[5], r[2], None, False) for r in found]
