"""Packets: every real capture against tshark, generated odd packets, fuzzing, live capture."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from collectors.capture import iter_packets
from collectors.parsers.pcap import PARSER, pack_record
from monitord.core.model import EventKind, Origin, Parsed
from tests.collectors.parsers.fixturelines import CTX, fixture_files
from tests.conftest import FIXTURES

CAPTURES = fixture_files(FIXTURES / "pcap")


def parse_file(path: Path) -> list[Parsed]:
    session = PARSER.session()
    out = []
    for rec, _ in iter_packets(path, "cap"):
        ctx = type(CTX)(CTX.tz, CTX.reference, rec.origin)
        out.append(session.parse_bytes(rec.data, ctx))
    return out


def tshark(path: Path, display: str, field: str) -> set[str]:
    run = subprocess.run(
        ["tshark", "-r", str(path), "-Y", display, "-T", "fields", "-e", field],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {v.lower().rstrip(".") for line in run.stdout.split() for v in line.split(",") if v}


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_names_hosts_and_snis_agree_with_tshark(path: Path) -> None:
    parsed = parse_file(path)
    assert all(p.rejected is None for p in parsed)
    events = [e for p in parsed for e in p.events]
    dns = {e.domain for e in events if e.kind is EventKind.DNS}
    sni = {e.domain for e in events if e.kind is EventKind.TLS}
    http = {e.domain for e in events if e.kind is EventKind.HTTP}
    assert dns == tshark(path, "dns.flags.response == 0", "dns.qry.name")
    assert sni == tshark(path, "tls.handshake.type == 1", "tls.handshake.extensions_server_name")
    want_http = {h.split(":")[0] for h in tshark(path, "http.request", "http.host")}
    assert http == want_http


def test_the_captures_hold_what_they_say() -> None:
    seen = {p.name: [e for x in parse_file(p) for e in x.events] for p in CAPTURES}
    tcp_dns = seen["tcpdump-dns_tcp.pcap"]
    assert [(e.domain, e.qtype) for e in tcp_dns] == [("www.tcpdump.org", "A")]
    ech = seen["zeek-tls_tls13-ech.pcap"]
    assert {(e.domain, e.action) for e in ech} == {("cloudflare-ech.com", "ech")}
    pipelined = seen["zeek-http_pipelined-requests.pcap"]
    assert len(pipelined) == 5
    assert all(e.url and e.url.startswith("http://www.mozilla.org/") for e in pipelined)


def write_truncated(path: Path, packets: list[Packet], snaplen: int) -> Path:
    """A classic pcap whose snap length cut every packet, as a capture with ``-s`` writes it."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)]
    for n, packet in enumerate(packets):
        frame = bytes(packet)
        kept = frame[:snaplen]
        out.append(struct.pack("<IIII", 1_700_000_000 + n, 0, len(kept), len(frame)) + kept)
    path.write_bytes(b"".join(out))
    return path


def write(tmp_path: Path, packets: list[object], name: str = "t.pcap") -> Path:
    path = tmp_path / name
    wrpcap(str(path), packets)
    return path


def test_dns_response_enriches_its_query_and_a_sinkhole_is_a_block(tmp_path: Path) -> None:
    q = (
        Ether()
        / IP(src="10.0.0.5", dst="10.0.0.1")
        / UDP(sport=40000, dport=53)
        / DNS(id=7, rd=1, qd=DNSQR(qname="www.bet365.com"))
    )
    r = (
        Ether()
        / IP(src="10.0.0.1", dst="10.0.0.5")
        / UDP(sport=53, dport=40000)
        / DNS(
            id=7,
            qr=1,
            qd=DNSQR(qname="www.bet365.com"),
            an=DNSRR(rrname="www.bet365.com", rdata="0.0.0.0"),
        )
    )
    first, second = parse_file(write(tmp_path, [q, r]))
    [query] = first.events
    assert (query.client_ip, query.domain, query.qtype) == ("10.0.0.5", "www.bet365.com", "A")
    [update] = second.updates
    assert update.blocked is True
    assert update.action == "NOERROR"
    assert update.event_id == first_origin_id(tmp_path / "t.pcap")


def first_origin_id(path: Path) -> str:
    rec, _ = next(iter_packets(path, "cap"))
    return rec.origin.event_id(0)


