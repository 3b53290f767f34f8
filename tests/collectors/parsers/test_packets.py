"""The fast-path dissector under the pcap format, checked against packets scapy builds:
link layers, IP and its transports, DNS, TLS ClientHellos, HTTP requests, DHCPACKs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import CookedLinux, Dot1Q, Ether, Loopback
from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS

from collectors.parsers.packets import (
    ETHERNET,
    LINUX_SLL,
    NULL,
    RAW,
    ClientHello,
    DhcpAck,
    DnsMessage,
    Flow,
    HttpRequest,
    client_hello,
    dhcp_ack,
    dns_message,
    http_request,
    network_payload,
    transport,
)

UDP4 = IP(src="10.20.6.7", dst="10.20.0.1") / UDP(sport=40000, dport=53) / b"payload"


@pytest.mark.parametrize(
    ("linktype", "frame"),
    [
        (ETHERNET, bytes(Ether() / UDP4)),
        (ETHERNET, bytes(Ether() / Dot1Q(vlan=20) / UDP4)),
        (LINUX_SLL, bytes(CookedLinux(proto=0x0800) / UDP4)),
        (NULL, bytes(Loopback(type=2) / UDP4)),
        (RAW, bytes(UDP4)),
    ],
)
def test_each_link_layer_gives_the_ip_packet(linktype: int, frame: bytes) -> None:
    assert network_payload(linktype, frame) == (4, bytes(UDP4))


def test_an_unknown_link_layer_or_a_short_frame_gives_nothing() -> None:
    assert network_payload(999, bytes(Ether() / UDP4)) is None
    assert network_payload(ETHERNET, b"\x00" * 13) is None


def test_udp_and_tcp_flows_over_ipv4_and_ipv6() -> None:
    assert transport(4, bytes(UDP4)) == Flow("10.20.6.7", "10.20.0.1", 40000, 53, False, b"payload")
    tcp6 = IPv6(src="fd00::7", dst="fd00::1") / TCP(sport=40001, dport=80) / b"GET"
    assert transport(6, bytes(tcp6)) == Flow("fd00::7", "fd00::1", 40001, 80, True, b"GET")


def test_a_later_fragment_has_no_flow() -> None:
    later = IP(src="10.20.6.7", dst="10.20.0.1", frag=185, proto=17) / (b"x" * 40)
    assert transport(4, bytes(later)) is None


def test_a_dns_query_and_its_sinkholed_answer() -> None:
    query = DNS(id=7, rd=1, qd=DNSQR(qname="www.Bet365.com", qtype="AAAA"))
    assert dns_message(bytes(query), tcp=False) == DnsMessage(
        7, False, "NOERROR", (("www.bet365.com", "AAAA"),), False
    )
    answer = DNS(
        id=7,
        qr=1,
        qd=DNSQR(qname="www.bet365.com"),
        an=DNSRR(rrname="www.bet365.com", rdata="0.0.0.0"),
    )
    msg = dns_message(bytes(answer), tcp=False)
    assert msg is not None
    assert (msg.response, msg.sinkholed, msg.name) == (True, True, "www.bet365.com")
    raw = bytes(query)
    assert dns_message(len(raw).to_bytes(2, "big") + raw, tcp=True) == dns_message(raw, tcp=False)


def test_a_tls_client_hello_names_its_server() -> None:
    hello = TLS(
        msg=[
            TLSClientHello(
                ext=[TLS_Ext_ServerName(servernames=[ServerName(servername=b"www.youtube.com")])]
            )
        ]
    )
    assert client_hello(bytes(hello)) == ClientHello("www.youtube.com", False)
    assert client_hello(b"\x16\x03\x01") is None


def test_an_http_request_line_and_its_host() -> None:
    request = b"GET /watch?v=1 HTTP/1.1\r\nUser-Agent: x\r\nHost: WWW.Example.org\r\n\r\n"
    assert http_request(request) == HttpRequest("GET", "www.example.org", "/watch?v=1")
    assert http_request(b"GET / HTTP/1.0\r\n\r\n") == HttpRequest("GET", None, "/")
    assert http_request(b"HTTP/1.1 200 OK\r\n\r\n") is None


def _dhcp(message_type: str, yiaddr: str = "10.20.6.7") -> bytes:
    return bytes(
        BOOTP(op=2, yiaddr=yiaddr, chaddr=bytes.fromhex("aa0000000007"))
        / DHCP(
            options=[
                ("message-type", message_type),
                ("lease_time", 3600),
                ("hostname", b"Y6-LT-07"),
                ("vendor_class_id", b"MSFT 5.0"),
                "end",
            ]
        )
    )


def test_a_dhcpack_binds_the_address_to_the_mac() -> None:
    assert dhcp_ack(_dhcp("ack")) == DhcpAck(
        "10.20.6.7", "aa:00:00:00:00:07", "Y6-LT-07", "MSFT 5.0", 3600
    )
    assert dhcp_ack(_dhcp("offer")) is None
    assert dhcp_ack(_dhcp("ack", yiaddr="0.0.0.0")) is None


RESULTS = (tuple, Flow, DnsMessage, ClientHello, HttpRequest, DhcpAck)


@given(st.binary(max_size=400), st.booleans())
def test_any_bytes_give_a_frozen_result_or_nothing(data: bytes, tcp: bool) -> None:
    for got in (
        network_payload(ETHERNET, data),
        transport(4, data),
        transport(6, data),
        dns_message(data, tcp),
        client_hello(data),
        http_request(data),
        dhcp_ack(data),
    ):
        assert got is None or isinstance(
            got, tuple | Flow | DnsMessage | ClientHello | HttpRequest | DhcpAck
        )
