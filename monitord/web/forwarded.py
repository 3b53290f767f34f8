"""The client's address behind a reverse proxy, for lock-out by address, sessions and the
audit trail's sign-in records.

A request that comes from one of ``[web] trusted_proxies`` names its client in
X-Forwarded-For, each proxy on the way appending the address it was reached from. Only the
entries those proxies appended can be believed: anything to their left the client may have
written itself. So the client is the rightmost entry that is not a trusted proxy (or the
leftmost, when every one is). An entry that is not an address ends the walk at the trusted
proxy that passed it on. From any other address the header is ignored: the client is the
address that connected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
HEADER = b"x-forwarded-for"
MAX_HOPS = 32  # entries read from the right; a longer chain is no proxy set-up of a school's


def parse_address(text: str) -> Address | None:
    """An address as proxies write it (``203.0.113.9``, ``2001:db8::1``, with or without a
    port: ``203.0.113.9:5100``, ``[2001:db8::1]:5100``); IPv4 given as IPv6 is taken as
    IPv4. None for anything else."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


@dataclass(frozen=True, slots=True)
class Proxies:
    """The reverse proxies whose X-Forwarded-For is believed."""

    networks: tuple[Network, ...]

    @classmethod
    def of(cls, entries: Iterable[str]) -> Proxies:
        """From the config's list of addresses and CIDR blocks (checked when it was read)."""
        return cls(tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries))

    def trusted(self, address: Address | None) -> bool:
        return address is not None and any(address in n for n in self.networks)

    def client(self, peer: str, forwarded: Sequence[str]) -> str:
        """The client's address: ``peer`` (the address that connected) unless it is a
        trusted proxy, then the rightmost untrusted entry of the X-Forwarded-For values
        ``forwarded`` (in the order the headers came)."""
        nearest = parse_address(peer)
        if not self.trusted(nearest):
            return peer
        hops = [h for value in forwarded for h in value.split(",") if h.strip()]
        for hop in reversed(hops[-MAX_HOPS:]):
            found = parse_address(hop)
            if found is None:
                break  # not an address: the proxy that passed it on is all that is known
            nearest = found
            if not self.trusted(found):
                break
        return str(nearest)


class ForwardedFor:
    """ASGI middleware: the request's client is the address ``Proxies.client`` gives, so
    that every handler's ``request.client`` is the person's, not the proxy's."""

    def __init__(self, app: ASGIApp, proxies: Proxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and self.proxies.networks:
            values = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == HEADER]
            host = self.proxies.client(str(client[0]), values)
            if host != client[0]:
                scope = {**scope, "client": (host, 0)}
        await self.app(scope, receive, send)
