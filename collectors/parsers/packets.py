"""Dissecting captured packets on the fast path: only the fields monitord needs.

Full dissection with scapy runs at a few thousand packets a second; this reads the headers
with ``struct`` and stops as soon as a packet cannot be interesting. It understands Ethernet
(with 802.1Q tags), Linux cooked captures (SLL, SLL2), raw IP and loopback, IPv4 and IPv6,
UDP and TCP, and in them:

- DNS queries and responses (UDP, and TCP with its two-byte length prefix),
- TLS ClientHello (server name; an encrypted ClientHello is reported as such),
- HTTP requests (method, Host and path),
- DHCP acknowledgements (address, MAC, host name, vendor class, lease time).

Every function is pure and total: malformed, truncated or odd packets give ``None``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Link types (pcap LINKTYPE_* values).
ETHERNET = 1
RAW = 101
LINUX_SLL = 113
LOOP = 108
NULL = 0
LINUX_SLL2 = 276
RAW_IP4 = 228
RAW_IP6 = 229

_HTTP_METHODS = (
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
)
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
QTYPES = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    64: "SVCB",
    65: "HTTPS",
    255: "ANY",
}
EXT_SERVER_NAME = 0
EXT_ECH = 0xFE0D


@dataclass(frozen=True, slots=True)
class Flow:
    src: str
    dst: str
    sport: int
    dport: int
    tcp: bool
    payload: bytes


@dataclass(frozen=True, slots=True)
class DnsMessage:
    id: int
    response: bool
    rcode: str
    questions: tuple[tuple[str, str], ...]  # (name, type); mDNS asks several at once
    sinkholed: bool

    @property
    def name(self) -> str:
        return self.questions[0][0]


@dataclass(frozen=True, slots=True)
class ClientHello:
    server_name: str | None
    encrypted: bool


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    host: str | None
    path: str


@dataclass(frozen=True, slots=True)
class DhcpAck:
    ip: str
    mac: str
    hostname: str | None
    vendor_class: str | None
    lease_seconds: int | None


def _ip4(b: bytes) -> str:
    return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])  # noqa: UP031 (faster than format)


def _ip6(b: bytes) -> str:
    import ipaddress

    return str(ipaddress.IPv6Address(b))


def network_payload(linktype: int, frame: bytes) -> tuple[int, bytes] | None:
    """(IP version, IP packet) from a link-layer frame."""
    if linktype == ETHERNET:
        if len(frame) < 14:
            return None
        ethertype = struct.unpack_from("!H", frame, 12)[0]
        offset = 14
        while ethertype in (0x8100, 0x88A8) and len(frame) >= offset + 4:
            ethertype = struct.unpack_from("!H", frame, offset + 2)[0]
            offset += 4
        body = frame[offset:]
    elif linktype == LINUX_SLL:
        if len(frame) < 16:
            return None
        ethertype = struct.unpack_from("!H", frame, 14)[0]
        body = frame[16:]
    elif linktype == LINUX_SLL2:
        if len(frame) < 20:
            return None
        ethertype = struct.unpack_from("!H", frame, 0)[0]
        body = frame[20:]
    elif linktype in (NULL, LOOP):
        if len(frame) < 4:
            return None
        body = frame[4:]
        ethertype = 0x0800 if body[:1] and body[0] >> 4 == 4 else 0x86DD
    elif linktype in (RAW, RAW_IP4, RAW_IP6):
        if not frame:
            return None
        body = frame
        ethertype = 0x0800 if frame[0] >> 4 == 4 else 0x86DD
    else:
        return None
    if ethertype == 0x0800:
        return 4, body
    if ethertype == 0x86DD:
        return 6, body
    return None


def transport(version: int, packet: bytes) -> Flow | None:
    """The UDP or TCP flow and its payload; None for fragments after the first and others."""
    if version == 4:
        if len(packet) < 20:
            return None
        ihl = (packet[0] & 0x0F) * 4
        proto = packet[9]
        frag = struct.unpack_from("!H", packet, 6)[0]
        if frag & 0x1FFF:  # a later fragment: no transport header here
            return None
        total = struct.unpack_from("!H", packet, 2)[0]
        src, dst = _ip4(packet[12:16]), _ip4(packet[16:20])
        segment = packet[ihl : total if ihl < total <= len(packet) else len(packet)]
    elif version == 6:
        if len(packet) < 40:
            return None
        proto = packet[6]
        src, dst = _ip6(packet[8:24]), _ip6(packet[24:40])
        segment = packet[40:]
        # Skip the common extension headers (hop-by-hop, routing, destination options).
        while proto in (0, 43, 60) and len(segment) >= 8:
            proto, size = segment[0], (segment[1] + 1) * 8
            segment = segment[size:]
    else:
        return None
    if proto == 17 and len(segment) >= 8:
        sport, dport = struct.unpack_from("!HH", segment, 0)
        return Flow(src, dst, sport, dport, False, segment[8:])
    if proto == 6 and len(segment) >= 20:
        sport, dport = struct.unpack_from("!HH", segment, 0)
        offset = (segment[12] >> 4) * 4
        if offset < 20:
            return None
        return Flow(src, dst, sport, dport, True, segment[offset:])
    return None


def _dns_name(msg: bytes, offset: int) -> tuple[str, int] | None:
    """A (possibly compressed) name at ``offset``; the name and the offset after it."""
    labels: list[str] = []
    end: int | None = None
    jumps = 0
    while True:
        if offset >= len(msg):
            return None
        length = msg[offset]
        if length == 0:
            offset += 1
            break
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(msg) or jumps > 16:
                return None
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | msg[offset + 1]
            jumps += 1
            continue
        if length & 0xC0 or offset + 1 + length > len(msg):
            return None
        labels.append(msg[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
        if len(labels) > 127:
            return None
    return ".".join(labels).lower(), end if end is not None else offset


def dns_message(payload: bytes, tcp: bool) -> DnsMessage | None:
    """The question of a DNS message, whether it is a response, and whether the answer is a
    sinkhole (0.0.0.0 or ::), as filtering resolvers answer for blocked names."""
    msg = payload[2:] if tcp else payload
    if len(msg) < 12:
        return None
    ident, flags, qdcount, ancount = struct.unpack_from("!HHHH", msg, 0)
    if qdcount < 1 or flags & 0x7800:  # not a standard query (opcode 0)
        return None
    questions: list[tuple[str, str]] = []
    offset = 12
    for _ in range(min(qdcount, 64)):
        parsed = _dns_name(msg, offset)
        if parsed is None or parsed[1] + 4 > len(msg):
            break
        name, offset = parsed
        qtype = struct.unpack_from("!H", msg, offset)[0]
        offset += 4
        questions.append((name, QTYPES.get(qtype, f"TYPE{qtype}")))
    if not questions:
        return None
    response = bool(flags & 0x8000)
    sinkholed = False
    if response and ancount:
        answer = _dns_name(msg, offset)
        if answer is not None and answer[1] + 10 <= len(msg):
            atype, _, _, rdlen = struct.unpack_from("!HHIH", msg, answer[1])
            rdata = msg[answer[1] + 10 : answer[1] + 10 + rdlen]
            sinkholed = (atype == 1 and rdata == b"\0\0\0\0") or (
                atype == 28 and rdata == b"\0" * 16
            )
    return DnsMessage(
        ident,
        response,
        RCODES.get(flags & 0x000F, str(flags & 0x000F)),
        tuple(questions),
        sinkholed,
    )


def client_hello(payload: bytes) -> ClientHello | None:
    """The server name of a TLS ClientHello starting this segment (TLS 1.0 to 1.3)."""
    if len(payload) < 9 or payload[0] != 0x16 or payload[1] != 3 or payload[5] != 1:
        return None
    body = payload[9:]
    try:
        offset = 34  # version + random
        offset += 1 + body[offset]  # session id
        suites = struct.unpack_from("!H", body, offset)[0]
        offset += 2 + suites
        offset += 1 + body[offset]  # compression methods
        if offset + 2 > len(body):
            return ClientHello(None, False)
        ext_total = struct.unpack_from("!H", body, offset)[0]
        offset += 2
        end = min(offset + ext_total, len(body))
        name: str | None = None
        encrypted = False
        while offset + 4 <= end:
            ext_type, ext_len = struct.unpack_from("!HH", body, offset)
            data = body[offset + 4 : offset + 4 + ext_len]
            if ext_type == EXT_SERVER_NAME and len(data) >= 5 and data[2] == 0:
                size = struct.unpack_from("!H", data, 3)[0]
                name = data[5 : 5 + size].decode("ascii", "replace").lower().rstrip(".")
            elif ext_type == EXT_ECH:
                encrypted = True
            offset += 4 + ext_len
    except (IndexError, struct.error):
        return None
    return ClientHello(name or None, encrypted)


def http_request(payload: bytes) -> HttpRequest | None:
    if not payload.startswith(_HTTP_METHODS):
        return None
    head = payload[:8192].split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) < 3 or not parts[2].startswith(b"HTTP/"):
        return None
    host: str | None = None
    for line in lines[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == b"host":
            host = value.strip().decode("ascii", "replace").lower()
            break
    return HttpRequest(parts[0].decode("ascii", "replace"), host, parts[1].decode("latin-1"))


def dhcp_ack(payload: bytes) -> DhcpAck | None:
    """A DHCPACK: the address bound to a MAC, with the client's host name and vendor class."""
    if len(payload) < 240 or payload[0] != 2 or payload[236:240] != b"\x63\x82\x53\x63":
        return None
    hlen = payload[2]
    mac = ":".join(f"{b:02x}" for b in payload[28 : 28 + min(hlen, 16)])
    yiaddr = _ip4(payload[16:20])
    options: dict[int, bytes] = {}
    offset = 240
    while offset < len(payload):
        code = payload[offset]
        if code == 255:
            break
        if code == 0:
            offset += 1
            continue
        if offset + 1 >= len(payload):
            break
        size = payload[offset + 1]
        options[code] = payload[offset + 2 : offset + 2 + size]
        offset += 2 + size
    if options.get(53) != b"\x05" or yiaddr == "0.0.0.0" or hlen != 6:
        return None
    lease = options.get(51)
    return DhcpAck(
        yiaddr,
        mac,
        options[12].decode("utf-8", "replace") if 12 in options else None,
        options[60].decode("utf-8", "replace") if 60 in options else None,
        struct.unpack("!I", lease)[0] if lease is not None and len(lease) == 4 else None,
    )
