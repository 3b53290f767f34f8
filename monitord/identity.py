"""Who and which device was behind an event, as things stood at that moment.

Precedence: a user name carried by the event itself (proxy authentication) > the single user a
``school_single`` device is assigned to > none. The device comes from the event's MAC, or from
the DHCP lease that bound the event's IP at the event's time.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from monitord.model import Attribution, Device, Event, Person
from monitord.store import table_of, utc
from monitord.tables import DeviceRow, LeaseRow, PersonRow

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Binding:
    """An IP bound to a MAC from ``starts`` until ``ends`` (None: no end)."""

    starts: datetime
    ends: datetime | None
    mac: str
    hostname: str | None
    lease_id: str


def lease_interval(end: datetime | None, lease_time: timedelta) -> tuple[datetime, datetime | None]:
    """A leases file gives only the expiry; the lease began at most ``lease_time`` before it."""
    if end is None:
        return _EARLIEST, None
    return end - lease_time, end


class Identity:
    def __init__(
        self,
        people: dict[str, Person],
        devices: dict[str, Device],
        lease_time: timedelta = timedelta(hours=24),
    ) -> None:
        self.people = people
        self.devices_by_id = devices
        self.devices_by_mac = {d.mac: d for d in devices.values() if d.mac}
        self.lease_time = lease_time
        self._starts: dict[str, list[datetime]] = {}
        self._bindings: dict[str, list[Binding]] = {}

    def add_binding(self, ip: str, binding: Binding) -> None:
        starts = self._starts.setdefault(ip, [])
        items = self._bindings.setdefault(ip, [])
        i = bisect.bisect_right(starts, binding.starts)
        starts.insert(i, binding.starts)
        items.insert(i, binding)

    def binding_at(self, ip: str, ts: datetime) -> Binding | None:
        """The most recent binding of ``ip`` that covers ``ts``."""
        starts = self._starts.get(ip)
        if not starts:
            return None
        items = self._bindings[ip]
        i = bisect.bisect_right(starts, ts)
        for b in reversed(items[:i]):
            if b.ends is None or ts <= b.ends:
                return b
        return None

    def resolve(self, event: Event) -> Attribution:
        reasons: list[str] = []
        device: Device | None = None
        mac = event.client_mac
        if mac is None and event.client_ip:
            b = self.binding_at(event.client_ip, event.ts)
            if b is not None:
                mac = b.mac
                end = b.ends.isoformat() if b.ends else "no expiry"
                reasons.append(f"lease {b.lease_id[:12]}: {event.client_ip} -> {b.mac} until {end}")
        if mac is not None:
            device = self.devices_by_mac.get(mac)
            if device is not None:
                reasons.append(f"device {device.device_id} ({device.ownership}) has MAC {mac}")
            else:
                reasons.append(f"MAC {mac} is not in the device inventory")
        person: Person | None = None
        if event.user:
            person = self.people.get(event.user)
            if person is not None:
                reasons.insert(0, f"user name {event.user!r} in the record")
            else:
                reasons.insert(0, f"user name {event.user!r} in the record, not on the roster")
        elif device is not None and device.ownership == "school_single" and device.assigned_to:
            person = self.people.get(device.assigned_to)
            if person is not None:
                reasons.append(f"{device.device_id} is assigned to {person.username}")
        return Attribution(person, device, "; ".join(reasons) or "unattributed")

    @classmethod
    def load(cls, engine: Engine, lease_time: timedelta) -> Identity:
        """The roster, inventory and lease history as stored."""
        pt, dt, lt = table_of(PersonRow), table_of(DeviceRow), table_of(LeaseRow)
        with engine.connect() as conn:
            people = {
                r.username: Person(
                    r.username, r.display_name, r.role, r.year_group, r.class_name, r.email
                )
                for r in conn.execute(select(pt))
            }
            devices = {
                r.device_id: Device(r.device_id, r.mac, r.hostname, r.ownership, r.assigned_to)
                for r in conn.execute(select(dt).where(dt.c.active.is_(True)))
            }
            ident = cls(people, devices, lease_time)
            for r in conn.execute(select(lt).order_by(lt.c.starts)):
                ident.add_binding(
                    r.ip,
                    Binding(
                        utc(r.starts),
                        utc(r.ends) if r.ends else None,
                        r.mac,
                        r.hostname,
                        r.id,
                    ),
                )
        return ident
