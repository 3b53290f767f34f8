"""Identity as stored: the roster, the device inventory, reservations, and the lease, logon
and proxy history within ``history`` of now, read into an :class:`Identity`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from monitord.core.model import Device, Event, EventKind, Person
from monitord.identity.intervals import Binding
from monitord.identity.resolve import DEFAULT_UNAUTHORISED, Identity
from monitord.identity.supply import VisitBook
from monitord.store.database import mine, site_of, table_of, utc
from monitord.store.lookupshown import lookup_sightings
from monitord.store.tables import DeviceRow, EventRow, LeaseRow, PersonRow, ReservationRow


def load_identity(
    engine: Engine,
    lease_time: timedelta,
    *,
    tz: ZoneInfo | None = None,
    history: timedelta = timedelta(days=35),
    proxy_window: timedelta = timedelta(minutes=10),
    unauthorised: Iterable[str] = DEFAULT_UNAUTHORISED,
    guest_networks: Iterable[str] = (),
    now: datetime | None = None,
) -> Identity:
    """The roster, inventory, reservations, and the lease, logon and proxy history
    within ``history`` of ``now``, as stored."""
    now = now or datetime.now(UTC)
    since = now - history
    pt, dt, lt = table_of(PersonRow), table_of(DeviceRow), table_of(LeaseRow)
    rt, et = table_of(ReservationRow), table_of(EventRow)
    site = site_of(engine)
    with engine.connect() as conn:
        people = {
            r.username: Person(
                r.username, r.display_name, r.role, r.year_group, r.class_name, r.email
            )
            for r in conn.execute(select(pt).where(mine(conn, pt.c.site_id, site)))
        }
        devices = {
            r.device_id: Device(
                r.device_id,
                r.mac,
                r.hostname,
                r.ownership,
                r.assigned_to,
                r.ip,
                r.location,
            )
            for r in conn.execute(
                select(dt).where(mine(conn, dt.c.site_id, site), dt.c.active.is_(True))
            )
        }
        ident = Identity(
            people,
            devices,
            lease_time,
            tz=tz,
            history=history,
            proxy_window=proxy_window,
            unauthorised=unauthorised,
            guest_networks=guest_networks,
            visits=VisitBook(engine),
        )
        leases = select(lt).where(
            mine(conn, lt.c.site_id, site), (lt.c.ends.is_(None)) | (lt.c.ends >= since)
        )
        for r in conn.execute(leases.order_by(lt.c.starts)):
            ident.add_binding(
                r.ip,
                Binding(utc(r.starts), utc(r.ends) if r.ends else None, r.mac, r.hostname, r.id),
            )
        for r in conn.execute(
            select(rt).where(mine(conn, rt.c.site_id, site)).order_by(rt.c.starts)
        ):
            ident.add_reservation(
                r.ip,
                r.device_id,
                utc(r.starts),
                utc(r.ends) if r.ends else None,
                f"reservation {r.id}",
            )
        sessions = (
            select(et.c.id, et.c.ts, et.c.kind, et.c.user, et.c.client_ip)
            .add_columns(et.c.client_mac, et.c.hostname)
            .where(et.c.kind.in_(("logon", "logoff")), et.c.ts >= since)
            .where(mine(conn, et.c.site_id, site))
            .order_by(et.c.ts)
        )
        for r in conn.execute(sessions):
            ev = Event(
                kind=EventKind(r.kind),
                ts=utc(r.ts),
                client_ip=r.client_ip,
                client_mac=r.client_mac,
                user=r.user,
                hostname=r.hostname,
            )
            ident.add_session_event(ev, r.id)
        recent = now - proxy_window
        sightings = (
            select(et.c.ts, et.c.user, et.c.client_ip)
            .where(et.c.ts >= recent, et.c.user.is_not(None), et.c.client_ip.is_not(None))
            .where(mine(conn, et.c.site_id, site))
            .order_by(et.c.ts)
        )
        seen = [(utc(r.ts), r.user, r.client_ip) for r in conn.execute(sightings)]
        # And the proxy requests kept in ``lookups``, all in time order.
        seen += lookup_sightings(conn, recent)
        seen.sort(key=lambda s: s[0])
        for ts, user, ip in seen:
            ident.add_sighting(Event(kind=EventKind.HTTP, ts=ts, client_ip=ip, user=user))
    return ident
