"""BIND 9 (named) logs: the query log and the lines about a client's query that follow it.

A line is a head and a message. The head is any of

- a file channel's ``DD-Mon-YYYY HH:MM:SS.mmm`` (or, with ``print-time iso8601``,
  ``YYYY-MM-DDTHH:MM:SS.mmm[Z]``);
- syslog's ``[<PRI>]Mon DD HH:MM:SS host named[PID]:`` (or an RFC 3339 time), or an RFC 5424
  envelope (``<PRI>1 TIME HOST named PID - - ``), possibly followed by named's own
  file-channel time, which is then the one used (it has the year);
- none at all (journald's ``host named[PID]:`` or a bare message): the line is then placed at
  the time the file was written;

then optionally ``category: severity: ``. Times without a zone are in the school's zone.

Messages that make or change an event, all starting
``client [@0xADDR] IP#PORT [(NAME)]: [view VIEW: ]``:

- ``query: NAME CLASS TYPE FLAGS (SERVER)``: the query log, one event per query;
- ``query [(cache)] 'NAME/TYPE/CLASS' denied``: a refused query, blocked;
- ``rpz TRIGGER POLICY rewrite NAME[/TYPE/CLASS] via ...``: a response-policy zone rewrote
  the answer, blocked unless the policy is PASSTHRU;
- Infoblox NIOS's response log ``IP#PORT UDP: query: NAME CLASS TYPE response: RCODE ...``
  (blocked when REFUSED), and its CEF RPZ line (``CEF:0|Infoblox|NIOS|...|RPZ-...``).

When the query log is on, the lines after a query are about the query already made: a denial,
RPZ rewrite or response within a minute of the same client's query for the same name and type
updates that query's event instead of making another. A query for the root (``.``) names no
site and is skipped. Every other named line (zone transfers, notifies, dynamic updates,
query errors, resolver and DNSSEC messages, start-up) carries no event.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from collectors.parsers.base import ParseContext, StatefulParser
from collectors.parsers.envelope import BadEnvelope, parse_envelope
from collectors.parsers.syslogtime import MONTHS, syslog_time
from collectors.parsers.unbound import ACTION_MAX, QTYPE_MAX, RecentQueries
from collectors.parsers.urls import normalise_host
from monitord.core.model import SKIP, Event, EventKind, EventUpdate, Parsed, reject

_PRI = re.compile(r"^<\d{1,3}>")
_RFC5424 = re.compile(r"^<\d{1,3}>1 ")
_SYSLOG_TIME = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d) ")
# named's file channel: 19-Oct-2022 05:34:02.425
_FILE_TIME = re.compile(
    r"^(?P<day>\d{1,2})-(?P<mon>[A-Za-z]{3})-(?P<year>\d{4}) "
    r"(?P<hms>\d\d:\d\d:\d\d)(?:\.(?P<ms>\d{1,6}))? "
)
# named's print-time iso8601 / iso8601-utc: milliseconds, then Z or nothing.
_BIND_ISO = re.compile(r"^(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z?) ")
# syslog's RFC 3339 time (rsyslog high precision), with its offset.
_RFC3339 = re.compile(
    r"^(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)) "
)
_PROGRAM = re.compile(r"^(?:\S+ )?named(?:-[\w.-]+)?(?:\[\d+\])?: ")
_PREFIX = re.compile(r"^(?P<word>[a-z][a-z0-9_-]*(?: \d+)?): ")
_SEVERITY = re.compile(r"^(?:critical|error|warning|notice|info|dynamic|debug(?: \d+)?)$")
_CATEGORIES = frozenset(
    {
        "client",
        "cname",
        "config",
        "database",
        "default",
        "delegation-only",
        "dispatch",
        "dnssec",
        "dnstap",
        "edns-disabled",
        "general",
        "lame-servers",
        "network",
        "notify",
        "nsid",
        "queries",
        "query-errors",
        "rate-limit",
        "resolver",
        "responses",  # Infoblox NIOS
        "rpz",
        "rpz-passthru",
        "security",
        "serve-stale",
        "spill",
        "sslkeylog",
        "trust-anchor-telemetry",
        "unmatched",
        "update",
        "update-security",
        "xfer-in",
        "xfer-out",
        "zoneload",
    }
)
_CLIENT = re.compile(
    r"^client (?:@0x[0-9A-Fa-f]+ )?(?P<ip>[0-9A-Fa-f:.]+(?:%[\w.-]+)?)#\d+"
    r"(?: \((?:\\.|[^)\\])*\))?"
    r"(?:: view (?P<view>[^:]*))?"
    r"(?:: | (?:UDP|TCP): )(?P<rest>.*)$"
)
_QUERY = re.compile(
    r"^query: (?P<name>\S+) (?P<cls>[A-Z][A-Z0-9]*) (?P<qtype>[A-Za-z0-9-]+)(?: (?P<tail>.*))?$"
)
_RESPONSE = re.compile(r"^response: (?P<rcode>[A-Z][A-Z0-9]*)\b")
_DENIED = re.compile(r"^query(?: \(cache\))? '(?P<what>[^']+)' denied\b")
_RPZ = re.compile(
    r"^rpz (?P<trigger>[A-Za-z-]+) (?P<policy>\S+) rewrite (?P<what>\S+)(?: \[[^\]]*\])? via "
)
_CEF = re.compile(r"^CEF:\d+\|Infoblox\|NIOS\|[^|]*\|RPZ-[^|]*\|[^|]*\|[^|]*\|(?P<ext>.*)$")
_CEF_SRC = re.compile(r"(?:^| )src=(?P<src>\S+)")
_CEF_QTYPE = re.compile(r"(?:^| )qtype=(?P<qtype>\S+)")
_CEF_MSG = re.compile(
    r'msg="rpz (?P<trigger>\S+) (?P<policy>\S+) rewrite (?P<name>\S+) \[(?P<qtype>[^\]]+)\] via'
)

QUERY = "query"
DENIED = "denied"
RPZ = "rpz"
RESPONSE = "response"


def _utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC) if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _iso_time(text: str, tz: ZoneInfo) -> datetime | None:
    try:
        ts = datetime.fromisoformat(text)
        return (ts if ts.tzinfo is not None else ts.replace(tzinfo=tz)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _file_time(m: re.Match[str], tz: ZoneInfo) -> datetime | None:
    mon = MONTHS.get(m["mon"].lower())
    if mon is None:
        return None
    try:
        hh, mm, ss = (int(x) for x in m["hms"].split(":"))
        micro = int((m["ms"] or "0").ljust(6, "0"))
        local = datetime(int(m["year"]), mon, int(m["day"]), hh, mm, ss, micro, tzinfo=tz)
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _head(line: str, ctx: ParseContext) -> tuple[datetime | None, str] | Parsed:
    """The line's time (None when none is written) and the message after the category and
    severity; a rejection when the head is not named's."""
    rest = line.rstrip("\r\n")
    ts: datetime | None = None
    named = False
    bad_time = False
    if _RFC5424.match(rest):
        try:
            env = parse_envelope(rest, ctx.tz, ctx.reference)
        except BadEnvelope as exc:
            return reject(f"syslog envelope: {exc}")
        # As named's own program line below: the message, and named's time in it if any.
        rest = f"named: {env.message}" if (env.app or "").startswith("named") else env.message
        ts = env.timestamp
    elif m := _PRI.match(rest):
        rest = rest[m.end() :]
    if ts is not None:
        pass  # the RFC 5424 envelope's time (named's own, when written, is read below)
    elif m := _SYSLOG_TIME.match(rest):
        ts = syslog_time(m["mon"], int(m["day"]), m["hms"], ctx.tz, ctx.reference)
        bad_time = ts is None
        rest = rest[m.end() :]
    elif m := _FILE_TIME.match(rest):
        ts = _file_time(m, ctx.tz)
        bad_time = ts is None
        named = True
        rest = rest[m.end() :]
    elif m := _BIND_ISO.match(rest):
        ts = _iso_time(m["iso"], ctx.tz)
        bad_time = ts is None
        named = True
        rest = rest[m.end() :]
    elif m := _RFC3339.match(rest):
        ts = _iso_time(m["iso"], ctx.tz)
        bad_time = ts is None
        rest = rest[m.end() :]
    if m := _PROGRAM.match(rest):
        named = True
        rest = rest[m.end() :]
        # named's own time inside the syslog line: it has the year, so it is the one used.
        if inner := _FILE_TIME.match(rest):
            ts = _file_time(inner, ctx.tz)
            bad_time = ts is None
            rest = rest[inner.end() :]
        elif inner := _BIND_ISO.match(rest):
            ts = _iso_time(inner["iso"], ctx.tz)
            bad_time = ts is None
            rest = rest[inner.end() :]
    for _ in range(2):
        p = _PREFIX.match(rest)
        if p is None or not (p["word"] in _CATEGORIES or _SEVERITY.match(p["word"])):
            break
        named = True
        rest = rest[p.end() :]
    if not named and not rest.startswith("client "):
        return reject(
            "not a BIND (named) log line (expected 'DD-Mon-YYYY HH:MM:SS.mmm [category: "
            "severity: ]client ...' or 'Mon DD HH:MM:SS host named[PID]: ...')"
        )
    if bad_time:
        return reject(f"impossible date in {line[:40]!r}")
    return ts, rest


