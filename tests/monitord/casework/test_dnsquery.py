"""One DNS question to one resolver: the address given, the reply read as hostile, and a
real exchange over loopback (UDP, and TCP after a truncated reply)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSRR

from monitord.casework.dnsquery import AAAA, Answer, DnsError, ask, parse_server, read_reply


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("10.20.0.1", ("10.20.0.1", 53)),
        ("10.20.0.1:5353", ("10.20.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
    ],
)
def test_resolver_addresses(text: str, server: tuple[str, int]) -> None:
    assert parse_server(text) == server


@pytest.mark.parametrize("text", ["dns.school.example", "10.0.0.1:x", "[::1]x", "1.2.3.4:0"])
def test_bad_resolver_addresses(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected|not an IP address|not between"):
        parse_server(text)


def test_a_hostile_reply_is_refused() -> None:
    query = b"\x12\x34" + bytes(10)
    with pytest.raises(DnsError, match="another question"):
        read_reply(b"\x99\x99" + bytes(10), query)
    looping = b"\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x01a" * 200
    with pytest.raises(DnsError, match=r"cut short|too long"):
        read_reply(looping, query)


@given(st.binary(max_size=300))
def test_any_reply_is_an_answer_or_a_dns_error(data: bytes) -> None:
    query = b"\x12\x34" + bytes(10)
    try:
        answer, truncated = read_reply(b"\x12\x34" + data, query)
    except DnsError:
        return
    assert isinstance(answer, Answer)
    assert isinstance(truncated, bool)


Reply = Callable[[DNS], DNS]


@contextmanager
def resolver(reply: Reply, *, tcp_reply: Reply | None = None) -> Iterator[tuple[str, int]]:
    """A resolver on loopback answering each question with ``reply`` over UDP (and with
    ``tcp_reply`` over TCP on the same port)."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(1)
    udp.settimeout(5)
    tcp.settimeout(5)

    def serve_udp() -> None:
        try:
            data, peer = udp.recvfrom(4096)
        except OSError:
            return
        udp.sendto(bytes(reply(DNS(data))), peer)

    def serve_tcp() -> None:
        if tcp_reply is None:
            return
        try:
            conn, _ = tcp.accept()
        except OSError:
            return
        with conn:
            size = struct.unpack("!H", conn.recv(2))[0]
            answer = bytes(tcp_reply(DNS(conn.recv(size))))
            conn.sendall(struct.pack("!H", len(answer)) + answer)

    threads = [threading.Thread(target=serve_udp), threading.Thread(target=serve_tcp)]
    for t in threads:
        t.start()
    try:
        yield "127.0.0.1", port
    finally:
        udp.close()
        tcp.close()
        for t in threads:
            t.join(5)


def _answer(*addresses: str, rcode: int = 0, tc: int = 0) -> Reply:
    def reply(q: DNS) -> DNS:
        name = q.qd[0].qname
        records = [DNSRR(rrname=name, type="AAAA" if ":" in a else "A", rdata=a) for a in addresses]
        return DNS(id=q.id, qr=1, rd=1, ra=1, rcode=rcode, tc=tc, qd=q.qd, an=records)

    return reply


def test_an_answer_over_udp() -> None:
    with resolver(_answer("192.0.2.7", "192.0.2.8")) as server:
        assert ask(server, "www.bbc.co.uk") == Answer("NOERROR", ("192.0.2.7", "192.0.2.8"))


def test_a_refusal_and_an_ipv6_sinkhole() -> None:
    with resolver(_answer(rcode=5)) as server:
        assert ask(server, "www.bet365.com") == Answer("REFUSED")
    with resolver(_answer("::")) as server:
        assert ask(server, "www.bet365.com", AAAA) == Answer("NOERROR", ("::",))


def test_a_truncated_answer_is_asked_again_over_tcp() -> None:
    with resolver(_answer(tc=1), tcp_reply=_answer("203.0.113.9")) as server:
        assert ask(server, "big.example.org") == Answer("NOERROR", ("203.0.113.9",))


def test_no_answer_and_no_name_are_one_line_each() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet:
        quiet.bind(("127.0.0.1", 0))
        port = quiet.getsockname()[1]
        with pytest.raises(DnsError, match=f"no answer from 127.0.0.1 port {port} in 0s"):
            ask(("127.0.0.1", port), "www.bbc.co.uk", timeout=0.2)
    with pytest.raises(DnsError, match="is not a domain name"):
        ask(("127.0.0.1", 53), "a..b")
