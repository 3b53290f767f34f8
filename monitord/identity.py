"""Who and which device was behind an event, as things stood at that moment.

The device: the event's own MAC; else (for an agent's report) its host name; else the
binding of the event's address at the event's time: a DHCP lease, else a reservation from
the devices file, else the address an endpoint agent reported at logon.

The person, first rule that applies:

1. a user name carried by the event itself (proxy authentication, an agent report);
2. an agent logon session on that device at that time (from the logon until the logoff, the
   next logon on the device, or the end of that school day);
3. a proxy user name seen from the same address within ``proxy_user_window`` before, while
   the address was bound to the same device;
4. the single user a ``school_single`` device is assigned to;
5. none: a shared device (class iPads, suite PCs) gives the device and its location only.

A shared supply login (role ``supply``) with a check-in for that day names the real person
instead, and says it came through the check-in.

Every binding is an interval: bindings of one address are kept sorted by start in parallel
arrays, with the running maximum of their ends, so a lookup is a binary search plus, only
where intervals overlap, a short step back; a miss costs one comparison. Renewals of the same
lease are merged. History older than ``history`` before the newest time seen is dropped, so
memory stays bounded by devices x days.
"""

from __future__ import annotations

import hashlib
import re
import time
from array import array
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from monitord.model import Attribution, Device, Event, EventKind, Person
from monitord.store import table_of, utc
from monitord.supply import VisitBook
from monitord.tables import DeviceRow, EventRow, LeaseRow, PersonRow, ReservationRow

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_INF = float("inf")
_DAY = 86400.0
UNAUTHORISED = "unauthorised_device"
DEFAULT_UNAUTHORISED = ("pupil_owned", "visitor_owned")
_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
# Kinds whose host name is the reporting device's own (not a DHCP client's claim).
_NO_HOSTNAME_LOOKUP = frozenset({EventKind.LEASE, EventKind.DEVICE, EventKind.HEALTH})
_CACHE_LIMIT = 50_000


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


def _iso(t: float) -> str:
    if t == _INF:
        return "no expiry"
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=4096)
def vendor_of(mac: str) -> str:
    """The maker registered for a MAC's prefix (the IEEE OUI registry, as shipped with
    netaddr: no network needed), or why there is none."""
    import netaddr

    try:
        first = int(mac[:2], 16)
    except ValueError:
        return "not a MAC address"
    if first & 0x02:
        return "randomised address (locally administered): no maker"
    try:
        return str(netaddr.EUI(mac).oui.registration()["org"])
    except (netaddr.NotRegisteredError, netaddr.AddrFormatError, IndexError):
        return "maker not registered"


class _Intervals:
    """One address's bindings, sorted by start, as parallel arrays: ``keys`` are MACs (leases),
    device ids (reservations) or session keys (agent addresses)."""

    __slots__ = ("ends", "ids", "keys", "reach", "starts")

    def __init__(self) -> None:
        self.starts = array("d")
        self.ends = array("d")
        self.reach = array("d")  # reach[i] = max(ends[:i + 1])
        self.keys: list[str] = []
        self.ids: list[str] = []

    def _fix_reach(self, i: int) -> None:
        reach, ends = self.reach, self.ends
        top = reach[i - 1] if i else -_INF
        for j in range(i, len(ends)):
            top = max(top, ends[j])
            if reach[j] == top and j > i:
                return
            reach[j] = top

    def add(self, start: float, end: float, key: str, ident: str) -> None:
        i = bisect_right(self.starts, start)
        if i and self.keys[i - 1] == key and self.ends[i - 1] >= start:
            # A renewal (or the same lease read again): the binding goes on.
            if end > self.ends[i - 1]:
                self.ends[i - 1] = end
                self._fix_reach(i - 1)
            return
        self.starts.insert(i, start)
        self.ends.insert(i, end)
        self.reach.insert(i, end)
        self.keys.insert(i, key)
        self.ids.insert(i, ident)
        self._fix_reach(i)

    def at(self, t: float) -> int:
        """The index of the latest-starting binding that covers ``t``, or -1."""
        i = bisect_right(self.starts, t) - 1
        reach, ends = self.reach, self.ends
        while i >= 0:
            if reach[i] < t:
                return -1
            if ends[i] >= t:
                return i
            i -= 1
        return -1

    def prune(self, before: float) -> None:
        keep = [i for i in range(len(self.starts)) if self.ends[i] >= before]
        if len(keep) == len(self.starts):
            return
        self.starts = array("d", (self.starts[i] for i in keep))
        self.ends = array("d", (self.ends[i] for i in keep))
        self.keys = [self.keys[i] for i in keep]
        self.ids = [self.ids[i] for i in keep]
        self.reach = array("d", self.ends)
        if keep:
            self._fix_reach(0)

    def __len__(self) -> int:
        return len(self.starts)


