"""What a listening source is told: the ``listen`` address (``udp://``, ``tcp://`` or
``tls://`` with a host and port) and the ``allow`` list of senders' networks; and the checks
of every host name, address and network the config holds."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

SCHEMES = ("udp", "tcp", "tls")
_LISTEN = re.compile(
    r"^(?P<scheme>[a-z]+)://(?:\[(?P<v6>[0-9A-Fa-f:.%\w]+)\]|(?P<host>[^:/\[\]]+)):(?P<port>\d{1,5})$"
)

# One label of a host name: letters, digits, hyphens (not at either end) and, as Windows
# networks name hosts, underscores.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ListenAddress:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"


def check_host(host: str) -> str:
    """``host`` if it is an IP address or a host name; ValueError saying what was expected
    (``10.0.0.256`` is neither: a name's last label is never a number)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return host
    except ValueError:
        pass
    name = host.removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or not all(map(_LABEL.fullmatch, labels)) or labels[-1].isdigit():
        raise ValueError(
            f"{host!r} is not a host name or an IP address (e.g. mail.school.example, 10.20.0.5)"
        )
    return host


def check_network(entry: str) -> str:
    """``entry`` if it is an address or a CIDR block; ValueError naming it otherwise."""
    try:
        ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{entry!r} is not an address or CIDR block (e.g. 10.20.0.0/24)") from None
    return entry


def parse_listen(value: str) -> ListenAddress:
    """``udp://0.0.0.0:514``, ``tcp://[::]:6514``, ``tls://10.20.0.5:6514``; ValueError
    saying what was expected otherwise."""
    m = _LISTEN.match(value.strip())
    if m is None:
        raise ValueError(
            f"expected udp://ADDRESS:PORT, tcp://ADDRESS:PORT or tls://ADDRESS:PORT, got {value!r}"
        )
    scheme = m["scheme"]
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r} in {value!r} (expected udp, tcp or tls)")
    port = int(m["port"])
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} in {value!r} is not between 1 and 65535")
    host = m["v6"] or m["host"]
    if m["v6"] is not None:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise ValueError(f"{host!r} in {value!r} is not an IPv6 address") from None
    else:
        check_host(host)
    return ListenAddress(scheme, host, port)


def parse_allow(entries: list[str]) -> tuple[Network, ...]:
    """A list of addresses or CIDR blocks (``allow``, ``guest_networks``) as networks
    (``10.20.0.1`` is ``10.20.0.1/32``); ValueError naming the first entry that is neither."""
    return tuple(ipaddress.ip_network(check_network(e).strip(), strict=False) for e in entries)


def allowed(address: str, networks: tuple[Network, ...]) -> bool:
    """Whether a sender's address is in one of the networks (an IPv4 sender on a dual-stack
    socket, ``::ffff:10.0.0.1``, is taken as its IPv4 address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)
