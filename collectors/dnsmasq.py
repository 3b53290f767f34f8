"""dnsmasq and Pi-hole ``log-queries`` syslog lines.

A ``query[TYPE] name from client`` line is an event. The lines that follow a query
(forwarded, cached, reply, validation, dnssec) are known lines that carry no new event.
Pi-hole's block lines (``gravity blocked``, ``exactly blacklisted``, ``regex blacklisted``,
``special domain``) and dnsmasq's own ``config NAME is 0.0.0.0`` (an ``--address`` rule
sinking the name) name no client: they enrich the query they answer, which the session
remembers, by marking it blocked.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from collectors.base import ParseContext, StatefulParser
from collectors.syslogtime import syslog_time
from collectors.urls import normalise_host
from monitord.model import SKIP, Event, EventKind, EventUpdate, Parsed, reject

_HEAD = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d) "
    r"(?:\S+ )?dnsmasq(?:-dhcp)?\[\d+\]: (?P<msg>.*)$"
)
# dnsmasq writes a type it has no name for as ``query[type=65]``.
_QUERY = re.compile(
    r"^query\[(?P<qtype>[A-Za-z0-9]+|type=[0-9]+)\] (?P<name>\S+) from (?P<client>\S+)$"
)
_KNOWN = (
    "forwarded ",
    "cached ",
    "cached-stale ",
    "reply ",
    "config ",
    "gravity blocked ",
    "exactly blacklisted ",
    "regex blacklisted ",
    "exactly denied ",
    "regex denied ",
    "blacklisted ",
    "special domain ",
    "dnssec-query[",
    "dnssec-retry[",
    "validation ",
    "failed to send packet",
    "/etc/hosts ",
    "/etc/pihole/",
    "read ",
    "started,",
    "compile time options",
    "using nameserver",
    "using local addresses",
    "cleared cache",
    "exiting on receipt",
    "Maximum number of concurrent",
    "DHCP",
    "DHCPACK",
    "DHCPREQUEST",
    "DHCPOFFER",
    "DHCPDISCOVER",
    "DHCPINFORM",
    "DHCPRELEASE",
    "reading ",
    "inotify",
    "warning:",
    "Pi-hole",
    "FTL",
    "ipset ",
)


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    head = _HEAD.match(line.rstrip("\r\n"))
    if head is None:
        return reject("not a dnsmasq syslog line (expected 'Mon DD HH:MM:SS dnsmasq[PID]: ...')")
    msg = head["msg"]
    query = _QUERY.match(msg)
    if query is None:
        if msg.startswith(_KNOWN):
            return SKIP
        return reject(f"unrecognised dnsmasq message {msg[:60]!r}")
    ts = syslog_time(head["mon"], int(head["day"]), head["hms"], ctx.tz, ctx.reference)
    if ts is None:
        return reject(f"impossible date {head['mon']} {head['day']} {head['hms']}")
    return Parsed(
        events=(
            Event(
                kind=EventKind.DNS,
                ts=ts,
                client_ip=query["client"],
                domain=normalise_host(query["name"]),
                qtype=query["qtype"].upper().replace("=", ""),  # TYPE65, as RFC 3597 writes it
            ),
        )
    )


_BLOCK = re.compile(
    r"^(?P<how>gravity blocked|exactly blacklisted|regex blacklisted|special domain|"
    r"exactly denied|regex denied|blacklisted|config) (?P<name>\S+) is (?P<answer>\S+)"
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


class DnsmasqSession:
    """One log's lines in order: a block line marks the query for that name blocked."""

    def __init__(self) -> None:
        self._queries: OrderedDict[str, str] = OrderedDict()

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        parsed = parse_line(line, ctx)
        if parsed.rejected is not None:
            return parsed
        if parsed.events:
            name = parsed.events[0].domain
            if name and ctx.origin is not None:
                self._queries[name] = ctx.origin.event_id(0)
                self._queries.move_to_end(name)
                if len(self._queries) > REMEMBER:
                    self._queries.popitem(last=False)
            return parsed
        head = _HEAD.match(line.rstrip("\r\n"))
        block = _BLOCK.match(head["msg"]) if head else None
        if block is None:
            return parsed
        if block["how"] == "config" and block["answer"] not in _SINKHOLES:
            return parsed  # a local record, not a block
        event_id = self._queries.get(normalise_host(block["name"]) or "")
        if event_id is None:
            return parsed
        return Parsed(updates=(EventUpdate(event_id, blocked=True, action=block["how"]),))


PARSER = StatefulParser("dnsmasq", DnsmasqSession)
