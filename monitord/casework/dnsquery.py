"""One DNS question to one resolver, over UDP (then TCP if the answer was cut short): the
response code and the addresses it answered, for ``monitord check-filtering``.

The reply is read as hostile: its id and question must be ours, every length is checked,
and a name compressed into a loop is refused.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import struct
from dataclasses import dataclass

A, AAAA = 1, 28
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class DnsError(Exception):
    """No usable answer (timeout, refused connection, a malformed reply)."""


@dataclass(frozen=True, slots=True)
class Answer:
    rcode: str
    addresses: tuple[str, ...] = ()


def parse_server(value: str) -> tuple[str, int]:
    """``10.20.0.1``, ``10.20.0.1:5353``, ``::1`` or ``[::1]:5353``; ValueError otherwise."""
    host, port = value.strip(), 53
    if host.startswith("["):
        inner, _, rest = host[1:].partition("]")
        host = inner
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"expected [ADDRESS]:PORT, got {value!r}")
            port = int(rest[1:])
    elif host.count(":") == 1:
        host, _, p = host.partition(":")
        if not p.isdigit():
            raise ValueError(f"expected ADDRESS:PORT, got {value!r}")
        port = int(p)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address (give the resolver's address)") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is not between 1 and 65535")
    return host, port


def _question(qid: int, name: str, qtype: int) -> bytes:
    labels = [label.encode("idna") for label in name.rstrip(".").split(".")]
    if any(not 0 < len(label) < 64 for label in labels):
        raise DnsError(f"{name!r} is not a domain name")
    qname = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, 1)


def _skip_name(msg: bytes, pos: int) -> int:
    """The position after the (possibly compressed) name at ``pos``."""
    for _ in range(128):
        if pos >= len(msg):
            raise DnsError("reply cut short in a name")
        length = msg[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length
    raise DnsError("reply holds a name too long")


def read_reply(msg: bytes, query: bytes) -> tuple[Answer, bool]:
    """The answer in ``msg`` to ``query``, and whether it was truncated (TC)."""
    if len(msg) < 12 or msg[:2] != query[:2]:
        raise DnsError("reply to another question")
    flags, qd, an = struct.unpack("!HHH", msg[2:8])
    if not flags & 0x8000:
        raise DnsError("not a reply")
    rcode = RCODES.get(flags & 0x0F, f"RCODE{flags & 0x0F}")
    pos = 12
    for _ in range(qd):
        pos = _skip_name(msg, pos) + 4
    addresses: list[str] = []
    for _ in range(an):
        pos = _skip_name(msg, pos)
        if pos + 10 > len(msg):
            raise DnsError("reply cut short in an answer")
        rtype, _, _, rdlength = struct.unpack("!HHIH", msg[pos : pos + 10])
        pos += 10
        data = msg[pos : pos + rdlength]
        if len(data) != rdlength:
            raise DnsError("reply cut short in an answer's data")
        if rtype == A and rdlength == 4:
            addresses.append(str(ipaddress.IPv4Address(data)))
        elif rtype == AAAA and rdlength == 16:
            addresses.append(str(ipaddress.IPv6Address(data)))
        pos += rdlength
    return Answer(rcode, tuple(addresses)), bool(flags & 0x0200)


def ask(server: tuple[str, int], name: str, qtype: int = A, timeout: float = 3.0) -> Answer:
    """Ask ``server`` for ``name``; DnsError when no usable answer comes."""
    query = _question(secrets.randbelow(0x10000), name, qtype)
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.connect(server)
            sock.send(query)
            while True:  # a stray datagram (an old reply) is not ours: wait on
                answer, truncated = _ours(sock.recv(4096), query)
                if answer is not None:
                    break
        if not truncated:
            return answer
        with socket.create_connection(server, timeout) as tcp:
            tcp.sendall(struct.pack("!H", len(query)) + query)
            size = struct.unpack("!H", _read(tcp, 2))[0]
            return read_reply(_read(tcp, size), query)[0]
    except TimeoutError:
        raise DnsError(f"no answer from {server[0]} port {server[1]} in {timeout:.0f}s") from None
    except OSError as exc:
        raise DnsError(f"cannot ask {server[0]} port {server[1]}: {exc.strerror or exc}") from None


def _ours(msg: bytes, query: bytes) -> tuple[Answer | None, bool]:
    try:
        return read_reply(msg, query)
    except DnsError:
        if msg[:2] == query[:2]:
            raise
        return None, False


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise DnsError("the resolver closed the connection mid-reply")
        data += chunk
    return data