def test_dhcp_ack_is_a_lease(tmp_path: Path) -> None:
    ack = (
        Ether(src="02:00:00:00:00:01", dst="aa:bb:cc:dd:ee:ff")
        / IP(src="10.0.0.1", dst="10.20.6.7")
        / UDP(sport=67, dport=68)
        / BOOTP(op=2, yiaddr="10.20.6.7", chaddr=bytes.fromhex("aabbccddeeff") + b"\0" * 10)
        / DHCP(
            options=[
                ("message-type", "ack"),
                ("lease_time", 3600),
                ("hostname", b"y6-lt-07"),
                ("vendor_class_id", b"MSFT 5.0"),
                "end",
            ]
        )
    )
    [parsed] = parse_file(write(tmp_path, [ack]))
    [lease] = parsed.events
    assert lease.kind is EventKind.LEASE
    assert (lease.client_ip, lease.client_mac, lease.hostname) == (
        "10.20.6.7",
        "aa:bb:cc:dd:ee:ff",
        "y6-lt-07",
    )
    assert lease.text == "MSFT 5.0"
    assert lease.lease_end is not None
    assert lease.lease_start is not None
    assert (lease.lease_end - lease.lease_start).total_seconds() == 3600


def test_odd_fragmented_and_truncated_packets_do_not_break_anything(tmp_path: Path) -> None:
    big = (
        IP(src="10.0.0.5", dst="10.0.0.1")
        / UDP(sport=40001, dport=53)
        / DNS(id=9, qd=DNSQR(qname="frag.example.org"))
        / Raw(b"x" * 3000)
    )
    frags = [Ether() / f for f in fragment(big, fragsize=600)]
    v6 = (
        Ether()
        / IPv6(src="fd00::5", dst="fd00::1")
        / UDP(sport=40002, dport=53)
        / DNS(id=10, qd=DNSQR(qname="six.example.org", qtype="AAAA"))
    )
    http = (
        Ether()
        / IP(src="10.0.0.5", dst="10.0.0.9")
        / TCP(sport=40003, dport=80, flags="PA")
        / Raw(b"GET /watch?v=1 HTTP/1.1\r\nHost: www.example.com:8080\r\nUser-Agent: x\r\n\r\n")
    )
    loop = (
        Ether()
        / IP(src="10.0.0.5", dst="10.0.0.1")
        / UDP(sport=40004, dport=53)
        / Raw(bytes.fromhex("0001 0000 0001 0000 0000 0000 c00c 0001 0001"))
    )  # a pointer to itself
    junk = Ether() / Raw(b"\xff" * 7)
    packets = [*frags, v6, http, loop, junk]
    path = write(tmp_path, packets)
    # A capture with a short snap length cuts every packet.
    short = write_truncated(tmp_path / "short.pcap", packets, snaplen=40)
    parsed = parse_file(path)
    names = [e.domain for p in parsed for e in p.events]
    assert names == ["frag.example.org", "six.example.org", "www.example.com"]
    http_event = next(e for p in parsed for e in p.events if e.kind is EventKind.HTTP)
    assert http_event.url == "http://www.example.com/watch?v=1"
    cut = parse_file(short)
    assert len(cut) == len(packets)
    assert all(p.rejected is None for p in cut)


@given(st.binary(max_size=300), st.sampled_from([0, 1, 101, 113, 228, 229, 276, 999]))
@settings(max_examples=400)
def test_any_bytes_parse_without_raising(frame: bytes, linktype: int) -> None:
    ctx = type(CTX)(CTX.tz, CTX.reference, Origin("f", "x", 0))
    parsed = PARSER.session().parse_bytes(pack_record(1.7e9, linktype, frame), ctx)
    assert isinstance(parsed, Parsed)


def test_a_record_without_its_header_is_rejected() -> None:
    assert PARSER.session().parse_bytes(b"\x01\x02", CTX).rejected


def test_the_record_header_is_as_documented() -> None:
    from collectors.parsers import pcap

    assert pcap.HEADER.size == 12
    assert pcap.__doc__ is not None
    assert "a 12-byte header" in pcap.__doc__
    assert pcap.HEADER.unpack(pack_record(1.5, 1, b"")) == (1.5, 1)
