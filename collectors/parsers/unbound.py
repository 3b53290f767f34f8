"""Unbound's ``log-queries`` and ``log-replies`` lines, from syslog or its own log file.

Unbound writes one of three heads before ``LEVEL: MESSAGE``:

- syslog: ``Mon DD HH:MM:SS host unbound: [PID:THREAD] info: ...`` (rsyslog may write an
  RFC 3339 time instead of ``Mon DD HH:MM:SS``);
- its own ``logfile:``: ``[1700000000] unbound[PID:THREAD] info: ...``, the number a Unix
  time, or ``Mon DD HH:MM:SS unbound[PID:THREAD]`` with ``log-time-ascii``, or an RFC 3339
  time with ``log-time-iso``.

The messages that record a client's query (LEVEL is ``info``, or ``query``/``reply`` with
``log-tag-queryreply``):

- ``log-queries``: ``CLIENT NAME TYPE CLASS``, written when the query arrives;
- ``log-replies``: ``CLIENT NAME TYPE CLASS RCODE SECONDS CACHED SIZE``, when it is answered;
- a local-zone answer (``log-local-actions``, or zones of type ``inform``):
  ``ZONE ZONETYPE CLIENT@PORT NAME TYPE CLASS``;
- an RPZ policy applied: ``rpz: applied [LIST] TRIGGER ACTION CLIENT@PORT NAME TYPE CLASS``
  (``RPZ applied ...`` in older versions).

Each query is one event however many of these lines it has. A line about a query the session
saw lately (same client, name and type, within a minute) updates that query's event instead of
making another: the reply gives the response code, the local zone or RPZ the verdict
(``blocked`` unless the action lets the query through). A reply or verdict with no query
before it (``log-queries`` off) is the event. Every other Unbound line (start-up, statistics,
notices, debug, validation) carries no event.
"""

from __future__ import annotations

import ipaddress
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from collectors.parsers.base import ParseContext, StatefulParser
from collectors.parsers.syslogtime import syslog_time
from collectors.parsers.urls import normalise_host
from monitord.core.model import SKIP, Event, EventKind, EventUpdate, Parsed, reject

# [1700000000] unbound[123:0] info: ...   (log file, Unix time)
_FILE_HEAD = re.compile(
    r"^\[(?P<epoch>\d{1,12})\] [\w.-]+\[\d+:[0-9a-fA-F]+\] "
    r"(?P<level>[a-z]+(?: [a-z]+)?): ?(?P<msg>.*)$"
)
# Mon DD HH:MM:SS host unbound: [123:0] info: ...   (syslog; or an RFC 3339 time)
# Mon DD HH:MM:SS unbound[123:0] info: ...         (log file with log-time-ascii or -iso)
_TEXT_HEAD = re.compile(
    r"^(?:<\d{1,3}>)?"
    r"(?:(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)"
    r"|(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)) "
    r"(?:\S+ )?[\w.-]+"
    r"(?:\[\d+:[0-9a-fA-F]+\] |(?:\[\d+\])?: \[\d+:[0-9a-fA-F]+\] )"
    r"(?P<level>[a-z]+(?: [a-z]+)?): ?(?P<msg>.*)$"
)
_CLASSES = frozenset({"IN", "CH", "HS", "NONE", "ANY"})
_TYPE = re.compile(r"^[A-Za-z0-9-]{1,16}$")
_QUERY_LEVELS = frozenset({"info", "query", "reply"})
_RCODE = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")
_SECONDS = re.compile(r"^\d+\.\d+$")

# A local zone's answer blocks the query for these types; the others (static, redirect,
# transparent, inform...) answer from local data that may well be legitimate.
_BLOCKING_ZONES = frozenset(
    {
        "deny",
        "refuse",
        "inform_deny",
        "always_refuse",
        "always_nxdomain",
        "always_null",
        "always_nodata",
        "always_deny",
    }
)
# RPZ actions that let the query through.
_PASSING_RPZ = frozenset(
    {"rpz-passthru", "rpz-tcp-only", "rpz-disabled", "rpz-invalid", "no-override"}
)

