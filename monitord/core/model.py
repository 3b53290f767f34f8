"""The records that cross module boundaries: raw records, events, matches and decisions.

Every one of them is a frozen dataclass so that a stage can hand it on without fear that a
later stage changes what an earlier one saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from monitord.core.frozen import quick_init


class EventKind(StrEnum):
    """What an event records."""

    DNS = "dns"
    HTTP = "http"
    TLS = "tls"
    LEASE = "lease"
    SEARCH = "search"
    TEXT = "text"
    PROCESS = "process"
    LOGON = "logon"
    LOGOFF = "logoff"
    DEVICE = "device"
    HEALTH = "health"
    SCREENSHOT = "screenshot"  # an agent's screenshot; text is its SHA-256


class Severity(StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.NONE: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


@quick_init
@dataclass(frozen=True, slots=True)
class Origin:
    """Where a raw record came from, exactly enough to find its bytes again.

    ``file_id`` identifies the file by content (a hash of its first line, or of its ``#``
    header lines through the first that is not one: ``collectors.files.read_head``) so that
    the same log read live, then backfilled from its rotated ``.gz`` copy, gives the same
    origin.
    ``offset`` is the byte offset of the record in the uncompressed stream, or a packet index.

    A record's events are identified by what was read, never by the name of the source that
    read it: the same line read by two sources, or followed and then backfilled under another
    name, is one event. ``scope`` is what else goes into the id: nothing for a record of a
    file (its content identifies it), the source for a record that has no file of its own (a
    monitoring gap), the school in a store that several share (see ``monitord.store.origins``).
    ``content`` is a digest of the record's bytes: two different records at one offset of
    files that begin alike are two events, the same record read again is one.
    """

    source: str
    file_id: str
    offset: int
    path: str = ""
    scope: str = ""
    content: str = ""

    def event_id(self, index: int = 0) -> str:
        """A deterministic id for the ``index``-th event made from this record."""
        key = f"{self.scope}\x1f{self.file_id}\x1f{self.offset}\x1f{index}"
        if self.content:
            key += f"\x1f{self.content}"
        return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def content_digest(data: bytes) -> str:
    """What an ``Origin`` holds as ``content`` for a record of these bytes."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """How far a source has read: committed with the events it covers."""

    source: str
    path: str
    file_id: str
    inode: int
    offset: int


@quick_init
@dataclass(frozen=True, slots=True)
class RawRecord:
    """One line (or packet, or report) as read, with its origin."""

    origin: Origin
    data: bytes
    read_at: datetime
    file_mtime: datetime | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Event:
    """Something a person or device did, as a parser understood it.

    Times are timezone-aware UTC. ``domain`` is lower case without a trailing dot.
    """

    kind: EventKind
    ts: datetime
    client_ip: str | None = None
    client_mac: str | None = None
    user: str | None = None
    domain: str | None = None
    url: str | None = None
    method: str | None = None
    qtype: str | None = None
    action: str | None = None
    blocked: bool = False
    status: int | None = None
    size: int | None = None
    hostname: str | None = None
    text: str | None = None
    lease_end: datetime | None = None
    # When the lease began, for a LEASE event whose source knows it (dhcpd); None: the
    # identity layer takes it as the end less the configured lease time.
    lease_start: datetime | None = None
    category: str | None = None  # set when the record itself says what it is (a health check)
    # The school's own filter's category for it, in the filter's words (a FortiGate's
    # catdesc, Umbrella's categories), kept beside monitord's; ``blocked`` and ``action``
    # hold the filter's verdict.
    filter_category: str | None = None
    agent: str | None = None  # the endpoint agent whose report this is
    # An agent report's kind (search, typed_text, window_title) and the app it names, which
    # the text engine uses to tell typing from titles and to keep one conversation per app.
    report: str | None = None
    app: str | None = None
    # A syslog event: the host its envelope named, and when monitord received it (a listener).
    sender: str | None = None
    received_at: datetime | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class EventUpdate:
    """A later line that adds to an event already made: the filter blocked the query, or
    the reply named the answer. ``event_id`` is the earlier event's id."""

    event_id: str
    blocked: bool | None = None
    action: str | None = None
    filter_category: str | None = None


def content_event_id(scope: str, ev: Event) -> str:
    """The id of an event from a snapshot file (a leases file, rewritten whole on each
    change): the same lease read again is the same event wherever it stands in the file, and
    a changed one is a new event. ``scope``: the record's ``Origin.scope``."""
    key = "\x1f".join(
        str(v)
        for v in (
            scope,
            ev.kind,
            ev.ts.isoformat(),
            ev.client_ip,
            ev.client_mac,
            ev.hostname,
            ev.lease_start,
            ev.lease_end,
        )
    )
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


@quick_init
@dataclass(frozen=True, slots=True)
class Parsed:
    """What a parser made of one raw record.

    No events, no updates and no ``rejected`` reason means the record is a known line that
    carries no event (a header, a statistics line, a reply that follows its query).
    """

    events: tuple[Event, ...] = ()
    rejected: str | None = None
    updates: tuple[EventUpdate, ...] = ()
    # A line passed over for want of a parser, counted per source under this name (a syslog
    # line from a program monitord does not read).
    passed_over: str | None = None


SKIP = Parsed()


def reject(reason: str) -> Parsed:
    return Parsed(rejected=reason)


@dataclass(frozen=True, slots=True)
class Person:
    username: str
    display_name: str
    role: str
    year_group: str | None = None
    class_name: str | None = None
    email: str | None = None

    @property
    def initials(self) -> str:
        parts = [p for p in self.display_name.replace(",", " ").split() if p]
        return "".join(p[0].upper() for p in parts) or self.username[:2].upper()


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    mac: str | None
    hostname: str | None
    ownership: str
    assigned_to: str | None = None
    ip: str | None = None  # a reserved (static) address
    location: str | None = None  # where a shared device lives (a classroom, the ICT suite)


@quick_init
@dataclass(frozen=True, slots=True)
class Attribution:
    """Who and what was behind an event, and why monitord believes it.

    ``how`` names the rule that found the person: ``user_in_record``, ``logon_session``,
    ``proxy_user``, ``assigned_device`` or ``supply_checkin``; with no person,
    ``device_only`` or ``unattributed``. ``reason`` says it in words, with the evidence."""

    person: Person | None = None
    device: Device | None = None
    reason: str = "unattributed"
    how: str = "unattributed"


@quick_init
@dataclass(frozen=True, slots=True)
class Match:
    """One reason an event falls in a category: the list, the entry and the score."""

    category: str
    list_name: str
    entry: str
    score: int = 0
    allow: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class Decision:
    """What policy says about an event: how serious, and who must hear of it."""

    category: str
    severity: Severity
    rule: str
    recipients: tuple[str, ...] = ()
    roles_notified: tuple[str, ...] = ()
    exempt: bool = False

    @property
    def weighty(self) -> bool:
        """Whether it does more than label its event: opens or grows an alert (medium and
        above) or is an exemption, which the audit trail records."""
        return self.exempt or self.severity.rank >= Severity.MEDIUM.rank


@quick_init
@dataclass(frozen=True, slots=True)
class Judged:
    """An event with everything the pipeline worked out about it."""

    event_id: str
    origin: Origin
    raw: bytes
    event: Event
    fmt: str
    attribution: Attribution
    matches: tuple[Match, ...] = ()
    decisions: tuple[Decision, ...] = field(default_factory=tuple)

    @property
    def top(self) -> Decision | None:
        """The most severe decision, or None."""
        if not self.decisions:
            return None
        return max(self.decisions, key=lambda d: d.severity.rank)