class _Sessions:
    """One device's logons and logoffs, each sorted by time."""

    __slots__ = ("day_ends", "ids", "off", "off_users", "starts", "users")

    def __init__(self) -> None:
        self.starts = array("d")
        self.day_ends = array("d")
        self.users: list[str] = []
        self.ids: list[str] = []
        self.off = array("d")
        self.off_users: list[str | None] = []

    def logon(self, t: float, day_end: float, user: str, ident: str) -> None:
        i = bisect_right(self.starts, t)
        if i and self.starts[i - 1] == t and self.users[i - 1] == user:
            return  # the same logon read again
        self.starts.insert(i, t)
        self.day_ends.insert(i, day_end)
        self.users.insert(i, user)
        self.ids.insert(i, ident)

    def logoff(self, t: float, user: str | None) -> None:
        j = bisect_right(self.off, t)
        if j and self.off[j - 1] == t and self.off_users[j - 1] == user:
            return
        self.off.insert(j, t)
        self.off_users.insert(j, user)

    def at(self, t: float) -> int:
        """The session open at ``t``, or -1: the latest logon before it, unless that day
        has ended or its user (or someone unnamed) logged off since."""
        i = bisect_right(self.starts, t) - 1
        if i < 0 or t >= self.day_ends[i]:
            return -1
        start, user = self.starts[i], self.users[i]
        off, off_users = self.off, self.off_users
        j = bisect_right(off, t) - 1
        while j >= 0 and off[j] > start:
            if off_users[j] is None or off_users[j] == user:
                return -1
            j -= 1
        return i

    def prune(self, before: float) -> None:
        keep = [i for i in range(len(self.starts)) if self.day_ends[i] >= before]
        self.starts = array("d", (self.starts[i] for i in keep))
        self.day_ends = array("d", (self.day_ends[i] for i in keep))
        self.users = [self.users[i] for i in keep]
        self.ids = [self.ids[i] for i in keep]
        offs = [j for j in range(len(self.off)) if self.off[j] >= before]
        self.off = array("d", (self.off[j] for j in offs))
        self.off_users = [self.off_users[j] for j in offs]

    def __len__(self) -> int:
        return len(self.starts) + len(self.off)


class _Sightings:
    """Proxy user names seen from one address: runs of the same user, as (first, last)."""

    __slots__ = ("firsts", "lasts", "users")

    def __init__(self) -> None:
        self.firsts = array("d")
        self.lasts = array("d")
        self.users: list[str] = []

    def add(self, t: float, user: str, window: float) -> None:
        i = bisect_right(self.firsts, t)
        if i and self.users[i - 1] == user and t <= self.lasts[i - 1] + window:
            if t > self.lasts[i - 1]:
                self.lasts[i - 1] = t
            return
        self.firsts.insert(i, t)
        self.lasts.insert(i, t)
        self.users.insert(i, user)

    def at(self, t: float, window: float) -> int:
        i = bisect_right(self.firsts, t) - 1
        if i >= 0 and t <= self.lasts[i] + window:
            return i
        return -1

    def prune(self, before: float) -> None:
        keep = [i for i in range(len(self.firsts)) if self.lasts[i] >= before]
        self.firsts = array("d", (self.firsts[i] for i in keep))
        self.lasts = array("d", (self.lasts[i] for i in keep))
        self.users = [self.users[i] for i in keep]

    def __len__(self) -> int:
        return len(self.firsts)


