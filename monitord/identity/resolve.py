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
from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from monitord.core.model import Attribution, Device, Event, EventKind, Person
from monitord.identity.intervals import (
    DAY,
    EARLIEST,
    FULL_PATH,
    INF,
    Answer,
    Binding,
    Intervals,
    Sessions,
    Sightings,
    iso_time,
    record_code,
)
from monitord.identity.supply import VisitBook
from monitord.settings.listen import allowed, parse_allow

UNAUTHORISED = "unauthorised_device"
DEFAULT_UNAUTHORISED = ("pupil_owned", "visitor_owned")
_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
# Kinds whose host name is the reporting device's own (not a DHCP client's claim).
_NO_HOSTNAME_LOOKUP = frozenset({EventKind.LEASE, EventKind.DEVICE, EventKind.HEALTH})
_CACHE_LIMIT = 50_000
_NOBODY = (None, None, "unattributed")


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


def _eid(*parts: object) -> str:
    key = "\x1f".join(str(p) for p in parts)
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


class Identity:
    """The identity layer's view of people, devices and their history.

    What an address can be bound to is a *slot*: an inventory device, or a MAC or host name
    the inventory does not know. Each slot has its device (or None), its MAC, its sessions
    and its default answer (the assigned user, or the device alone), held in lists indexed
    by slot so that a lookup follows as few pointers as it can."""

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
        guest_networks: Iterable[str] = (),
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
        self.guest_networks = parse_allow(list(guest_networks))
        self.visits = visits or VisitBook()
        self._slots: dict[str, int] = {}
        self._slot_key: list[str] = []
        self._slot_device: list[Device | None] = []
        self._slot_mac: list[str | None] = []
        self._slot_sessions: list[Sessions | None] = []
        self._slot_default: list[Answer | None] = []
        for d in devices.values():
            self._slot(d.device_id, d, d.mac)
        self._leases: dict[str, Intervals] = {}
        self._reserved: dict[str, Intervals] = {}
        self._agent_ips: dict[str, Intervals] = {}
        self._sessions: dict[str, Sessions] = {}  # by slot key, for reading
        self._proxy: dict[str, Sightings] = {}
        self._newest = -INF
        self._pruned_at = -INF
        self._lease_text: dict[tuple[str, float, float, int], str] = {}
        self._device_text: dict[str, str] = {}
        self._by_lease: dict[tuple[str | float | int | None, ...], Attribution] = {}

    # --- slots ------------------------------------------------------------------------------

    def _slot(self, key: str, device: Device | None, mac: str | None) -> int:
        slot = self._slots.get(key)
        if slot is not None:
            return slot
        slot = len(self._slot_key)
        self._slots[key] = slot
        self._slot_key.append(key)
        self._slot_device.append(device)
        self._slot_mac.append(mac)
        self._slot_sessions.append(None)
        default: Answer | None = _NOBODY
        if device is not None:
            default = (device, None, "device_only")
            person = self.people.get(device.assigned_to or "")
            if device.ownership == "school_single" and person is not None:
                # A supply login's check-in may name someone else: the full path decides.
                default = None if person.role == "supply" else (device, person, "assigned_device")
        self._slot_default.append(default)
        return slot

    def _mac_slot(self, mac: str) -> int:
        device = self.devices_by_mac.get(mac)
        if device is not None:
            return self._slots[device.device_id]
        return self._slot(f"mac:{mac}", None, mac)

    def _slot_of(self, mac: str | None, hostname: str | None) -> int | None:
        """The slot of a device reporting itself by MAC and host name (an agent)."""
        device = self.devices_by_mac.get(mac) if mac else None
        if device is None and hostname:
            device = self._by_host(hostname)
        if device is not None:
            return self._slots[device.device_id]
        if mac:
            return self._slot(f"mac:{mac}", None, mac)
        if hostname:
            return self._slot(f"host:{hostname.lower()}", None, None)
        return None

    def _by_host(self, hostname: str) -> Device | None:
        h = hostname.lower().rstrip(".")
        return self.devices_by_host.get(h) or self.devices_by_host.get(h.split(".", 1)[0])

    # --- building the history --------------------------------------------------------------

    def _seen(self, t: float) -> None:
        """Advance the newest time seen (never past tomorrow: a lease written with a
        clock far ahead must not prune everything) and prune about once a day."""
        t = min(t, time.time() + DAY)
        if t > self._newest:
            self._newest = t
            if t - self._pruned_at > DAY:
                self.prune(t - self.history)
                self._pruned_at = t

    def prune(self, before: float) -> None:
        """Forget bindings, sessions and sightings that ended before ``before`` (epoch),
        and the slots of unknown devices nothing refers to any more."""
        for k in list(self._sessions):
            sessions = self._sessions[k]
            sessions.prune(before)
            if not len(sessions):
                del self._sessions[k]
                self._slot_sessions[self._slots[k]] = None
        for k in list(self._proxy):
            self._proxy[k].prune(before)
            if not len(self._proxy[k]):
                del self._proxy[k]
        tables = (self._leases, self._reserved, self._agent_ips)
        live = {self._slots[d] for d in self.devices_by_id} | {
            self._slots[k] for k in self._sessions
        }
        for table in tables:
            for entry in table.values():
                live |= entry.slots_kept(before)
        order = sorted(live)
        remap = {old: new for new, old in enumerate(order)}
        self._slot_key = [self._slot_key[s] for s in order]
        self._slot_device = [self._slot_device[s] for s in order]
        self._slot_mac = [self._slot_mac[s] for s in order]
        self._slot_sessions = [self._slot_sessions[s] for s in order]
        self._slot_default = [self._slot_default[s] for s in order]
        self._slots = {k: n for n, k in enumerate(self._slot_key)}
        for table in tables:
            for k in list(table):
                table[k].prune(before, remap)
                if not len(table[k]):
                    del table[k]
        self._lease_text.clear()
        self._by_lease.clear()  # slots were renumbered

    def add_binding(self, ip: str, binding: Binding) -> None:
        """A DHCP lease: ``ip`` bound to ``binding.mac`` for its interval."""
        start = binding.starts.timestamp()
        end = binding.ends.timestamp() if binding.ends is not None else INF
        entry = self._leases.get(ip)
        if entry is None:
            entry = self._leases[ip] = Intervals()
        entry.add(start, end, self._mac_slot(binding.mac), record_code(binding.lease_id))
        self._seen(start)

    def add_reservation(
        self, ip: str, device_id: str, starts: datetime, ends: datetime | None, ident: str
    ) -> None:
        """A reserved address from the devices file."""
        device = self.devices_by_id.get(device_id)
        if device is None:
            return  # the device has left the inventory
        entry = self._reserved.get(ip)
        if entry is None:
            entry = self._reserved[ip] = Intervals()
        end = ends.timestamp() if ends else INF
        entry.add(starts.timestamp(), end, self._slots[device_id], record_code(ident))

    def _day_end(self, t: float) -> float:
        """The end of the school's calendar day that ``t`` falls in (local midnight)."""
        local = datetime.fromtimestamp(t, self.tz)
        midnight = datetime(local.year, local.month, local.day, tzinfo=self.tz)
        return (midnight + timedelta(days=1)).timestamp()  # wall-clock: right across DST

    def _session_person(self, user: str) -> Person | None:
        person = self.people.get(user)
        return FULL_PATH if person is not None and person.role == "supply" else person

    def add_session_event(self, ev: Event, event_id: str) -> None:
        """An agent's logon or logoff: opens or closes a session on its device."""
        slot = self._slot_of(ev.client_mac, ev.hostname)
        if slot is None:
            return
        t = ev.ts.timestamp()
        sessions = self._slot_sessions[slot]
        if sessions is None:
            sessions = self._slot_sessions[slot] = Sessions()
            self._sessions[self._slot_key[slot]] = sessions
        if ev.kind is EventKind.LOGON and ev.user:
            user = self._intern(ev.user)
            day_end = self._day_end(t)
            sessions.logon(t, day_end, user, record_code(event_id), self._session_person(user))
            if ev.client_ip and ev.client_mac:
                # The agent's own interface: its address and MAC. (An address without a MAC,
                # as osquery reports, is where a remote logon came from, not this device's.)
                entry = self._agent_ips.get(ev.client_ip)
                if entry is None:
                    entry = self._agent_ips[ev.client_ip] = Intervals()
                entry.add(t, day_end, slot, record_code(event_id))
        elif ev.kind is EventKind.LOGOFF:
            sessions.logoff(t, self._intern(ev.user) if ev.user else None)
        self._seen(t)

    def _intern(self, user: str) -> str:
        """The roster's own string for a user name, so that a month of sessions shares one."""
        person = self.people.get(user)
        return person.username if person is not None else user

    def add_sighting(self, ev: Event) -> None:
        """A user name seen with an address (proxy authentication)."""
        if not (ev.user and ev.client_ip):
            return
        t = ev.ts.timestamp()
        entry = self._proxy.get(ev.client_ip)
        if entry is None:
            entry = self._proxy[ev.client_ip] = Sightings()
        entry.add(t, self._intern(ev.user), self.proxy_window)

    # --- looking up -------------------------------------------------------------------------

    def binding_at(self, ip: str, ts: datetime) -> Binding | None:
        """The most recent lease of ``ip`` that covers ``ts`` (``lease_id``: the first 12
        hex digits of the lease's id, as the reason gives it)."""
        entry = self._leases.get(ip)
        if entry is None:
            return None
        i = entry.at(ts.timestamp())
        if i < 0:
            return None
        end = entry.end(i)
        return Binding(
            datetime.fromtimestamp(entry.start(i), UTC),
            None if end == INF else datetime.fromtimestamp(end, UTC),
            self._slot_mac[entry.slot(i)] or "",
            None,
            f"{entry.code(i):012x}",
        )

    def _lease_reason(self, ip: str, entry: Intervals, i: int) -> str:
        cache_key = (ip, entry.start(i), entry.end(i), entry.code(i))
        text = self._lease_text.get(cache_key)
        if text is None:
            if len(self._lease_text) > _CACHE_LIMIT:
                self._lease_text.clear()
            text = (
                f"lease {entry.code(i):012x}: {ip} -> {self._slot_mac[entry.slot(i)]} "
                f"from {iso_time(entry.start(i))} until {iso_time(entry.end(i))}"
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

    def lookup(self, ip: str, ts: datetime) -> Answer:
        """(device, person, how) for an address at a time, as ``resolve`` finds them for an
        event that carries no user name, MAC or host name, without the words of the reason.

        The common cases (a lease covers the time; nothing does) are written out here, the
        rest go the full way: this is what most lookups of a resolver's log take."""
        t = ts.timestamp()
        entry = self._leases.get(ip)
        if entry is not None:
            d = entry.data
            n = len(d) // 5
            i = bisect_right(d, t, 0, n) - 1
            if i >= 0 and d[n + i] >= t and ip not in self._proxy:
                slot = int(d[3 * n + i])
                sessions = self._slot_sessions[slot]
                if sessions is not None:
                    times = sessions.times
                    m = len(times) // 2
                    s = bisect_right(times, t, 0, m) - 1
                    if s >= 0 and t < times[m + s]:
                        person = sessions.persons[s]
                        if person is not FULL_PATH:
                            return self._slot_device[slot], person, "logon_session"
                        return self._resolve(t, ip, None, None, None, ts, None)[:3]
                default = self._slot_default[slot]
                if default is not None:
                    return default
            elif (i < 0 or d[2 * n + i] < t) and (
                ip not in self._reserved and ip not in self._agent_ips and ip not in self._proxy
            ):
                return _NOBODY
        elif ip not in self._reserved and ip not in self._agent_ips and ip not in self._proxy:
            return _NOBODY
        return self._resolve(t, ip, None, None, None, ts, None)[:3]

    def resolve(self, event: Event) -> Attribution:
        hostname = event.hostname if event.kind not in _NO_HOSTNAME_LOOKUP else None
        ip = event.client_ip
        if ip is not None and event.client_mac is None:
            found = self._leased(ip, event.ts, event.user or None, hostname or None)
            if found is not None:
                return found
        return self._attribution(event.ts, event.client_ip, event.client_mac, hostname, event.user)

    def _attribution(
        self, ts: datetime, ip: str | None, mac: str | None, hostname: str | None, user: str | None
    ) -> Attribution:
        """The full path's answer, with its reasons as one sentence."""
        device, person, how, reasons = self._resolve(
            ts.timestamp(), ip, mac, hostname, user, ts, []
        )
        return Attribution(person, device, "; ".join(reasons or ()) or "unattributed", how)

    def _leased(
        self, ip: str, ts: datetime, user: str | None = None, hostname: str | None = None
    ) -> Attribution | None:
        """An event of a leased address with no MAC follows from the lease, the inventory,
        the user name it carries and its host name alone (a proxy's record, an agent's
        report), or, with neither a user nor a host name, when the device has no logon
        session and the address no proxy user: made once a lease (user and host name) and
        shared. An agent's report whose host name is in the inventory follows from the host
        and user names alone. None when the full path must decide."""
        if hostname is not None:
            if user is None:
                return None
            if self._by_host(hostname) is not None:
                return self._shared((hostname, user), ts, ip, hostname, user)
        entry = self._leases.get(ip)
        # A user name in the record is the person whatever the sessions and sightings say.
        i = (
            entry.at(ts.timestamp())
            if entry is not None and (user or ip not in self._proxy)
            else -1
        )
        if entry is None or i < 0:
            return None
        slot = entry.slot(i)
        if user is None and self._slot_sessions[slot] is not None:
            return None
        key = (ip, entry.start(i), entry.end(i), entry.code(i), slot, user, hostname)
        return self._shared(key, ts, ip, hostname, user)

    def _shared(
        self,
        key: tuple[str | float | int | None, ...],
        ts: datetime,
        ip: str,
        hostname: str | None,
        user: str | None,
    ) -> Attribution:
        """The full path's attribution, shared by every event of ``key``."""
        found = self._by_lease.get(key)
        if found is None:
            found = self._attribution(ts, ip, None, hostname, user)
            person = found.person
            if person is not None and person.role == "supply":
                return found  # a check-in names the person for a day, not for the lease
            if len(self._by_lease) > _CACHE_LIMIT:
                self._by_lease.clear()
            self._by_lease[key] = found
        return found

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
        slot: int | None = None
        bound_since = -INF
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
                slot = entry.slot(i)
                mac = self._slot_mac[slot]
                device = self._slot_device[slot]
                bound_since = entry.start(i)
                if reasons is not None and mac is not None:
                    reasons.append(self._lease_reason(ip, entry, i))
                    reasons.append(self._device_reason(mac))
            else:
                reserved = self._reserved.get(ip)
                r = reserved.at(t) if reserved is not None else -1
                if reserved is not None and r >= 0:
                    slot = reserved.slot(r)
                    device = self._slot_device[slot]
                    bound_since = reserved.start(r)
                    if reasons is not None:
                        reasons.append(
                            f"{ip} is reserved for device {self._slot_key[slot]} in the "
                            "devices file"
                        )
                else:
                    agent = self._agent_ips.get(ip)
                    a = agent.at(t) if agent is not None else -1
                    if agent is not None and a >= 0:
                        slot = agent.slot(a)
                        device = self._slot_device[slot]
                        bound_since = agent.start(a)
                        if reasons is not None:
                            reasons.append(
                                f"the agent on {self._slot_key[slot]} reported {ip} at its "
                                f"logon at {iso_time(agent.start(a))}"
                            )
        if slot is None:
            if device is not None:
                slot = self._slots[device.device_id]
            elif mac is not None:
                slot = self._slots.get(f"mac:{mac}")
            elif hostname:
                slot = self._slots.get(f"host:{hostname.lower()}")

        person: Person | None = None
        how = "unattributed"
        if user:
            person = self.people.get(user)
            how = "user_in_record"
            if reasons is not None:
                note = "" if person is not None else ", not on the roster"
                reasons.insert(0, f"user name {user!r} in the record{note}")
        else:
            sessions = self._slot_sessions[slot] if slot is not None else None
            s = sessions.at(t) if sessions is not None else -1
            if sessions is not None and s >= 0:
                name = sessions.users[s]
                person = self.people.get(name)
                how = "logon_session"
                if reasons is not None:
                    note = "" if person is not None else " (not on the roster)"
                    where = self._slot_key[slot] if slot is not None else "?"
                    reasons.append(
                        f"{name}{note} logged on to {where} at {iso_time(sessions.start(s))} "
                        f"(agent logon {sessions.codes[s]:012x}) and had not logged off"
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
                            f"{iso_time(seen.firsts[p])} and {iso_time(seen.lasts[p])}"
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
        or of a kind policy keeps off it) and not on a guest network: the
        ``unauthorised_device`` event, its id (one per device per school day) and its
        attribution (the device, never a person)."""
        mac = ev.client_mac
        if mac is None or not _MAC.match(mac):
            return None
        if ev.client_ip and allowed(ev.client_ip, self.guest_networks):
            return None  # the guest network: visitors' devices belong there
        device = self.devices_by_mac.get(mac)
        if device is not None and device.ownership not in self.unauthorised_kinds:
            return None
        seen = starts if starts > EARLIEST else ev.ts
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
            f"DHCP lease of {ev.client_ip} to {mac} at {iso_time(seen.timestamp())}; "
            f"maker {vendor}; {why}; an unauthorised device names no person"
        )
        eid = _eid(UNAUTHORISED, site_id, mac, day.isoformat())
        return eid, event, Attribution(None, device, reason, "device_only")