ACTION_MAX = 64  # the store's action and qtype columns
QTYPE_MAX = 16
QUERY = "query"
REPLY = "reply"
VERDICT = "verdict"


@dataclass(slots=True)
class Recent:
    """One event a session made, remembered so that later lines about its query find it."""

    key: tuple[str, str]
    qtype: str | None
    ts: datetime
    event_id: str | None
    followed: set[str] = field(default_factory=set)
    blocked: bool = False


class RecentQueries:
    """The events a session made lately, by (client, name), so that a later line about the
    same query (its reply, a filter's verdict) updates the event rather than making another.

    Each remembered event takes at most one later line of each kind, oldest first, so two
    identical queries answered in turn pair up with their own replies. Memory is bounded:
    events older than ``window`` before the newest, or beyond ``limit``, are forgotten.
    (The BIND parser uses it too.)
    """

    def __init__(self, window: timedelta = timedelta(seconds=60), limit: int = 4096) -> None:
        self.window = window
        self.limit = limit
        self._order: deque[Recent] = deque()
        self._by_key: dict[tuple[str, str], deque[Recent]] = {}

    def __len__(self) -> int:
        return len(self._order)

    def remember(
        self,
        client: str,
        domain: str,
        qtype: str | None,
        ts: datetime,
        event_id: str | None,
        *,
        followed: tuple[str, ...] = (),
        blocked: bool = False,
    ) -> None:
        seen = Recent((client, domain), qtype, ts, event_id, set(followed), blocked)
        self._order.append(seen)
        self._by_key.setdefault(seen.key, deque()).append(seen)
        horizon = ts - self.window
        while self._order and (len(self._order) > self.limit or self._order[0].ts < horizon):
            old = self._order.popleft()
            same = self._by_key[old.key]
            if same and same[0] is old:
                same.popleft()
            else:  # pragma: no cover - insertion order per key follows the global order
                same.remove(old)
            if not same:
                del self._by_key[old.key]

    def follow(
        self, kind: str, client: str, domain: str, qtype: str | None, ts: datetime
    ) -> Recent | None:
        """The oldest remembered event of this query not yet followed by a line of ``kind``,
        marked as followed; None when there is none within the window."""
        for seen in self._by_key.get((client, domain), ()):
            if kind in seen.followed:
                continue
            if qtype is not None and seen.qtype is not None and qtype != seen.qtype:
                continue
            if not (seen.ts - timedelta(seconds=1) <= ts <= seen.ts + self.window):
                continue
            seen.followed.add(kind)
            return seen
        return None


