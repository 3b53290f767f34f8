"""dnsmasq and Pi-hole ``log-queries`` syslog lines.

A ``query[TYPE] name from client`` line is an event. The lines that follow a query
(forwarded, cached, reply, validation, dnssec) are known lines that carry no new event.
Pi-hole's block lines (``gravity blocked``, ``exactly blacklisted``, ``regex blacklisted``,
``special domain``, and since FTL v6 ``exactly denied``, ``regex denied``, each perhaps with
`` (CNAME)``) and a sinkhole answer from dnsmasq's own configuration or a hosts-style block
list (``config NAME is 0.0.0.0``, ``/etc/hosts.block NAME is 0.0.0.0``) name no client: they
enrich the query they answer, which the session remembers, by marking it blocked.

With ``log-queries=extra`` (Pi-hole's setting) every line about a query starts with the
query's serial number and, for most, the client's address and port
(``625 192.168.1.185/60568 query[A] example.com from 192.168.1.185``); with
``log-queries=proto`` ``UDP``/``TCP`` comes first. The serial ties a block line to its query
exactly; without it the query is found by name.

Pi-hole v6 writes to syslog as ``pihole-FTL``, read here as dnsmasq. The lines of dnsmasq's
DHCP, TFTP and script helpers (``dnsmasq-dhcp[PID]:``...) carry no DNS event.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from collectors.parsers.base import ParseContext, StatefulParser
from collectors.parsers.syslogtime import syslog_time
from collectors.parsers.urls import normalise_host
from monitord.core.model import SKIP, Event, EventKind, EventUpdate, Origin, Parsed, reject

_HEAD = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d) "
    r"(?:\S+ )?(?:dnsmasq(?P<facility>-[a-z]+)?|pihole-FTL)\[\d+\]: (?P<msg>.*)$"
)
# log-queries=extra: [UDP |TCP ]SERIAL [ADDRESS/PORT ]MESSAGE
_EXTRA = re.compile(
    r"^(?:(?:UDP|TCP) )?(?P<serial>\d{1,10}) (?:(?P<addr>[0-9A-Fa-f:.%\w]+)/\d{1,5} )?(?P<msg>.*)$"
)
# dnsmasq writes a type it has no name for as ``query[type=65]``.
_QUERY = re.compile(
    r"^query\[(?P<qtype>[A-Za-z0-9]+|type=[0-9]+)\] (?P<name>\S+) from (?P<client>\S+)$"
)
# A query line whole, as ``_HEAD``, ``_EXTRA`` and ``_QUERY`` read it one after another (no
# facility: a helper's line is never a query), in one match: a line this matches is a query
# line read the same way by them, and any other line is read by them.
_QUERY_LINE = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d) "
    r"(?:\S+ )?(?:dnsmasq|pihole-FTL)\[\d+\]: "
    r"(?:(?:(?:UDP|TCP) )?(?P<serial>\d{1,10}) (?:[0-9A-Fa-f:.%\w]+/\d{1,5} )?)?"
    r"query\[(?P<qtype>[A-Za-z0-9]+|type=[0-9]+)\] (?P<name>\S+) from (?P<client>\S+)$"
)
# The lines that follow a query and are never a block: the commonest, tried first.
_FOLLOWERS = (
    "forwarded ",
    "reply ",
    "cached ",
    "cached-stale ",
    "dnssec-query[",
    "dnssec-retry[",
    "validation ",
)
_KNOWN = (
    "failed to send packet",
    "non-query opcode",
    "ipset add",
    "nftset add",
    "read ",
    "started,",
    "compile time options",
    "using ",
    "cleared cache",
    "exiting on receipt",
    "Maximum number of concurrent",
    "DHCP",
    "reading ",
    "inotify",
    "warning:",
    "Pi-hole",
    "FTL",
    "validation result",
)
# ``SOURCE NAME is ANSWER``: an answer, from where it came. FTL's block reasons hold spaces.
_ANSWER = re.compile(r"^(?P<how>.+?) (?P<name>\S+) is (?P<answer>\S+)")
_ANSWER_SOURCES = frozenset(
    {
        "reply",
        "cached",
        "cached-stale",
        "config",
        "validation",
        "auth",
        "DHCP",
        "Pi-hole hostname",
        "Rate-limiting",
    }
)
# FTL's reasons for answering a query itself: each is the filter blocking it.
_BLOCK_REASONS = frozenset(
    {
        "gravity blocked",
        "exactly blacklisted",
        "regex blacklisted",
        "blacklisted",
        "exactly denied",
        "regex denied",
        "special domain",
        "Mozilla canary domain",
        "Apple iCloud Private Relay domain",
        "Designated Resolver domain",
    }
)
_SINKHOLES = frozenset(
    {
        "0.0.0.0",
        "::",
        "NXDOMAIN",
        "NODATA",
        "NXDOMAIN-IPv4",
        "NXDOMAIN-IPv6",
        "NODATA-IPv4",
        "NODATA-IPv6",
        "blocked",
    }
)
REMEMBER = 4096


def _block_reason(how: str, answer: str) -> str | None:
    """The reason an answer line says the filter blocked its query, or None."""
    base = how.removesuffix(" (CNAME)")
    if base in _BLOCK_REASONS or base.startswith("blocked upstream with "):
        return how
    if (how == "config" or how.startswith("/")) and answer in _SINKHOLES:
        # An --address rule, or a hosts-style block list (addn-hosts): its path, the end of
        # it when it is longer than the stored action.
        return how if len(how) <= 64 else "\u2026" + how[-63:]
    return None


def _known_answer(how: str) -> bool:
    base = how.removesuffix(" (CNAME)")
    return (
        base in _ANSWER_SOURCES
        or base in _BLOCK_REASONS
        or base.startswith(("/", "blocked upstream with ", "to be "))
    )


def _split(message: str) -> tuple[str | None, str]:
    """(serial, message) of a log-queries=extra message; (None, message) otherwise."""
    if message[:1].isdigit() or message.startswith(("UDP ", "TCP ")):
        extra = _EXTRA.match(message)
        if extra is not None:
            return extra["serial"], extra["msg"]
    return None, message


def _head(line: str) -> re.Match[str] | None:
    return _HEAD.match(line.rstrip("\r\n"))


_NOT_DNSMASQ = "not a dnsmasq syslog line (expected 'Mon DD HH:MM:SS dnsmasq[PID]: ...')"


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    query = _QUERY_LINE.match(line.rstrip("\r\n"))
    if query is not None:
        return _query(query, query, ctx)
    head = _head(line)
    return reject(_NOT_DNSMASQ) if head is None else _read(head, ctx)[0]


def _query(head: re.Match[str], query: re.Match[str], ctx: ParseContext) -> Parsed:
    """A query line's event: its time from ``head``, the rest from ``query`` (the same match
    when one pattern read the whole line)."""
    ts = syslog_time(head["mon"], int(head["day"]), head["hms"], ctx.tz, ctx.reference)
    if ts is None:
        return reject(f"impossible date {head['mon']} {head['day']} {head['hms']}")
    event = Event(
        kind=EventKind.DNS,
        ts=ts,
        client_ip=query["client"],
        domain=normalise_host(query["name"]),
        qtype=query["qtype"].upper().replace("=", ""),  # TYPE65, as RFC 3597 writes it
    )
    return Parsed(events=(event,))


def _read(
    head: re.Match[str], ctx: ParseContext
) -> tuple[Parsed, str | None, re.Match[str] | None]:
    """What a line gives by itself, its serial number (log-queries=extra), and its answer
    (``SOURCE NAME is ANSWER``) when it is one that may be a block."""
    if head["facility"]:
        return SKIP, None, None  # dnsmasq-dhcp, -tftp, -script: leases come from their file
    serial, msg = _split(head["msg"])
    if msg.startswith(_FOLLOWERS):
        return SKIP, serial, None
    query = _QUERY.match(msg)
    if query is not None:
        parsed = _query(head, query, ctx)
        return parsed, serial if parsed.events else None, None
    if msg.startswith(_KNOWN):
        return SKIP, serial, None
    answer = _ANSWER.match(msg)
    if answer is not None and _known_answer(answer["how"]):
        return SKIP, serial, answer
    return reject(f"unrecognised dnsmasq message {head['msg'][:60]!r}"), None, None


# A line that follows a query (``_FOLLOWERS``) as ``_HEAD`` and ``_EXTRA`` read it, in bytes:
# the classes kept to printable ASCII where the text patterns would take more, so that a line
# this matches is read the same way by them (``DnsmasqSession.quiet``).
_QUIET = re.compile(
    rb"[A-Z][a-z]{2} +[0-9]{1,2} [0-9][0-9]:[0-9][0-9]:[0-9][0-9] (?:[!-~]+ )?"
    rb"(?:dnsmasq|pihole-FTL)\[[0-9]+\]: "
    rb"(?:(?:(?:UDP|TCP) )?[0-9]{1,10} (?:[0-9A-Za-z:.%_]+/[0-9]{1,5} )?)?"
    rb"(?:forwarded |reply |cached |cached-stale |dnssec-query\[|dnssec-retry\[|validation )"
    rb"[^\n]*\Z"
)


class DnsmasqSession:
    """One log's lines in order: a block line marks the query it answers blocked (by the
    query's serial number with log-queries=extra, else by its name). A query is remembered
    by its origin; its event's id is made only for a block line that finds it."""

    def __init__(self) -> None:
        self._queries: OrderedDict[str, Origin] = OrderedDict()
        self._serials: OrderedDict[str, Origin] = OrderedDict()

    @staticmethod
    def quiet(data: bytes) -> bool:
        """Whether the line (its bytes as read, without its line end) follows a query
        (forwarded, reply, cached, dnssec, validation): a known line that carries nothing
        and changes nothing the session keeps, told without decoding or parsing it."""
        return _QUIET.match(data) is not None

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        query = _QUERY_LINE.match(line.rstrip("\r\n"))
        if query is not None:  # most lines that carry something
            parsed = _query(query, query, ctx)
            if parsed.events:
                self._note(parsed, query["serial"], ctx)
            return parsed
        head = _head(line)
        if head is None:
            return reject(_NOT_DNSMASQ)
        parsed, serial, answer = _read(head, ctx)
        if parsed.events:
            self._note(parsed, serial, ctx)
            return parsed
        if answer is None:
            if head["msg"].startswith("started,"):
                self._serials.clear()  # a restarted dnsmasq numbers its queries from 1 again
            return parsed
        how = _block_reason(answer["how"], answer["answer"])
        if how is None:
            return parsed
        target = None if serial is None else self._serials.get(serial)
        if target is None:
            target = self._queries.get(normalise_host(answer["name"]) or "")
        if target is None:
            return parsed
        return Parsed(updates=(EventUpdate(target.event_id(0), blocked=True, action=how[:64]),))

    def _note(self, parsed: Parsed, serial: str | None, ctx: ParseContext) -> None:
        """Remember a query's origin by its name and its serial number, for the block line
        that may answer it."""
        origin = ctx.origin
        if origin is not None:
            name = parsed.events[0].domain
            if name:
                _remember(self._queries, name, origin)
            if serial is not None:
                _remember(self._serials, serial, origin)


def _remember(memory: OrderedDict[str, Origin], key: str, origin: Origin) -> None:
    memory[key] = origin
    memory.move_to_end(key)
    if len(memory) > REMEMBER:
        memory.popitem(last=False)


PARSER = StatefulParser("dnsmasq", DnsmasqSession)
