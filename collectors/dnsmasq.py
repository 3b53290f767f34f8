"""dnsmasq and Pi-hole ``log-queries`` syslog lines.

A ``query[TYPE] name from client`` line is an event. The lines that follow a query
(forwarded, cached, reply, validation, dnssec) are known lines that carry no new event.
Pi-hole's block lines (``gravity blocked``, ``exactly blacklisted``, ``regex blacklisted``)
name no client, so they too carry no event of their own.
"""

from __future__ import annotations

import re

from collectors.base import LineParser, ParseContext
from collectors.syslogtime import syslog_time
from collectors.urls import normalise_host
from monitord.model import SKIP, Event, EventKind, Parsed, reject

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


PARSER = LineParser("dnsmasq", parse_line)