def _iso_time(text: str, tz: ZoneInfo) -> datetime | None:
    try:
        ts = datetime.fromisoformat(text)
        return (ts if ts.tzinfo is not None else ts.replace(tzinfo=tz)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class _Line:
    """What a line of client activity says, before the session decides what it makes."""

    kind: str  # QUERY, REPLY or VERDICT
    client: str
    domain: str
    qtype: str
    action: str | None = None
    blocked: bool = False


def _head(line: str, ctx: ParseContext) -> tuple[datetime, str, str] | Parsed:
    """The line's time, level and message, or what to return for it."""
    line = line.rstrip("\r\n")
    m = _FILE_HEAD.match(line)
    if m is not None:
        try:
            ts = datetime.fromtimestamp(int(m["epoch"]), UTC)
        except (OverflowError, OSError, ValueError):
            return reject(f"time {m['epoch'][:20]} is out of range")
        return ts, m["level"], m["msg"]
    m = _TEXT_HEAD.match(line)
    if m is None:
        return reject(
            "not an Unbound log line (expected '[UNIXTIME] unbound[PID:THREAD] LEVEL: ...' "
            "or 'Mon DD HH:MM:SS host unbound: [PID:THREAD] LEVEL: ...')"
        )
    if m["iso"] is not None:
        found = _iso_time(m["iso"], ctx.tz)
    else:
        found = syslog_time(m["mon"], int(m["day"]), m["hms"], ctx.tz, ctx.reference)
    if found is None:
        return reject(f"impossible date in {line[:32]!r}")
    return found, m["level"], m["msg"]


def _read(msg: str) -> _Line | None:
    """The client activity a message records, or None for any other message."""
    fields = msg.split()
    n = len(fields)
    if n == 4 and _is_query(fields):
        return _Line(QUERY, fields[0], fields[1], fields[2].upper())
    if (
        n >= 8
        and _is_query(fields[:4])
        and _RCODE.match(fields[4])
        and _SECONDS.match(fields[5])
        and fields[6] in ("0", "1")
        and fields[7].isdigit()
    ):
        rcode = fields[4]
        return _Line(REPLY, fields[0], fields[1], fields[2].upper(), rcode, rcode == "REFUSED")
    if n >= 6 and "@" in fields[-4]:
        client = fields[-4].rsplit("@", 1)[0]
        if not _is_query([client, *fields[-3:]]):
            return None
        name, qtype = fields[-3], fields[-2].upper()
        if msg.startswith(("rpz: applied ", "RPZ applied ")):
            # new: ``rpz: applied [LIST] TRIGGER ACTION``; old: ``RPZ applied ZONE ZONETYPE``
            verdict = fields[-5]
            listed = re.search(r"\[([^\]]*)\]", msg)
            action = f"{verdict} [{listed[1]}]" if listed else verdict
            if msg.startswith("RPZ"):
                blocked = verdict in _BLOCKING_ZONES
            else:
                blocked = verdict not in _PASSING_RPZ
            return _Line(VERDICT, client, name, qtype, action[:ACTION_MAX], blocked)
        if n == 6:
            zone, zone_type = fields[0], fields[1]
            return _Line(
                VERDICT,
                client,
                name,
                qtype,
                f"local-zone {zone_type} {normalise_host(zone) or '.'}"[:ACTION_MAX],
                zone_type in _BLOCKING_ZONES,
            )
    return None


def _is_query(fields: list[str]) -> bool:
    """``CLIENT NAME TYPE CLASS``, as Unbound writes a query."""
    client, name, qtype, qclass = fields
    return (
        _is_ip(client)
        and name.endswith(".")
        and bool(_TYPE.match(qtype))
        and (qclass in _CLASSES or qclass.startswith("CLASS"))
    )


class UnboundSession:
    """One file's lines: remembers recent events so a reply or verdict enriches its query."""

    def __init__(self) -> None:
        self.recent = RecentQueries()

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        head = _head(line, ctx)
        if isinstance(head, Parsed):
            return head
        ts, level, msg = head
        if level not in _QUERY_LEVELS:
            return SKIP
        seen = _read(msg)
        if seen is None:
            return SKIP
        domain = normalise_host(seen.domain)
        if domain is None:
            return SKIP  # a query for the root names no site
        if seen.kind != QUERY:
            earlier = self.recent.follow(seen.kind, seen.client, domain, seen.qtype, ts)
            if earlier is not None:
                return self._enrich(earlier, seen)
        event_id = ctx.origin.event_id(0) if ctx.origin is not None else None
        self.recent.remember(
            seen.client,
            domain,
            seen.qtype,
            ts,
            event_id,
            followed=() if seen.kind == QUERY else (seen.kind,),
            blocked=seen.blocked,
        )
        return Parsed(
            events=(
                Event(
                    kind=EventKind.DNS,
                    ts=ts,
                    client_ip=seen.client,
                    domain=domain,
                    qtype=seen.qtype,
                    action=seen.action,
                    blocked=seen.blocked,
                ),
            )
        )

    @staticmethod
    def _enrich(earlier: Recent, seen: _Line) -> Parsed:
        if earlier.event_id is None:
            return SKIP  # outside the pipeline there is no event id to update
        if seen.kind == REPLY and earlier.blocked:
            return SKIP  # the filter's verdict says more than the response code
        earlier.blocked = earlier.blocked or seen.blocked
        update = EventUpdate(
            earlier.event_id, blocked=True if seen.blocked else None, action=seen.action
        )
        return Parsed(updates=(update,))


PARSER = StatefulParser("unbound", UnboundSession)
