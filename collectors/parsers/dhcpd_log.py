"""ISC dhcpd's syslog messages (the message alone; ``collectors.parsers.syslog`` reads the
envelope).

``DHCPACK on IP to MAC [(HOST)] via IFACE`` is a lease given at the message's time: a LEASE
event binding the address to the device from then on. The rest of dhcpd's messages
(DISCOVER, OFFER, REQUEST, INFORM, RELEASE, NAK, start-up and pool notices) carry no event.
"""

from __future__ import annotations

import ipaddress
import re

from collectors.parsers.base import LineParser, ParseContext
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

_ACK = re.compile(
    r"^DHCPACK on (?P<ip>[0-9A-Fa-f.:]{2,45}) to (?P<mac>[0-9A-Fa-f]{1,2}(?::[0-9A-Fa-f]{1,2}){5})"
    r"(?: \((?P<host>[^()\s]{1,253})\))? via "
)


def parse_message(msg: str, ctx: ParseContext) -> Parsed:
    m = _ACK.match(msg)
    if m is None:
        return SKIP
    try:
        ip = str(ipaddress.ip_address(m["ip"]))
    except ValueError:
        return reject(f"DHCPACK for {m['ip']!r}, which is not an IP address")
    mac = ":".join(part.zfill(2) for part in m["mac"].lower().split(":"))
    when = ctx.reference
    return Parsed(
        events=(
            Event(
                kind=EventKind.LEASE,
                ts=when,
                client_ip=ip,
                client_mac=mac,
                hostname=m["host"],
                lease_start=when,
            ),
        )
    )


PARSER = LineParser("dhcpd-log", parse_message)
