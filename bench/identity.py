"""Identity resolution speed and memory: (address, time) -> device -> person, in memory.

    .venv/bin/python bench/identity.py [--devices 10000] [--days 30] [--queries 1000000]

Builds the identity layer's history as a school of ``--devices`` devices makes it over
``--days`` school days: every device leases an address each morning from a pool a little
larger than the school (so addresses pass from device to device across days), renews it
every half hour, and one in ten moves to another address at lunch; shared laptops and suite
PCs carry three agent logons a day with their logoffs. Then it resolves ``--queries``
lookups at random school-day times on random addresses of the pool (some match no lease)
and prints lookups per second for the bare lookup (device, person, how) and for the full
attribution with its reason, the memory the history takes (every object the identity
layer's history holds, measured with sys.getsizeof), and the memory after twice as many days
with the default 35-day history (bounded). Rates are per second of this process's CPU time,
the best of five rounds, so that other work on the machine counts against them as little
as it can.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitord.core.model import Device, Event, EventKind, Person
from monitord.identity.intervals import Binding
from monitord.identity.resolve import Identity

LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday
ROUNDS = 5  # timed rounds over the same queries: the best is the least disturbed


def school(n_devices: int) -> tuple[dict[str, Person], dict[str, Device]]:
    people: dict[str, Person] = {}
    devices: dict[str, Device] = {}
    for i in range(n_devices):
        mac = f"02:00:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
        kind = i % 10
        if kind < 6:  # a pupil's or teacher's own laptop
            user = f"user{i:05d}"
            people[user] = Person(user, f"User {i}", "pupil" if kind < 5 else "staff", "6")
            devices[f"D{i}"] = Device(f"D{i}", mac, f"d{i}", "school_single", user)
        else:  # shared laptops, iPads and suite PCs
            devices[f"D{i}"] = Device(f"D{i}", mac, f"d{i}", "school_shared", location="ICT")
    for j in range(n_devices):  # pupils who log on to shared devices
        people.setdefault(f"pupil{j:05d}", Person(f"pupil{j:05d}", f"Pupil {j}", "pupil", "5"))
    return people, devices


def school_days(days: int) -> list[datetime]:
    out: list[datetime] = []
    day = START
    while len(out) < days:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def pool_ip(n: int) -> str:
    return f"10.{20 + n // 65536}.{n // 256 % 256}.{n % 256}"


def fill(ident: Identity, devices: list[Device], days: list[datetime], rng: random.Random) -> int:
    """A term of leases and logons; returns how many bindings and sessions were added."""
    pool = int(len(devices) * 1.3)
    added = 0
    for day in days:
        morning = day + timedelta(hours=7, minutes=30)
        addresses = rng.sample(range(pool), len(devices))
        for n, device in enumerate(devices):
            assert device.mac is not None
            ip = pool_ip(addresses[n])
            moves = n % 10 == 0
            until = day + timedelta(hours=12) if moves else day + timedelta(hours=16)
            t = morning + timedelta(seconds=rng.randrange(1800))
            while t < until:  # a renewal every half hour: one binding
                ident.add_binding(
                    ip, Binding(t, t + timedelta(hours=1), device.mac, None, f"{added:032x}")
                )
                added += 1
                t += timedelta(minutes=30)
            if moves:  # after lunch, another address
                ip2 = pool_ip((addresses[n] + len(devices)) % pool)
                t = day + timedelta(hours=12, minutes=30)
                ident.add_binding(
                    ip2, Binding(t, t + timedelta(hours=4), device.mac, None, f"{added:032x}")
                )
                added += 1
            if device.ownership == "school_shared":
                for lesson in range(3):
                    on = day + timedelta(hours=9 + 2 * lesson)
                    user = f"pupil{rng.randrange(len(devices)):05d}"
                    mac, host = device.mac, device.hostname
                    ident.add_session_event(
                        Event(EventKind.LOGON, on, client_mac=mac, hostname=host, user=user),
                        f"{added:032x}",
                    )
                    off = on + timedelta(minutes=90)
                    ident.add_session_event(
                        Event(EventKind.LOGOFF, off, client_mac=mac, hostname=host, user=user),
                        f"{added:032x}",
                    )
                    added += 2
    return added


def queries(days: list[datetime], pool: int, n: int, rng: random.Random) -> list[Event]:
    out = []
    for _ in range(n):
        day = rng.choice(days)
        ts = day + timedelta(hours=8, seconds=rng.randrange(8 * 3600))
        out.append(Event(kind=EventKind.DNS, ts=ts, client_ip=pool_ip(rng.randrange(pool))))
    return out


def deep_size(ident: Identity) -> int:
    """Bytes held by the history: the tables, their entries, arrays, lists and the objects in
    them (shared strings counted once)."""
    seen: set[int] = set()

    def size(obj: object) -> int:
        if id(obj) in seen:
            return 0
        seen.add(id(obj))
        total = sys.getsizeof(obj)
        if isinstance(obj, dict):
            total += sum(size(k) + size(v) for k, v in obj.items())
        elif isinstance(obj, list | tuple):
            total += sum(size(v) for v in obj)
        elif hasattr(obj, "__slots__"):
            total += sum(size(getattr(obj, name)) for name in obj.__slots__)
        return total

    tables: Iterable[object] = (
        ident._leases,
        ident._reserved,
        ident._agent_ips,
        ident._sessions,
        ident._proxy,
    )
    return sum(size(t) for t in tables)


def rate(label: str, n: int, seconds: float) -> float:
    per_second = n / seconds
    print(f"{label:<44} {n:>9,} in {seconds:6.2f} s = {per_second:>10,.0f}/s")
    return per_second


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--queries", type=int, default=1_000_000)
    args = ap.parse_args()
    rng = random.Random(4)
    people, devices = school(args.devices)
    days = school_days(args.days)
    listed = list(devices.values())
    pool = int(len(listed) * 1.3)

    ident = Identity(people, devices, timedelta(hours=1), tz=LONDON)
    started = time.process_time()
    added = fill(ident, listed, days, rng)
    built = time.process_time() - started
    history = deep_size(ident)
    bindings = sum(len(e) for e in ident._leases.values())
    sessions = sum(len(s.times) // 2 for s in ident._sessions.values())
    print(
        f"{args.devices:,} devices, {len(days)} school days: {added:,} leases, renewals and "
        f"logons added in {built:.1f} s"
    )
    print(
        f"  kept: {bindings:,} bindings on {len(ident._leases):,} addresses (renewals merged), "
        f"{sessions:,} logon sessions"
    )
    print(
        f"  memory for the history: {history / 2**20:.1f} MiB "
        f"({history / max(bindings + sessions, 1):.0f} bytes per binding or session)"
    )

    events = queries(days, pool, args.queries, rng)
    stamps = [(ev.client_ip or "", ev.ts) for ev in events]
    lookup = ident.lookup
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for ip, ts in stamps:
            lookup(ip, ts)
        rounds.append(time.process_time() - started)
    bare = rate("lookups (address, time) -> device, person", len(stamps), min(rounds))
    print(f"  best of {ROUNDS} rounds; median {len(stamps) / statistics.median(rounds):,.0f}/s")
    found = sum(lookup(ip, ts)[0] is not None for ip, ts in stamps[:100_000])
    print(f"  {found / min(len(stamps), 100_000):.0%} of lookups found a device")
    resolve = ident.resolve
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for ev in events:
            resolve(ev)
        rounds.append(time.process_time() - started)
    full = rate("attributions with their reason (resolve)", len(events), min(rounds))
    print(f"  best of {ROUNDS} rounds; median {len(events) / statistics.median(rounds):,.0f}/s")

    # Bounded: another term with the default 35-day history keeps about as much as one.
    more = [d + timedelta(days=7 * ((len(days) + 4) // 5 + 1)) for d in days]
    del ident, events, stamps
    ident2 = Identity(people, devices, timedelta(hours=1), tz=LONDON)
    fill(ident2, listed, days + more, random.Random(5))
    twice = deep_size(ident2)
    kept = sum(len(e) for e in ident2._leases.values())
    print(
        f"{2 * len(days)} school days with a 35-day history: {kept:,} bindings kept, "
        f"{twice / 2**20:.1f} MiB (bounded)"
    )
    target = 500_000
    verdict = "met" if bare >= target else "NOT met"
    print(f"target {target:,} resolutions/s: {verdict} (bare {bare:,.0f}/s, full {full:,.0f}/s)")


if __name__ == "__main__":
    main()
