"""The ``pcap`` format: captured packets, from a pcap or pcapng file or a live capture.

Each raw record is one packet: a 12-byte header (``HEADER``: capture time as a double, link
type as an unsigned int, little-endian) and the frame as captured. The session turns packets
into events with the fast-path dissector of ``collectors.parsers.packets``:

- a DNS query is a DNS event from its client; its response enriches it (the response code,
  and ``blocked`` when the answer is the sinkhole 0.0.0.0 or ::);
- a TLS ClientHello is a TLS event for its server name; an encrypted ClientHello (ECH) says so
  in ``action`` and its domain is only the outer, public name;
- an HTTP request is an HTTP event with its method, Host and path;
- a DHCPACK is a LEASE event binding the address to the MAC for the lease time.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from collectors.parsers.base import Needs, ParseContext
from collectors.parsers.packets import (
    Flow,
    client_hello,
    dhcp_ack,
    dns_message,
    http_request,
    network_payload,
    transport,
)
from monitord.core.model import SKIP, Event, EventKind, EventUpdate, Parsed, reject

HEADER = struct.Struct("<dI")
_DNS_PORTS = frozenset({53, 5353, 5355})
_DHCP_PORTS = frozenset({67, 68})
REMEMBER = 8192


def pack_record(ts: float, linktype: int, frame: bytes) -> bytes:
    """A packet as the pipeline carries it: its header, then the frame."""
    return HEADER.pack(ts, linktype) + frame


class PcapSession:
    """One capture's packets in order (DNS responses find their queries)."""

    def __init__(self) -> None:
        self._queries: OrderedDict[tuple[str, int, int], str] = OrderedDict()

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        return reject("pcap records are packets, not text lines")

    def parse_bytes(self, data: bytes, ctx: ParseContext) -> Parsed:
        if len(data) < HEADER.size:
            return reject("packet record shorter than its header")
        ts_float, linktype = HEADER.unpack_from(data)
        try:
            ts = datetime.fromtimestamp(ts_float, UTC)
        except (ValueError, OverflowError, OSError):
            return reject(f"packet time {ts_float!r} is out of range")
        net = network_payload(linktype, data[HEADER.size :])
        if net is None:
            return SKIP
        flow = transport(*net)
        if flow is None or not flow.payload:
            return SKIP
        if flow.sport in _DNS_PORTS or flow.dport in _DNS_PORTS:
            return self._dns(flow, ts, ctx)
        if flow.tcp:
            hello = client_hello(flow.payload)
            if hello is not None:
                if hello.server_name is None:
                    return SKIP
                return Parsed(
                    events=(
                        Event(
                            kind=EventKind.TLS,
                            ts=ts,
                            client_ip=flow.src,
                            domain=hello.server_name,
                            action="ech" if hello.encrypted else None,
                        ),
                    )
                )
            request = http_request(flow.payload)
            if request is not None:
                host = (request.host or flow.dst).split(":")[0] if request.host else flow.dst
                url = request.path if "://" in request.path else f"http://{host}{request.path}"
                return Parsed(
                    events=(
                        Event(
                            kind=EventKind.HTTP,
                            ts=ts,
                            client_ip=flow.src,
                            domain=host.lower().rstrip("."),
                            url=url,
                            method=request.method[:16],
                        ),
                    )
                )
            return SKIP
        if flow.sport in _DHCP_PORTS and flow.dport in _DHCP_PORTS:
            ack = dhcp_ack(flow.payload)
            if ack is None:
                return SKIP
            end = ts + timedelta(seconds=ack.lease_seconds) if ack.lease_seconds else None
            return Parsed(
                events=(
                    Event(
                        kind=EventKind.LEASE,
                        ts=ts,
                        client_ip=ack.ip,
                        client_mac=ack.mac,
                        hostname=ack.hostname,
                        text=ack.vendor_class,
                        lease_start=ts,
                        lease_end=end,
                    ),
                )
            )
        return SKIP

    def _dns(self, flow: Flow, ts: datetime, ctx: ParseContext) -> Parsed:
        msg = dns_message(flow.payload, flow.tcp)
        if msg is None or not msg.name:
            return SKIP
        if not msg.response:
            if ctx.origin is not None:
                self._queries[(flow.src, flow.sport, msg.id)] = ctx.origin.event_id(0)
                if len(self._queries) > REMEMBER:
                    self._queries.popitem(last=False)
            return Parsed(
                events=tuple(
                    Event(kind=EventKind.DNS, ts=ts, client_ip=flow.src, domain=name, qtype=qtype)
                    for name, qtype in msg.questions
                    if name
                )
            )
        event_id = self._queries.pop((flow.dst, flow.dport, msg.id), None)
        if event_id is None:
            return SKIP
        blocked = msg.sinkholed or msg.rcode == "REFUSED"
        return Parsed(updates=(EventUpdate(event_id, blocked=blocked or None, action=msg.rcode),))


class PcapParser:
    """The ``pcap`` format's parser: binary records, a session per capture."""

    fmt = "pcap"
    header_prefix: str | None = None
    snapshot = False
    # Packets, from a capture file or a live interface; never a listener's text.
    needs = Needs(binary=True, listened=False)

    def session(self) -> PcapSession:
        return PcapSession()

    def configured(self, options: Mapping[str, str]) -> PcapParser:
        return self


PARSER = PcapParser()
