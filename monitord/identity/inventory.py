"""What the store holds about the school's people and devices, for listing: the roster and
the device inventory as imported, with filters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, func, or_, select

from monitord.core.model import Device, Person
from monitord.store.database import mine, table_of, utc
from monitord.store.tables import DeviceRow, LeaseRow, PersonRow

T = TypeVar("T", Person, Device)


@dataclass(frozen=True, slots=True)
class Listed(Generic[T]):
    """A person or device as the store holds it: still on the roster (or in the inventory)
    or not, and when its row was last imported."""

    entry: T
    active: bool
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        fields = asdict(self.entry)
        return {**fields, "active": self.active, "updated_at": _iso(self.updated_at)}


def _iso(value: datetime) -> str:
    return utc(value).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class PeopleFilter:
    role: str | None = None
    year_group: str | None = None
    class_name: str | None = None
    text: str | None = None  # a part of the user name or the name, any case
    inactive: bool = False  # those no longer on the roster too


def list_people(engine: Engine, where: PeopleFilter = PeopleFilter()) -> list[Listed[Person]]:
    t = table_of(PersonRow)
    query = select(t).where(mine(engine, t.c.site_id))
    if where.role:
        query = query.where(t.c.role == where.role)
    if where.year_group:
        query = query.where(func.upper(t.c.year_group) == where.year_group.upper())
    if where.class_name:
        query = query.where(func.lower(t.c.class_name) == where.class_name.lower())
    if where.text:
        part = f"%{where.text.lower()}%"
        query = query.where(
            func.lower(t.c.username).like(part) | func.lower(t.c.display_name).like(part)
        )
    if not where.inactive:
        query = query.where(t.c.active.is_(True))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(t.c.username)).all()
    return [
        Listed(
            Person(r.username, r.display_name, r.role, r.year_group, r.class_name, r.email),
            bool(r.active),
            r.updated_at,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    ownership: str | None = None
    assigned_to: str | None = None
    unassigned: bool = False
    text: str | None = None  # a part of the id, host name, MAC, address or location
    inactive: bool = False  # those no longer in the inventory too


def list_devices(engine: Engine, where: DeviceFilter = DeviceFilter()) -> list[Listed[Device]]:
    t = table_of(DeviceRow)
    query = select(t).where(mine(engine, t.c.site_id))
    if where.ownership:
        query = query.where(t.c.ownership == where.ownership)
    if where.assigned_to:
        query = query.where(func.lower(t.c.assigned_to) == where.assigned_to.lower())
    if where.unassigned:
        query = query.where(t.c.assigned_to.is_(None))
    if where.text:
        part = f"%{where.text.lower()}%"
        columns = (t.c.device_id, t.c.hostname, t.c.mac, t.c.ip, t.c.location)
        query = query.where(or_(*(func.lower(func.coalesce(c, "")).like(part) for c in columns)))
    if not where.inactive:
        query = query.where(t.c.active.is_(True))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(t.c.device_id)).all()
    return [
        Listed(
            Device(r.device_id, r.mac, r.hostname, r.ownership, r.assigned_to, r.ip, r.location),
            bool(r.active),
            r.updated_at,
        )
        for r in rows
    ]


def display_names(engine: Engine, usernames: Iterable[str]) -> dict[str, str]:
    """The roster's names for these user names (those it lists)."""
    wanted = sorted({u for u in usernames if u})
    if not wanted:
        return {}
    t = table_of(PersonRow)
    query = select(t.c.username, t.c.display_name).where(
        mine(engine, t.c.site_id), t.c.username.in_(wanted)
    )
    with engine.connect() as conn:
        return {str(u): str(n) for u, n in conn.execute(query)}


def last_leased(engine: Engine, macs: Iterable[str | None]) -> dict[str, datetime]:
    """When each of these MAC addresses last took a DHCP lease: the last time the network
    saw the device (those never leased are left out)."""
    wanted = sorted({m.lower() for m in macs if m})
    if not wanted:
        return {}
    t = table_of(LeaseRow)
    query = (
        select(t.c.mac, func.max(t.c.starts))
        .where(mine(engine, t.c.site_id), t.c.mac.in_(wanted))
        .group_by(t.c.mac)
    )
    with engine.connect() as conn:
        return {str(m): utc(s) for m, s in conn.execute(query)}
