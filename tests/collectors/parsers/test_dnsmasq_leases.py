"""The dnsmasq leases-file parser against real lease files, precise samples and fuzz."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.base import ParseContext
from collectors.parsers.dnsmasq_leases import PARSER, parse_line
from monitord.core.model import SKIP, Event, EventKind
from tests.collectors.parsers.fixturelines import check_parsed, numbered_lines
from tests.conftest import FIXTURES

REFERENCE = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
CTX = ParseContext(ZoneInfo("Europe/London"), REFERENCE)
LEASES = FIXTURES / "dnsmasq-leases"
FILES = (
    sorted(p for p in LEASES.iterdir() if p.is_file() and p.suffix != ".md")
    if LEASES.is_dir()
    else []
)


_lines = numbered_lines


def _lease(line: str) -> Event:
    parsed = parse_line(line, CTX)
    assert parsed.rejected is None, parsed.rejected
    assert len(parsed.events) == 1
    return parsed.events[0]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_fixture_line_is_a_lease_or_the_duid(path: Path) -> None:
    lines = _lines(path)
    assert lines, f"{path.name} has no lines"
    for n, line in lines:
        parsed = PARSER.parse(line, CTX)
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        fields = line.split()
        if fields[0] == "duid":
            assert parsed == SKIP
            continue
        assert len(parsed.events) == 1, f"{path.name}:{n}"
        ev = parsed.events[0]
        assert ev.kind is EventKind.LEASE
        assert ev.client_ip == str(ipaddress.ip_address(fields[2]))
        assert ev.lease_end == datetime.fromtimestamp(int(fields[0]), UTC)
        assert ev.ts == ev.lease_end
        assert ev.hostname == (None if fields[3] == "*" else fields[3])
        if ipaddress.ip_address(fields[2]).version == 4:
            assert ev.client_mac == fields[1].lower()
        else:  # DHCPv6: the client's DUID names the device, not the IAID in the second field
            assert ev.client_mac == fields[4].lower()


def test_fixture_duid_line_is_skipped() -> None:
    """netdata's file holds the server's DUID line; it is known, and no lease."""
    duid = [(p.name, line) for p in FILES for _, line in _lines(p) if line.split()[0] == "duid"]
    assert len(duid) == 1
    assert parse_line(duid[0][1], CTX) == SKIP


def test_ipv4_lease() -> None:
    ev = _lease("1621641561 B8:BC:5B:C3:36:C5 172.17.4.250 TIZEN 01:b8:bc:5b:c3:36:c5")
    assert ev.kind is EventKind.LEASE
    assert ev.client_ip == "172.17.4.250"
    assert ev.client_mac == "b8:bc:5b:c3:36:c5"
    assert ev.hostname == "TIZEN"
    assert ev.lease_end == datetime(2021, 5, 21, 23, 59, 21, tzinfo=UTC)
    assert ev.ts == ev.lease_end


def test_star_hostname_is_none() -> None:
    ev = _lease("1621598715 08:02:8e:47:dd:cf 192.168.0.251 * 01:08:02:8e:47:dd:cf")
    assert ev.hostname is None
    assert ev.client_mac == "08:02:8e:47:dd:cf"


def test_four_fields_without_client_id() -> None:
    ev = _lease("1621598715 08:02:8e:47:dd:cf 192.168.0.251 laptop")
    assert (ev.client_ip, ev.client_mac, ev.hostname) == (
        "192.168.0.251",
        "08:02:8e:47:dd:cf",
        "laptop",
    )


def test_expiry_zero_is_a_lease_without_end() -> None:
    ev = _lease("0 08:02:8e:47:dd:cf 192.168.0.10 printer *")
    assert ev.lease_end is None
    assert ev.ts == REFERENCE  # placed at the time the file was written
    assert ev.client_mac == "08:02:8e:47:dd:cf"


def test_ipv6_lease_is_named_by_its_duid() -> None:
    ev = _lease("1560300414 660684014 1230::1 * 00:01:00:01:24:90:CF:A3:08:00:27:61:3c:ee")
    assert ev.client_ip == "1230::1"
    assert ev.client_mac == "00:01:00:01:24:90:cf:a3:08:00:27:61:3c:ee"


@pytest.mark.parametrize(
    "line",
    [
        "1560300414 660684014 1230::1 host *",  # dnsmasq writes * when the client sent no id
        "1560300414 660684014 1230::1 host",
    ],
)
def test_ipv6_lease_without_client_id_names_no_device(line: str) -> None:
    """Neither the IAID (a per-interface number) nor '*' may pose as a device's address."""
    ev = _lease(line)
    assert ev.client_ip == "1230::1"
    assert ev.client_mac is None
    assert ev.hostname == "host"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "empty line"),
        ("1621598715 08:02:8e:47:dd:cf 192.168.0.251", "expected 'expiry mac ip hostname"),
        ("soon 08:02:8e:47:dd:cf 192.168.0.251 * *", "expiry 'soon' is not a Unix time"),
        ("-5 08:02:8e:47:dd:cf 192.168.0.251 * *", "expiry '-5' is not a Unix time"),
        ("\u00b2 08:02:8e:47:dd:cf 192.168.0.251 * *", "is not a Unix time"),
        ("1621598715 08:02:8e:47:dd 192.168.0.251 * *", "'08:02:8e:47:dd' is not a MAC address"),
        ("1621598715 08-02-8e-47-dd-cf 192.168.0.251 * *", "is not a MAC address"),
        ("1621598715 zz:02:8e:47:dd:cf 192.168.0.251 * *", "is not a MAC address"),
        ("1621598715 08:02:8e:47:dd:cf 192.168.0.256 * *", "'192.168.0.256' is not an IP"),
        ("1621598715 08:02:8e:47:dd:cf laptop * *", "'laptop' is not an IP address"),
        ("99999999999999999999 08:02:8e:47:dd:cf 192.168.0.1 * *", "out of range"),
    ],
)
def test_bad_lines_are_rejected(line: str, reason: str) -> None:
    parsed = parse_line(line, CTX)
    assert parsed.events == ()
    assert parsed.rejected is not None
    assert reason in parsed.rejected


def _check_total(line: str) -> None:
    check_parsed(PARSER.parse(line, CTX), line, most=1)


@given(
    st.one_of(st.integers(-10, 10**20).map(str), st.text(min_size=1, max_size=5)),
    st.one_of(st.just("08:02:8e:47:dd:cf"), st.text(min_size=1, max_size=20)),
    st.one_of(st.ip_addresses().map(str), st.text(min_size=1, max_size=20)),
    st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3),
)
def test_fuzz_lease_shaped_lines_never_raise(
    expiry: str, mac: str, ip: str, rest: list[str]
) -> None:
    _check_total(" ".join([expiry, mac, ip, *rest]))
