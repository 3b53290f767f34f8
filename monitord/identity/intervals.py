"""The time-bound facts identity resolves by, kept compact: bindings of an address (leases,
reservations, agents' addresses) as sorted intervals in one array of doubles with their
running reach, logon sessions per device, and proxy users seen per address."""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitord.core.model import Device, Person

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
INF = float("inf")
DAY = 86400.0


# A session's person that only the full path can name (a shared supply login): compared by
# identity, never shown.
FULL_PATH = Person("", "", "")


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
        return EARLIEST, None
    return end - lease_time, end


def iso_time(t: float) -> str:
    if t == INF:
        return "no expiry"
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def record_code(ident: str) -> int:
    """A record id as a 48-bit number: the first 12 hex digits of our blake2b ids (what the
    reason shows), or a hash of any other id. Eight bytes a binding instead of a string."""
    head = ident[:12]
    try:
        return int(head, 16) if len(head) == 12 else hashed_code(ident)
    except ValueError:
        return hashed_code(ident)


def hashed_code(ident: str) -> int:
    return int.from_bytes(hashlib.blake2b(ident.encode(), digest_size=6).digest(), "big")


class Intervals:
    """One address's bindings, sorted by start, in one array of doubles laid out as
    ``[starts | ends | reach | slots | codes]`` (n of each): a lookup reads one object and
    one buffer, where five arrays would cost a cache miss each. ``reach[i]`` is the largest
    end up to ``i`` (a miss costs one comparison), ``slots`` name what the address was bound
    to (see ``Identity._slot_key``), ``codes`` the lease, reservation or logon behind it
    (48-bit numbers, exact in a double)."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = array("d")

    def __len__(self) -> int:
        return len(self.data) // 5

    def start(self, i: int) -> float:
        return self.data[i]

    def end(self, i: int) -> float:
        return self.data[len(self.data) // 5 + i]

    def slot(self, i: int) -> int:
        return int(self.data[3 * (len(self.data) // 5) + i])

    def code(self, i: int) -> int:
        return int(self.data[4 * (len(self.data) // 5) + i])

    def _fix_reach(self, i: int) -> None:
        d = self.data
        n = len(d) // 5
        top = d[2 * n + i - 1] if i else -INF
        for j in range(i, n):
            top = max(top, d[n + j])
            if d[2 * n + j] == top and j > i:
                return
            d[2 * n + j] = top

    def add(self, start: float, end: float, slot: int, code: int) -> None:
        d = self.data
        n = len(d) // 5
        i = bisect_right(d, start, 0, n)
        if i and int(d[3 * n + i - 1]) == slot and d[n + i - 1] >= start:
            # A renewal (or the same lease read again): the binding goes on.
            if end > d[n + i - 1]:
                d[n + i - 1] = end
                self._fix_reach(i - 1)
            return
        # From the last region back, so that each insert lands before the ones made.
        d.insert(4 * n + i, float(code))
        d.insert(3 * n + i, float(slot))
        d.insert(2 * n + i, end)
        d.insert(n + i, end)
        d.insert(i, start)
        self._fix_reach(i)

    def at(self, t: float) -> int:
        """The index of the latest-starting binding that covers ``t``, or -1."""
        d = self.data
        n = len(d) // 5
        i = bisect_right(d, t, 0, n) - 1
        while i >= 0:
            if d[2 * n + i] < t:
                return -1
            if d[n + i] >= t:
                return i
            i -= 1
        return -1

    def slots_kept(self, before: float) -> set[int]:
        n = len(self)
        return {self.slot(i) for i in range(n) if self.end(i) >= before}

    def prune(self, before: float, remap: dict[int, int]) -> None:
        n = len(self)
        keep = [i for i in range(n) if self.end(i) >= before]
        rows = [(self.start(i), self.end(i), remap[self.slot(i)], self.code(i)) for i in keep]
        self.data = array("d")
        for start, end, slot, code in rows:
            self.add(start, end, slot, code)


# What a lookup answers: (device, person, how).
Answer = tuple[Device | None, Person | None, str]


class Sessions:
    """One device's logons, sorted by time, each with its end worked out when it is added
    (the first logoff of its user, or an unnamed one, after it, else the end of that school
    day), so that a lookup is one binary search in ``times`` (``[starts | ends]``). A later
    logon ends a session implicitly: the latest logon before a time is the one that counts."""

    __slots__ = ("codes", "off", "off_users", "persons", "times", "users")

    def __init__(self) -> None:
        self.times = array("d")
        self.codes = array("q")
        self.users: list[str] = []
        # Each session's person (None: not on the roster), or FULL_PATH for a shared supply
        # login, whose check-in may name someone else: the lookup takes the full path.
        self.persons: list[Person | None] = []
        self.off = array("d")
        self.off_users: list[str | None] = []

    def start(self, i: int) -> float:
        return self.times[i]

    def logon(self, t: float, day_end: float, user: str, code: int, person: Person | None) -> None:
        d = self.times
        n = len(d) // 2
        i = bisect_right(d, t, 0, n)
        if i and d[i - 1] == t and self.users[i - 1] == user:
            return  # the same logon read again
        end = day_end
        off, off_users = self.off, self.off_users
        j = bisect_right(off, t)  # a logoff already known (reports read out of order)
        while j < len(off) and off[j] < end:
            if off_users[j] is None or off_users[j] == user:
                end = off[j]
                break
            j += 1
        d.insert(n + i, end)
        d.insert(i, t)
        self.codes.insert(i, code)
        self.users.insert(i, user)
        self.persons.insert(i, person)

    def logoff(self, t: float, user: str | None) -> None:
        j = bisect_right(self.off, t)
        if j and self.off[j - 1] == t and self.off_users[j - 1] == user:
            return
        self.off.insert(j, t)
        self.off_users.insert(j, user)
        d = self.times
        n = len(d) // 2
        i = bisect_left(d, t, 0, n) - 1  # the latest logon before it
        if i >= 0 and (user is None or self.users[i] == user) and t < d[n + i]:
            d[n + i] = t

    def at(self, t: float) -> int:
        """The session open at ``t``, or -1."""
        d = self.times
        n = len(d) // 2
        i = bisect_right(d, t, 0, n) - 1
        return i if i >= 0 and t < d[n + i] else -1

    def prune(self, before: float) -> None:
        d = self.times
        n = len(d) // 2
        keep = [i for i in range(n) if d[n + i] >= before]
        self.times = array("d", [*(d[i] for i in keep), *(d[n + i] for i in keep)])
        self.codes = array("q", (self.codes[i] for i in keep))
        self.users = [self.users[i] for i in keep]
        self.persons = [self.persons[i] for i in keep]
        offs = [j for j in range(len(self.off)) if self.off[j] >= before]
        self.off = array("d", (self.off[j] for j in offs))
        self.off_users = [self.off_users[j] for j in offs]

    def __len__(self) -> int:
        return len(self.times) // 2 + len(self.off)


class Sightings:
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
