"""The events an alert mail shows around its own: the few of the same person (or device, or
address) just before and after it, from ``events`` and from ``lookups``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select

from alerting.mail import Nearby
from monitord.core.model import Judged
from monitord.store.database import mine, site_of, table_of, utc
from monitord.store.lookups import from_micros, micros
from monitord.store.lookupshown import shown_around
from monitord.store.tables import EventRow

# How many events of the same person or device an alert mail shows either side of its own,
# and how far away they may be.
NEARBY = 4
NEARBY_SPAN = timedelta(hours=1)


def indicator_of(j: Judged) -> str:
    ev = j.event
    return ev.url or ev.domain or ev.text or ev.client_mac or ev.client_ip or "?"


# The queries of the events near an alert's, by school, database, column and side; kept by
# their caller (the alert manager), made once each (building them anew cost more than
# running them).
NearQueries = dict[tuple[str, str, str, bool], Select[Any]]


def nearby(conn: Connection, j: Judged, made: NearQueries) -> tuple[Nearby, ...]:
    """The few events of the same person (or device, or address) just before and after
    this one, with this one in its place; ``made``: the queries made so far."""
    person = j.attribution.person
    device = j.attribution.device
    user = person.username if person else j.event.user
    if user:
        column, value = "username", user
    elif device is not None:
        column, value = "device_id", device.device_id
    elif j.event.client_ip:
        column, value = "client_ip", j.event.client_ip
    else:
        return ()
    party = {column: value}
    ts = j.event.ts
    values = {
        "party": value,
        "event_id": j.event_id,
        "ts": ts,
        "low": ts - NEARBY_SPAN,
        "high": ts + NEARBY_SPAN,
    }
    before = conn.execute(_events_near(conn, made, column, before=True), values).all()
    after = conn.execute(_events_near(conn, made, column, before=False), values).all()

    def row(r: Any) -> Nearby:
        shown = r.url or r.domain or r.text or r.hostname or "?"
        return Nearby(utc(r.ts), r.kind, shown, r.category, bool(r.blocked))

    lookups_before, lookups_after = _lookups_near(conn, party, ts)
    earlier = [row(r) for r in before] + lookups_before
    later = [row(r) for r in after] + lookups_after
    if not earlier and not later:
        return ()
    earlier = sorted(earlier, key=lambda n: n.ts, reverse=True)[:NEARBY]
    later = sorted(later, key=lambda n: n.ts)[:NEARBY]
    ev = j.event
    this = Nearby(ev.ts, ev.kind.value, indicator_of(j), None, ev.blocked, this=True)
    return (*reversed(earlier), this, *later)


def _events_near(conn: Connection, made: NearQueries, column: str, *, before: bool) -> Select[Any]:
    """The query of the party's events (``column`` equal to ``:party``, other than
    ``:event_id``) from ``:low`` to ``:ts`` (or after ``:ts`` to ``:high``), nearest
    first."""
    key = (site_of(conn), conn.dialect.name, column, before)
    found = made.get(key)
    if found is not None:
        return found
    et = table_of(EventRow)
    at: Any = bindparam("ts")
    span = (
        (et.c.ts <= at, et.c.ts >= bindparam("low"))
        if before
        else (et.c.ts > at, et.c.ts <= bindparam("high"))
    )
    query = (
        select(
            et.c.ts,
            et.c.kind,
            et.c.url,
            et.c.domain,
            et.c.text,
            et.c.hostname,
            et.c.category,
            et.c.blocked,
        )
        .where(
            mine(conn, et.c.site_id),
            et.c[column] == bindparam("party"),
            et.c.id != bindparam("event_id"),
            et.c.kind.not_in(("lease", "health")),
            *span,
        )
        .order_by(et.c.ts.desc() if before else et.c.ts)
        .limit(NEARBY)
    )
    made[key] = query
    return query


def _lookups_near(
    conn: Connection, party: dict[str, str], ts: datetime
) -> tuple[list[Nearby], list[Nearby]]:
    """The party's lookups (in ``lookups``: none has an alert) within ``NEARBY_SPAN``
    before ``ts``, nearest first, and after it, nearest first."""
    at = micros(ts)
    span = micros(ts + NEARBY_SPAN) - at
    found = shown_around(conn, party, at, at - span, at + span, NEARBY)

    def near(r: tuple[Any, ...]) -> Nearby:
        return Nearby(from_micros(int(r[1])), r[5], r[13] or r[2], r[11], False)

    return [near(r) for r in found[0]], [near(r) for r in found[1]]