def _eid(*parts: object) -> str:
    key = "\x1f".join(str(p) for p in parts)
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


class Identity:
    def __init__(
        self,
        people: dict[str, Person],
        devices: dict[str, Device],
        lease_time: timedelta = timedelta(hours=24),
        *,
        tz: ZoneInfo | None = None,
        history: timedelta = timedelta(days=35),
        proxy_window: timedelta = timedelta(minutes=10),
        unauthorised: Iterable[str] = DEFAULT_UNAUTHORISED,
        visits: VisitBook | None = None,
    ) -> None:
        self.people = people
        self.devices_by_id = devices
        self.devices_by_mac = {d.mac: d for d in devices.values() if d.mac}
        self.devices_by_host: dict[str, Device] = {}
        for d in devices.values():
            if d.hostname:
                self.devices_by_host.setdefault(d.hostname.lower(), d)
        self.lease_time = lease_time
        self.tz = tz or ZoneInfo("UTC")
        self.history = history.total_seconds()
        self.proxy_window = proxy_window.total_seconds()
        self.unauthorised_kinds = frozenset(unauthorised)
        self.visits = visits or VisitBook()
        self._leases: dict[str, _Intervals] = {}
        self._reserved: dict[str, _Intervals] = {}
        self._agent_ips: dict[str, _Intervals] = {}
        self._sessions: dict[str, _Sessions] = {}
        self._proxy: dict[str, _Sightings] = {}
        self._newest = -_INF
        self._pruned_at = -_INF
        self._lease_text: dict[tuple[str, float, float, str], str] = {}
        self._device_text: dict[str, str] = {}

    # --- building the history --------------------------------------------------------------

    def _seen(self, t: float) -> None:
        """Advance the newest time seen (never past tomorrow: a lease written with a
        clock far ahead must not prune everything) and prune about once a day."""
        t = min(t, time.time() + _DAY)
        if t > self._newest:
            self._newest = t
            if t - self._pruned_at > _DAY:
                self.prune(t - self.history)
                self._pruned_at = t

    def prune(self, before: float) -> None:
        """Forget bindings, sessions and sightings that ended before ``before`` (epoch)."""
        for table in (self._leases, self._agent_ips, self._sessions, self._proxy):
            for k in list(table):
                entry = table[k]
                entry.prune(before)
                if not len(entry):
                    del table[k]
        self._lease_text.clear()

    def add_binding(self, ip: str, binding: Binding) -> None:
        """A DHCP lease: ``ip`` bound to ``binding.mac`` for its interval."""
        start = binding.starts.timestamp()
        end = binding.ends.timestamp() if binding.ends is not None else _INF
        entry = self._leases.get(ip)
        if entry is None:
            entry = self._leases[ip] = _Intervals()
        entry.add(start, end, binding.mac, binding.lease_id)
        self._seen(start)

    def add_reservation(
        self, ip: str, device_id: str, starts: datetime, ends: datetime | None, ident: str
    ) -> None:
        """A reserved address from the devices file."""
        entry = self._reserved.get(ip)
        if entry is None:
            entry = self._reserved[ip] = _Intervals()
        entry.add(starts.timestamp(), ends.timestamp() if ends else _INF, device_id, ident)

    def _day_end(self, t: float) -> float:
        """The end of the school's calendar day that ``t`` falls in (local midnight)."""
        local = datetime.fromtimestamp(t, self.tz)
        midnight = datetime(local.year, local.month, local.day, tzinfo=self.tz)
        return (midnight + timedelta(days=1)).timestamp()  # wall-clock: right across DST

    def _device_key(
        self, mac: str | None, hostname: str | None
    ) -> tuple[str | None, Device | None]:
        device = self.devices_by_mac.get(mac) if mac else None
        if device is None and hostname:
            device = self._by_host(hostname)
        if device is not None:
            return device.device_id, device
        if mac:
            return f"mac:{mac}", None
        if hostname:
            return f"host:{hostname.lower()}", None
        return None, None

    def _by_host(self, hostname: str) -> Device | None:
        h = hostname.lower().rstrip(".")
        return self.devices_by_host.get(h) or self.devices_by_host.get(h.split(".", 1)[0])

    def add_session_event(self, ev: Event, event_id: str) -> None:
        """An agent's logon or logoff: opens or closes a session on its device."""
        key, _ = self._device_key(ev.client_mac, ev.hostname)
        if key is None:
            return
        t = ev.ts.timestamp()
        sessions = self._sessions.get(key)
        if sessions is None:
            sessions = self._sessions[key] = _Sessions()
        if ev.kind is EventKind.LOGON and ev.user:
            day_end = self._day_end(t)
            sessions.logon(t, day_end, ev.user, event_id)
            if ev.client_ip and ev.client_mac:
                # The agent's own interface: its address and MAC. (An address without a MAC,
                # as osquery reports, is where a remote logon came from, not this device's.)
                entry = self._agent_ips.get(ev.client_ip)
                if entry is None:
                    entry = self._agent_ips[ev.client_ip] = _Intervals()
                entry.add(t, day_end, key, ev.hostname or key)
        elif ev.kind is EventKind.LOGOFF:
            sessions.logoff(t, ev.user)
        self._seen(t)

    def add_sighting(self, ev: Event) -> None:
        """A user name seen with an address (proxy authentication)."""
        if not (ev.user and ev.client_ip):
            return
        t = ev.ts.timestamp()
        entry = self._proxy.get(ev.client_ip)
        if entry is None:
            entry = self._proxy[ev.client_ip] = _Sightings()
        entry.add(t, ev.user, self.proxy_window)

    # --- looking up -------------------------------------------------------------------------

    def binding_at(self, ip: str, ts: datetime) -> Binding | None:
        """The most recent lease of ``ip`` that covers ``ts``."""
        entry = self._leases.get(ip)
        if entry is None:
            return None
        i = entry.at(ts.timestamp())
        if i < 0:
            return None
        end = entry.ends[i]
        return Binding(
            datetime.fromtimestamp(entry.starts[i], UTC),
            None if end == _INF else datetime.fromtimestamp(end, UTC),
            entry.keys[i],
            None,
            entry.ids[i],
        )

    def _lease_reason(self, ip: str, entry: _Intervals, i: int) -> str:
        cache_key = (ip, entry.starts[i], entry.ends[i], entry.keys[i])
        text = self._lease_text.get(cache_key)
        if text is None:
            if len(self._lease_text) > _CACHE_LIMIT:
                self._lease_text.clear()
            text = (
                f"lease {entry.ids[i][:12]}: {ip} -> {entry.keys[i]} "
                f"from {_iso(entry.starts[i])} until {_iso(entry.ends[i])}"
            )
            self._lease_text[cache_key] = text
        return text

    def _device_reason(self, mac: str) -> str:
        text = self._device_text.get(mac)
        if text is None:
            device = self.devices_by_mac.get(mac)
            if device is not None:
                text = f"device {device.device_id} ({device.ownership}) has MAC {mac}"
            else:
                text = f"MAC {mac} is not in the device inventory"
            if len(self._device_text) > _CACHE_LIMIT:
                self._device_text.clear()
            self._device_text[mac] = text
        return text

    def lookup(self, ip: str, ts: datetime) -> tuple[Device | None, Person | None, str]:
        """The fast path of ``resolve`` for an address with no user name, MAC or host name:
        (device, person, how), without the words of the reason."""
        device, person, how, _ = self._resolve(ts.timestamp(), ip, None, None, None, ts, None)
        return device, person, how

    def resolve(self, event: Event) -> Attribution:
        hostname = event.hostname if event.kind not in _NO_HOSTNAME_LOOKUP else None
        device, person, how, reasons = self._resolve(
            event.ts.timestamp(),
            event.client_ip,
            event.client_mac,
            hostname,
            event.user,
            event.ts,
            [],
        )
        return Attribution(person, device, "; ".join(reasons or ()) or "unattributed", how)

    def _resolve(
        self,
        t: float,
        ip: str | None,
        mac: str | None,
        hostname: str | None,
        user: str | None,
        ts: datetime,
        reasons: list[str] | None,
    ) -> tuple[Device | None, Person | None, str, list[str] | None]:
        device: Device | None = None
        key: str | None = None
        bound_since = -_INF
        if mac is not None:
            device = self.devices_by_mac.get(mac)
            if reasons is not None:
                reasons.append(self._device_reason(mac))
        if device is None and hostname:
            device = self._by_host(hostname)
            if device is not None and reasons is not None:
                reasons.append(f"device {device.device_id} has host name {hostname}")
        if device is None and mac is None and ip is not None:
            entry = self._leases.get(ip)
            i = entry.at(t) if entry is not None else -1
            if entry is not None and i >= 0:
                mac = entry.keys[i]
                bound_since = entry.starts[i]
                device = self.devices_by_mac.get(mac)
                if reasons is not None:
                    reasons.append(self._lease_reason(ip, entry, i))
                    reasons.append(self._device_reason(mac))
            else:
                reserved = self._reserved.get(ip)
                r = reserved.at(t) if reserved is not None else -1
                if reserved is not None and r >= 0:
                    device = self.devices_by_id.get(reserved.keys[r])
                    bound_since = reserved.starts[r]
                    if reasons is not None:
                        reasons.append(
                            f"{ip} is reserved for device {reserved.keys[r]} in the devices file"
                        )
                else:
                    agent = self._agent_ips.get(ip)
                    a = agent.at(t) if agent is not None else -1
                    if agent is not None and a >= 0:
                        key = agent.keys[a]
                        bound_since = agent.starts[a]
                        device = self.devices_by_id.get(key)
                        if reasons is not None:
                            reasons.append(
                                f"the agent on {agent.ids[a]} reported {ip} at its logon at "
                                f"{_iso(agent.starts[a])}"
                            )
        if key is None:
            if device is not None:
                key = device.device_id
            elif mac is not None:
                key = f"mac:{mac}"
            elif hostname:
                key = f"host:{hostname.lower()}"

        person: Person | None = None
        how = "unattributed"
        if user:
            person = self.people.get(user)
            how = "user_in_record"
            if reasons is not None:
                note = "" if person is not None else ", not on the roster"
                reasons.insert(0, f"user name {user!r} in the record{note}")
        else:
            sessions = self._sessions.get(key) if key is not None else None
            s = sessions.at(t) if sessions is not None else -1
            if sessions is not None and s >= 0:
                name = sessions.users[s]
                person = self.people.get(name)
                how = "logon_session"
                if reasons is not None:
                    note = "" if person is not None else " (not on the roster)"
                    reasons.append(
                        f"{name}{note} logged on to {key} at {_iso(sessions.starts[s])} "
                        f"(agent logon {sessions.ids[s][:12]}) and had not logged off"
                    )
            elif ip is not None and (seen := self._proxy.get(ip)) is not None:
                p = seen.at(t, self.proxy_window)
                if p >= 0 and seen.lasts[p] >= bound_since:
                    name = seen.users[p]
                    person = self.people.get(name)
                    how = "proxy_user"
                    if reasons is not None:
                        note = "" if person is not None else " (not on the roster)"
                        reasons.append(
                            f"the proxy authenticated {name}{note} from {ip} between "
                            f"{_iso(seen.firsts[p])} and {_iso(seen.lasts[p])}"
                        )
            if how == "unattributed" and device is not None:
                if device.ownership == "school_single" and device.assigned_to:
                    person = self.people.get(device.assigned_to)
                    if person is not None:
                        how = "assigned_device"
                        if reasons is not None:
                            reasons.append(f"{device.device_id} is assigned to {person.username}")
                if how == "unattributed" and reasons is not None:
                    where = f" in {device.location}" if device.location else ""
                    if device.ownership == "school_shared":
                        reasons.append(
                            f"{device.device_id} is a shared device{where}: no logon names its user"
                        )
                    elif where:
                        reasons.append(f"{device.device_id} is{where}")
        if person is not None and person.role == "supply":
            visit = self.visits.get(person.username, ts.astimezone(self.tz).date())
            if visit is not None:
                person = Person(
                    person.username, visit.name, "supply", None, visit.class_name, person.email
                )
                how = "supply_checkin"
                if reasons is not None:
                    reasons.append(
                        f"{visit.login} is a shared supply login: {visit.name} was checked in "
                        f"on it for {visit.day.isoformat()}, covering {visit.class_name} "
                        f"(recorded by {visit.recorded_by}, {visit.source})"
                    )
        if how == "unattributed" and device is not None:
            how = "device_only"
        return device, person, how, reasons

    # --- device policy ----------------------------------------------------------------------

    def unauthorised(
        self, ev: Event, starts: datetime, site_id: str = "default"
    ) -> tuple[str, Event, Attribution] | None:
        """For a lease of a device that may not be on this network (not in the inventory,
        or of a kind policy keeps off it): the ``unauthorised_device`` event, its id (one per
        device per school day) and its attribution (the device, never a person)."""
        mac = ev.client_mac
        if mac is None or not _MAC.match(mac):
            return None
        device = self.devices_by_mac.get(mac)
        if device is not None and device.ownership not in self.unauthorised_kinds:
            return None
        seen = starts if starts > _EARLIEST else ev.ts
        day = seen.astimezone(self.tz).date()
        vendor = vendor_of(mac)
        host = f"host name {ev.hostname!r}" if ev.hostname else "no host name"
        if device is None:
            why = "not in the device inventory"
        else:
            owner = f", registered to {device.assigned_to}" if device.assigned_to else ""
            why = f"device {device.device_id} is {device.ownership}{owner}: not allowed on "
            why += "this network"
        text = f"{mac} ({vendor}), {host}, leased {ev.client_ip}: {why}"
        event = Event(
            kind=EventKind.DEVICE,
            ts=seen,
            client_ip=ev.client_ip,
            client_mac=mac,
            hostname=ev.hostname,
            text=text,
            category=UNAUTHORISED,
        )
        reason = (
            f"DHCP lease of {ev.client_ip} to {mac} at {_iso(seen.timestamp())}; maker {vendor}; "
            f"{why}; an unauthorised device names no person"
        )
        eid = _eid(UNAUTHORISED, site_id, mac, day.isoformat())
        return eid, event, Attribution(None, device, reason, "device_only")

    # --- loading ----------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        engine: Engine,
        lease_time: timedelta,
        *,
        tz: ZoneInfo | None = None,
        history: timedelta = timedelta(days=35),
        proxy_window: timedelta = timedelta(minutes=10),
        unauthorised: Iterable[str] = DEFAULT_UNAUTHORISED,
        now: datetime | None = None,
    ) -> Identity:
        """The roster, inventory, reservations, and the lease, logon and proxy history
        within ``history`` of ``now``, as stored."""
        now = now or datetime.now(UTC)
        since = now - history
        pt, dt, lt = table_of(PersonRow), table_of(DeviceRow), table_of(LeaseRow)
        rt, et = table_of(ReservationRow), table_of(EventRow)
        with engine.connect() as conn:
            people = {
                r.username: Person(
                    r.username, r.display_name, r.role, r.year_group, r.class_name, r.email
                )
                for r in conn.execute(select(pt))
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
                for r in conn.execute(select(dt).where(dt.c.active.is_(True)))
            }
            ident = cls(
                people,
                devices,
                lease_time,
                tz=tz,
                history=history,
                proxy_window=proxy_window,
                unauthorised=unauthorised,
                visits=VisitBook(engine),
            )
            leases = select(lt).where((lt.c.ends.is_(None)) | (lt.c.ends >= since))
            for r in conn.execute(leases.order_by(lt.c.starts)):
                ident.add_binding(
                    r.ip,
                    Binding(
                        utc(r.starts), utc(r.ends) if r.ends else None, r.mac, r.hostname, r.id
                    ),
                )
            for r in conn.execute(select(rt).order_by(rt.c.starts)):
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
                .order_by(et.c.ts)
            )
            for r in conn.execute(sightings):
                ident.add_sighting(
                    Event(kind=EventKind.HTTP, ts=utc(r.ts), client_ip=r.client_ip, user=r.user)
                )
        return ident
