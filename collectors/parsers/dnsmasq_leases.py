"""dnsmasq's leases file: ``expiry mac ip hostname client-id``, one lease a line.

The file holds the leases current when it was written, so each line is a binding of the IP
to the MAC that ends at the expiry (0 means the lease never expires). When it began is not in
the file: the identity layer takes it as the expiry less the configured lease time.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime

from collectors.parsers.base import LineParser, Needs, ParseContext
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
_DUID = "duid"


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    fields = line.split()
    if not fields:
        return reject("empty line")
    if fields[0] == _DUID:
        return SKIP  # the server's own DHCPv6 DUID, not a lease
    if len(fields) < 4:
        return reject(f"expected 'expiry mac ip hostname [client-id]', got {len(fields)} fields")
    if not (fields[0].isascii() and fields[0].isdigit()):
        return reject(f"expiry {fields[0][:30]!r} is not a Unix time")
    try:
        ip = ipaddress.ip_address(fields[2])
    except ValueError:
        return reject(f"{fields[2][:60]!r} is not an IP address")
    mac: str | None = fields[1].lower()
    if ip.version == 6:
        # DHCPv6 leases carry an IAID where the MAC would be; the client id names the device
        # (``*`` when the client sent none: then nothing does).
        clid = fields[4].lower() if len(fields) > 4 else "*"
        mac = None if clid == "*" else clid
    elif not _MAC.match(fields[1].lower()):
        return reject(f"{fields[1][:40]!r} is not a MAC address")
    expiry = int(fields[0])
    try:
        end = datetime.fromtimestamp(expiry, UTC) if expiry else None
    except (OverflowError, OSError, ValueError):
        return reject(f"expiry {expiry} is out of range")
    hostname = None if fields[3] == "*" else fields[3]
    return Parsed(
        events=(
            Event(
                kind=EventKind.LEASE,
                ts=end or ctx.reference,
                client_ip=str(ip),
                client_mac=mac,
                hostname=hostname,
                lease_end=end,
            ),
        )
    )


# A state file rewritten whole: read from its file, never sent to a listener.
PARSER = LineParser("dnsmasq-leases", parse_line, snapshot=True, needs=Needs(listened=False))