def _name_type(what: str) -> tuple[str, str | None]:
    """``example.com/A/IN`` to (name, type); a bare name has no type."""
    parts = what.rsplit("/", 2)
    if len(parts) == 3:
        return parts[0], parts[1].upper()
    return what, None


class BindSession:
    """One file's lines: remembers recent events so that what follows a query updates it."""

    def __init__(self) -> None:
        self.recent = RecentQueries()

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        head = _head(line, ctx)
        if isinstance(head, Parsed):
            return head
        ts, msg = head
        when = _utc(ts if ts is not None else ctx.reference)
        client = _CLIENT.match(msg)
        if client is None:
            cef = _CEF.match(msg)
            if cef is None:
                return SKIP
            return self._cef(cef["ext"], when, ctx)
        ip, rest = client["ip"], client["rest"]
        if q := _QUERY.match(rest):
            tail = q["tail"] or ""
            if r := _RESPONSE.match(tail):
                rcode = r["rcode"]
                return self._seen(
                    RESPONSE,
                    ip,
                    q["name"],
                    q["qtype"].upper(),
                    when,
                    rcode,
                    rcode == "REFUSED",
                    ctx,
                )
            return self._seen(QUERY, ip, q["name"], q["qtype"].upper(), when, None, False, ctx)
        if d := _DENIED.match(rest):
            name, qtype = _name_type(d["what"])
            return self._seen(DENIED, ip, name, qtype, when, "denied", True, ctx)
        if r := _RPZ.match(rest):
            name, qtype = _name_type(r["what"])
            policy = r["policy"]
            blocked = policy.upper() != "PASSTHRU"
            action = f"rpz {r['trigger']} {policy}"
            return self._seen(RPZ, ip, name, qtype, when, action, blocked, ctx)
        return SKIP

    def _cef(self, ext: str, when: datetime, ctx: ParseContext) -> Parsed:
        src, msg = _CEF_SRC.search(ext), _CEF_MSG.search(ext)
        if src is None or msg is None:
            return SKIP
        qtype_field = _CEF_QTYPE.search(ext)
        qtype = (qtype_field["qtype"] if qtype_field else msg["qtype"]).upper()
        policy = msg["policy"]
        action = f"rpz {msg['trigger']} {policy}"
        blocked = policy.upper() != "PASSTHRU"
        return self._seen(RPZ, src["src"], msg["name"], qtype, when, action, blocked, ctx)

    def _seen(
        self,
        kind: str,
        client: str,
        name: str,
        qtype: str | None,
        ts: datetime,
        action: str | None,
        blocked: bool,
        ctx: ParseContext,
    ) -> Parsed:
        domain = normalise_host(name)
        if domain is None:
            return SKIP  # a query for the root names no site
        action = action[:ACTION_MAX] if action else None
        qtype = qtype[:QTYPE_MAX] if qtype else None
        if kind != QUERY:
            earlier = self.recent.follow(kind, client, domain, qtype, ts)
            if earlier is not None:
                if earlier.event_id is None or (kind == RESPONSE and earlier.blocked):
                    return SKIP
                earlier.blocked = earlier.blocked or blocked
                update = EventUpdate(
                    earlier.event_id, blocked=True if blocked else None, action=action
                )
                return Parsed(updates=(update,))
        event_id = ctx.origin.event_id(0) if ctx.origin is not None else None
        self.recent.remember(
            client,
            domain,
            qtype,
            ts,
            event_id,
            followed=() if kind == QUERY else (kind,),
            blocked=blocked,
        )
        return Parsed(
            events=(
                Event(
                    kind=EventKind.DNS,
                    ts=ts,
                    client_ip=client,
                    domain=domain,
                    qtype=qtype,
                    action=action,
                    blocked=blocked,
                ),
            )
        )


PARSER = StatefulParser("bind", BindSession)
