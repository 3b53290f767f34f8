"""The listen address, the allow list and the kernel's UDP drop counter."""

from __future__ import annotations

import pytest

from monitord.settings.listen import (
    ListenAddress,
    allowed,
    check_host,
    parse_allow,
    parse_listen,
)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("udp://0.0.0.0:514", ListenAddress("udp", "0.0.0.0", 514)),
        ("tcp://[::]:6514", ListenAddress("tcp", "::", 6514)),
        ("tls://10.20.0.5:6514", ListenAddress("tls", "10.20.0.5", 6514)),
        ("tcp://localhost:5514", ListenAddress("tcp", "localhost", 5514)),
    ],
)
def test_listen_addresses(text: str, want: ListenAddress) -> None:
    got = parse_listen(text)
    assert got == want
    assert parse_listen(str(got)) == got


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0.0.0.0:514", "expected udp://ADDRESS:PORT"),
        ("http://0.0.0.0:514", "unknown scheme 'http'"),
        ("udp://0.0.0.0:70000", "not between 1 and 65535"),
        ("udp://0.0.0.0:0", "not between 1 and 65535"),
        ("tcp://[zz::1]:514", "not an IPv6 address"),
        ("udp://0.0.0.0", "expected udp://ADDRESS:PORT"),
        ("udp://10.0.0.256:514", "'10.0.0.256' is not a host name or an IP address"),
        ("udp://syslog host:514", "'syslog host' is not a host name"),
    ],
)
def test_bad_listen_addresses_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_listen(text)


def test_loopback() -> None:
    assert parse_listen("udp://127.0.0.1:5514").loopback
    assert parse_listen("udp://[::1]:5514").loopback
    assert not parse_listen("udp://0.0.0.0:514").loopback


def test_allow_list() -> None:
    nets = parse_allow(["10.20.0.1", "192.168.0.0/24", "2001:db8::/32"])
    assert allowed("10.20.0.1", nets)
    assert not allowed("10.20.0.2", nets)
    assert allowed("192.168.0.77", nets)
    assert allowed("::ffff:192.168.0.9", nets)  # IPv4 on a dual-stack socket
    assert allowed("2001:db8::5", nets)
    assert not allowed("not an address", nets)
    assert not allowed("10.20.0.1", ())


def test_allow_entry_that_is_no_network_is_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not an address or CIDR"):
        parse_allow(["10.0.0.0/8", "10.0.0.0/33"])


@pytest.mark.parametrize(
    "host",
    [
        "mail.school.example",
        "mail.school.example.",
        "SMTP-1",
        "fs_01.school.local",
        "10.20.0.5",
        "::1",
        "fe80::1%eth0",
        "localhost",
        "xn--bcher-kva.example",
    ],
)
def test_hosts(host: str) -> None:
    assert check_host(host) == host


@pytest.mark.parametrize(
    "host",
    [
        "",
        "mail server",
        "10.0.0.256",
        "1.2.3",
        "-mail.example",
        "mail-.example",
        "a..b",
        "smtp://mail.example",
        "mail.example:25",
        "user@mail.example",
        "a" * 64 + ".example",
    ],
)
def test_not_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="is not a host name or an IP address"):
        check_host(host)
