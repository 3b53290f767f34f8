"""The ISC dhcpd.leases parser against real lease databases, annotated samples and fuzz."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.parsers.base import ParseContext
from collectors.parsers.dhcpd_leases import PARSER, DhcpdLeasesSession, mac_of_duid
from monitord.core.model import SKIP, Event, EventKind, Parsed
from tests.collectors.parsers.fixturelines import check_parsed
from tests.conftest import FIXTURES

REFERENCE = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
CTX = ParseContext(ZoneInfo("Europe/London"), REFERENCE)
LEASES = FIXTURES / "dhcpd-leases"
FILES = (
    sorted(p for p in LEASES.iterdir() if p.is_file() and p.suffix != ".md")
    if LEASES.is_dir()
    else []
)
_WHEN = re.compile(r"(starts|ends|cltt) \d (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d);")


def _lines(path: Path) -> list[str]:
    return [raw.decode("utf-8", "replace").rstrip("\r") for raw in path.read_bytes().split(b"\n")]


def _run(lines: list[str], session: DhcpdLeasesSession | None = None) -> list[Parsed]:
    s = session or DhcpdLeasesSession()
    return [s.parse(line, CTX) for line in lines]


def _utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)


def _expected(text: str) -> list[dict[str, Any]]:
    """The test's own reading of a leases file: each active lease and active DHCPv6 address,
    with the values its block states."""
    out: list[dict[str, Any]] = []
    for m in re.finditer(r"^lease (\S+) \{\n(.*?)^\}", text, re.M | re.S):
        body = m[2]
        if "binding state active;" not in body.replace("next binding", "").replace(
            "rewind binding", ""
        ):
            continue
        times = {k: _utc(v) for k, v in _WHEN.findall(body)}
        mac = re.search(r"hardware ethernet ([0-9a-f:]+);", body)
        host = re.search(r'client-hostname "([^"]*)";', body)
        out.append(
            {
                "client_ip": m[1],
                "client_mac": mac[1] if mac else None,
                "hostname": host[1] if host else None,
                "ts": times["starts"],
                "lease_start": times["starts"],
                "lease_end": times["ends"],
            }
        )
    for m in re.finditer(r"^ia-na .*? \{\n(.*?)^\}", text, re.M | re.S):
        body = m[1]
        first = _WHEN.search(body)
        assert first is not None
        cltt = _utc(first[2])
        for a in re.finditer(r"iaaddr (\S+) \{\n(.*?)\n\s*\}", body, re.S):
            if "binding state active;" in a[2]:
                out.append(
                    {
                        "client_ip": a[1],
                        "ts": cltt,
                        "lease_start": cltt,
                        "lease_end": _utc(_WHEN.findall(a[2])[0][1]),
                    }
                )
    return out


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_fixture_line_is_read_and_active_leases_are_events(path: Path) -> None:
    lines = _lines(path)
    parsed = _run(lines)
    for n, p in enumerate(parsed, 1):
        assert p.rejected is None, f"{path.name}:{n} rejected: {p.rejected}"
        if p.events:
            # Events come only at the closing brace of a top-level block.
            assert lines[n - 1].strip() == "}", f"{path.name}:{n}"
    events = [ev for p in parsed for ev in p.events]
    expected = _expected(path.read_text(encoding="utf-8", errors="replace"))
    assert len(events) == len(expected)
    for ev, want in zip(events, expected, strict=True):
        assert ev.kind is EventKind.LEASE
        assert {k: getattr(ev, k) for k in want} == want


def _file(prefix: str) -> list[str]:
    (path,) = (p for p in FILES if p.name.startswith(prefix))
    return _lines(path)


def _events(prefix: str) -> list[Event]:
    return [ev for p in _run(_file(prefix)) for ev in p.events]


def test_fixture_pfsense_exact_values() -> None:
    first, second = _events("pyiscdhcp-pfsense")
    assert first == Event(
        kind=EventKind.LEASE,
        ts=datetime(2015, 7, 6, 7, 50, 42, tzinfo=UTC),
        client_ip="10.0.10.72",
        client_mac="64:5a:04:6a:07:a2",
        hostname="Satellite-C700",
        lease_start=datetime(2015, 7, 6, 7, 50, 42, tzinfo=UTC),
        lease_end=datetime(2015, 7, 6, 8, 20, 42, tzinfo=UTC),
    )
    assert (second.client_ip, second.hostname) == ("10.0.0.36", "Gebruiker-PC")


def test_fixture_free_backup_and_abandoned_leases_give_nothing() -> None:
    assert _events("netdata-dhcpd_leases_ipv4_inactive") == []  # all 'binding state free'
    assert _events("pyiscdhcp-debian7") == []  # free, and one abandoned
    assert _events("pyiscdhcp-static") == []
    backup = _events("netdata-dhcpd_leases_ipv4_backup")
    assert [e.client_ip for e in backup] == ["10.254.253.103", "192.168.3.11"]


def test_fixture_relay_options_without_indentation() -> None:
    (ev,) = _events("pyiscdhcp-options")
    assert (ev.client_ip, ev.client_mac, ev.hostname) == (
        "10.10.10.10",
        "24:65:11:d9:a6:b3",
        "KRONOS",
    )


def test_fixture_dhcpv6_addresses_with_mac_from_link_layer_duid() -> None:
    events = _events("pyiscdhcp-dhcpd6")
    # The two ia-na blocks give events; the two ia-pd (delegated prefixes) do not.
    assert [(e.client_ip, e.client_mac) for e in events] == [
        # DUID-LLT 0001 0001 1cf710a5 002722332b34 (the file's own 'set clientduid' agrees)
        ("2001:10:10::106", "00:27:22:33:2b:34"),
        ("2001:10:30::1fe", "00:25:90:6b:a1:34"),
    ]
    assert events[0].lease_start == datetime(2016, 1, 6, 14, 50, 34, tzinfo=UTC)
    assert events[0].lease_end == datetime(2016, 1, 6, 15, 4, 58, tzinfo=UTC)
    netdata = _events("netdata-dhcpd_leases_ipv6")
    assert netdata[0].client_ip == "2001:db8::"
    assert netdata[0].client_mac == "08:00:27:d7:df:ec"
    # DUIDs that are not Ethernet link-layer DUIDs name no MAC.
    assert [e.client_mac for e in netdata[1:]] == [None] * 5


@pytest.mark.parametrize(
    ("key", "mac"),
    [
        (
            b"\x01\x00\x00\x00" + b"\x00\x01\x00\x01" + b"\x1c\xf7\x10\xa5" + bytes(range(6)),
            "00:01:02:03:04:05",
        ),
        (
            b"IAID" + b"\x00\x01\x00\x01" + b"TIME" + b"\xaa\xbb\xcc\xdd\xee\xff",
            "aa:bb:cc:dd:ee:ff",
        ),
        (b"IAID" + b"\x00\x03\x00\x01" + b"\x00\x11\x22\x33\x44\x55", "00:11:22:33:44:55"),
        (b"IAID" + b"\x00\x03\x00\x06" + b"\x00\x11\x22\x33\x44\x55", None),  # not Ethernet
        (b"IAID" + b"\x00\x02" + b"\x00\x00\x00\x09" + b"serial", None),  # DUID-EN
        (b"IAID", None),
        (b"", None),
    ],
)
def test_mac_of_duid(key: bytes, mac: str | None) -> None:
    assert mac_of_duid(key) == mac


def test_resumed_inside_a_block_skips_to_the_next_declaration() -> None:
    lines = _file("pyiscdhcp-pfsense")
    start = next(i for i, line in enumerate(lines) if line.startswith("lease")) + 2
    parsed = _run(lines[start:])
    assert all(p.rejected is None for p in parsed)
    events = [ev for p in parsed for ev in p.events]
    assert [e.client_ip for e in events] == ["10.0.0.36"]  # the first block's end is lost


# Annotated samples in the manner of fail2ban's: each block (or line) fed to a fresh session,
# and what its last line must give: the events' fields, SKIP, or words of the rejection.

SAMPLES: list[tuple[str, list[dict[str, Any]] | Parsed | str]] = [
    # An active lease: its start and end, MAC and host name.
    (
        """lease 10.20.6.7 {
  starts 4 2026/11/19 08:05:00;
  ends 4 2026/11/19 20:05:00;
  cltt 4 2026/11/19 08:05:00;
  binding state active;
  next binding state free;
  hardware ethernet AA:00:00:00:00:07;
  uid "\\001\\252\\000\\000\\000\\000\\007";
  client-hostname "Y6-LT-07";
}""",
        [
            {
                "kind": EventKind.LEASE,
                "ts": datetime(2026, 11, 19, 8, 5, tzinfo=UTC),
                "lease_start": datetime(2026, 11, 19, 8, 5, tzinfo=UTC),
                "lease_end": datetime(2026, 11, 19, 20, 5, tzinfo=UTC),
                "client_ip": "10.20.6.7",
                "client_mac": "aa:00:00:00:00:07",
                "hostname": "Y6-LT-07",
            }
        ],
    ),
    # db-time-format local: epoch seconds, the local time as a comment; 'ends never'.
    (
        """lease 10.20.6.8 {
  starts epoch 1795075200; # Thu Nov 19 08:00:00 2026
  ends never;
  binding state active;
  hardware ethernet 0:1c:c0:7a:38:3f;
}""",
        [
            {
                "ts": datetime(2026, 11, 19, 8, 0, tzinfo=UTC),
                "lease_end": None,
                "client_mac": "00:1c:c0:7a:38:3f",
                "hostname": None,
            }
        ],
    ),
    # A host name with octal escapes and a brace inside a quoted string.
    (
        """lease 10.20.6.9 {
  starts 4 2026/11/19 08:05:00;
  ends 4 2026/11/19 20:05:00;
  binding state active;
  uid "\\001}{;";
  client-hostname "Zo\\303\\253's iPad";
}""",
        [{"hostname": "Zoë's iPad", "client_mac": None}],
    ),
    # Held by no one.
    ("lease 10.0.0.1 {\n binding state free;\n}", SKIP),
    ("lease 10.0.0.1 {\n binding state backup;\n}", SKIP),
    ("lease 10.0.0.1 {\n binding state expired;\n}", SKIP),
    ("lease 10.0.0.1 {\n binding state released;\n}", SKIP),
    ("lease 10.0.0.1 {\n  abandoned;\n}", SKIP),
    # A very old file without binding states: the lease is taken as held.
    (
        "lease 10.0.0.2 {\n starts 1 2001/01/01 00:00:00;\n ends 1 2001/01/01 01:00:00;\n"
        " hardware ethernet 00:11:22:33:44:55;\n}",
        [{"client_ip": "10.0.0.2", "client_mac": "00:11:22:33:44:55"}],
    ),
    # A lease block on one line.
    (
        "lease 10.0.0.3 { starts 1 2001/01/01 00:00:00; binding state active; }",
        [{"client_ip": "10.0.0.3", "ts": datetime(2001, 1, 1, tzinfo=UTC)}],
    ),
    # A static reservation, failover state, server DUID, comments: nothing.
    (
        "host ipad-7 {\n  dynamic;\n  hardware ethernet 00:11:22:33:44:55;\n"
        "  fixed-address 10.0.0.77;\n}",
        SKIP,
    ),
    (
        'failover peer "dhcp-failover" state {\n'
        "  my state normal at 3 2024/05/01 10:00:00;\n"
        "  partner state normal at 3 2024/05/01 10:00:01;\n}",
        SKIP,
    ),
    ('server-duid "\\000\\001\\000\\001\\036\\031\\350\\241\\000\\014)\\345\\0202";', SKIP),
    ("authoring-byte-order little-endian;", SKIP),
    ("# This lease file was written by isc-dhcp-4.4.2", SKIP),
    ("", SKIP),
    ('subclass "vendor" "MSFT 5.0" {\n  set x = "y";\n}', SKIP),
    # DHCPv6: two addresses in one association, one released; a DUID-LL names the MAC.
    (
        'ia-na "\\001\\002\\003\\004\\000\\003\\000\\001\\000\\021\\042\\063\\104\\125" {\n'
        "  cltt 2 2024/05/07 10:00:00;\n"
        "  iaaddr 2001:db8::10 {\n    binding state active;\n"
        "    ends 2 2024/05/07 22:00:00;\n  }\n"
        "  iaaddr 2001:db8::11 {\n    binding state released;\n  }\n}",
        [
            {
                "client_ip": "2001:db8::10",
                "client_mac": "00:11:22:33:44:55",
                "lease_start": datetime(2024, 5, 7, 10, tzinfo=UTC),
                "lease_end": datetime(2024, 5, 7, 22, tzinfo=UTC),
            }
        ],
    ),
    # A delegated prefix is a router's, not a client's address.
    (
        'ia-pd "\\001\\002\\003\\004" {\n  cltt 2 2024/05/07 10:00:00;\n'
        "  iaprefix 2001:db8:1::/56 {\n    binding state active;\n  }\n}",
        SKIP,
    ),
    # Not this format.
    ("lease 10.0.0.300 {", "lease address '10.0.0.300' is not an IP"),
    ("lease 10.0.0.4 {\n  hardware ethernet 00:11:22;", "is not a MAC address"),
    ("lease 10.0.0.4 {\n  starts 1 yesterday;", "is not a dhcpd time"),
    ("lease 10.0.0.4 {\n  starts 1 2024/02/30 00:00:00;", "is not a dhcpd time"),
    ('lease 10.0.0.4 {\n  client-hostname "open', "quoted string is not closed"),
    ("Dec  3 08:51:27 dnsmasq[1068]: query[A] daisy.ubuntu.com from 192.0.2.5", "ending in ';'"),
    ('{"ts": 1}', "expected a keyword before '{'"),
    ("lease 10.0.0.4 { starts }", "expected ';' before '}'"),
    ("; ;", "expected a keyword before ';'"),
]


@pytest.mark.parametrize(("block", "expected"), SAMPLES)
def test_annotated_sample(block: str, expected: list[dict[str, Any]] | Parsed | str) -> None:
    *before, last = _run(block.split("\n"))
    for p in before:
        assert p == SKIP, p  # every line inside a block is skipped
    if isinstance(expected, list):
        assert last.rejected is None, last.rejected
        assert len(last.events) == len(expected)
        for ev, want in zip(last.events, expected, strict=True):
            assert ev.kind is EventKind.LEASE
            assert {name: getattr(ev, name) for name in want} == want
    elif isinstance(expected, Parsed):
        assert last == expected
    else:
        assert last.events == ()
        assert last.rejected is not None
        assert expected in last.rejected


def test_a_rejected_line_inside_a_block_does_not_lose_the_lease() -> None:
    parsed = _run(
        [
            "lease 10.0.0.5 {",
            "  starts 1 2024/01/01 08:00:00;",
            "  hardware ethernet 00:11:22;",
            "  hardware ethernet 00:11:22:33:44:55;",
            "  binding state active;",
            "}",
        ]
    )
    assert parsed[2].rejected is not None
    (ev,) = parsed[-1].events
    assert (ev.client_ip, ev.client_mac) == ("10.0.0.5", "00:11:22:33:44:55")


def _check_total(parsed: Parsed) -> None:
    check_parsed(parsed)
    assert all(ev.kind is EventKind.LEASE for ev in parsed.events)


_STATEMENTS = st.sampled_from(
    [
        "lease 10.0.0.9 {",
        "lease ::1 {",
        'ia-na "\\001\\002\\003\\004\\000\\003\\000\\001abcdef" {',
        'ia-ta "x" {',
        'ia-pd "x" {',
        "iaaddr 2001:db8::1 {",
        "iaaddr nope {",
        'host "x" {',
        "on expiry {",
        "}",
        "{",
        "starts 1 2024/01/01 00:00:00;",
        "starts epoch 99999999999999999999;",
        "ends never;",
        "cltt 0 9999/12/31 23:59:59;",
        "binding state active;",
        "binding state free;",
        "hardware ethernet 00:11:22:33:44:55;",
        'client-hostname "\\377\\376";',
        "abandoned;",
        "# comment",
        "",
    ]
)


@settings(max_examples=300)
@given(st.lists(st.one_of(_STATEMENTS, st.text(max_size=40)), max_size=40))
def test_fuzz_sequences_never_raise(lines: list[str]) -> None:
    session = PARSER.session()
    for line in lines:
        _check_total(session.parse(line, CTX))
    assert session.depth >= 0
