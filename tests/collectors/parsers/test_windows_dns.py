"""The Windows DNS Server debug-log parser against real logs, annotated samples and fuzz."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.base import ParseContext
from collectors.parsers.windows_dns import DATE_ORDERS, PARSER, DateOrder, decode_name, make_parser
from monitord.core.model import SKIP, EventKind, Parsed
from tests.collectors.parsers.fixturelines import check_parsed, check_sample, fixture_line
from tests.conftest import FIXTURES

LONDON = ZoneInfo("Europe/London")
REFERENCE = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
CTX = ParseContext(LONDON, REFERENCE)
WINDNS = FIXTURES / "windows-dns"
LOGS = (
    sorted(p for p in WINDNS.iterdir() if p.is_file() and p.suffix != ".md")
    if WINDNS.is_dir()
    else []
)
# A query received from a client: Rcv, no R before the opcode, opcode Q.
RECEIVED_QUERY = re.compile(r" PACKET +\S+ +(?:UDP|TCP) +Rcv +(?P<ip>\S+) +\S+ +Q \[")


def _lines(path: Path) -> list[tuple[int, str]]:
    # Blank lines are kept: the debug log's header has them, and they must be skipped.
    return [
        (n, raw.decode("utf-8", "replace").rstrip("\r"))
        for n, raw in enumerate(path.read_bytes().split(b"\n"), 1)
        if raw
    ]


def _fixture_line(text: str) -> str:
    return fixture_line(LOGS, text)


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_every_fixture_line_is_an_event_or_known(path: Path) -> None:
    events = 0
    for n, line in _lines(path):
        parsed = PARSER.parse(line, CTX)
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        query = RECEIVED_QUERY.search(line)
        if query is not None:
            assert len(parsed.events) == 1, f"{path.name}:{n}"
            ev = parsed.events[0]
            assert ev.kind is EventKind.DNS
            assert ev.client_ip == query["ip"]
            assert ev.domain
            assert "(" not in ev.domain
            assert not ev.domain.startswith(".")
            assert not ev.domain.endswith(".")
            assert ev.qtype == "A"
            assert ev.ts.tzinfo is UTC
            events += 1
        else:
            # Sent packets (to forwarders, answers to clients) and received responses.
            assert parsed == SKIP, f"{path.name}:{n} gave {parsed}"
    assert events > 0


def test_fixture_us_date_exact_values() -> None:
    """6/5/2013 10:00:32 AM in US order is 5 June 2013, BST: 09:00:32Z."""
    (ev,) = PARSER.parse(_fixture_line("6/5/2013 10:00:32 AM"), CTX).events
    assert ev.ts == datetime(2013, 6, 5, 9, 0, 32, tzinfo=UTC)
    assert (ev.client_ip, ev.domain, ev.qtype) == ("10.161.60.71", "somecomputer.domain.com", "A")


def test_fixture_day_first_date_is_read_even_by_the_us_parser() -> None:
    """22/12/2021 21:46:04 cannot be month 22: it is 22 December, GMT."""
    line = _fixture_line("Rcv 10.20.0.6")
    for parser in (PARSER, make_parser("dmy"), make_parser("ymd")):
        (ev,) = parser.parse(line, CTX).events
        assert ev.ts == datetime(2021, 12, 22, 21, 46, 4, tzinfo=UTC)
        assert (ev.client_ip, ev.domain) == ("10.20.0.6", "login.live.com")


# Annotated samples, in the manner of fail2ban's sample logs: each line with what it must give,
# either the Event fields it must have, SKIP (a known line with no event of its own), or the
# words the rejection reason must contain.
SAMPLES: list[tuple[str, dict[str, Any] | Parsed | str]] = [
    # A client's query, US date and 12-hour time (the default locale).
    (
        "6/5/2013 10:20:46 AM 0E70 PACKET  00000000033397A0 UDP Rcv 10.161.60.71    5b47   Q "
        "[0001   D   NOERROR] A      (7)example(3)com(0)",
        {
            "kind": EventKind.DNS,
            "ts": datetime(2013, 6, 5, 9, 20, 46, tzinfo=UTC),
            "client_ip": "10.161.60.71",
            "domain": "example.com",
            "qtype": "A",
            "action": None,
            "blocked": False,
        },
    ),
    # A stray backtick after the name, and one before the date (lines copied out of a
    # script's or a README's code block).
    (
        "6/11/2026 2:40:00 PM 0E64 PACKET 00000035E1A2BA00 UDP Rcv 10.0.1.50 0001 Q "
        "[0001 D SERVFAIL] A (3)api(8)internal(4)corp(3)com(0)`",
        {"client_ip": "10.0.1.50", "domain": "api.internal.corp.com", "qtype": "A"},
    ),
    (
        "`6/11/2026 2:32:08 PM 0E64 PACKET 00000035E1A2B3C4 UDP Rcv 10.0.1.50 0001 Q "
        "[0001 D NOERROR] A (4)mail(7)contoso(3)com(0)",
        {"client_ip": "10.0.1.50", "domain": "mail.contoso.com"},
    ),
    # Afternoon, winter; TCP; a longer name with upper case.
    (
        "11/20/2026 3:05:09 PM 0714 PACKET  000000002CC599A0 TCP Rcv 10.20.6.7       3434   Q "
        "[0001   D   NOERROR] AAAA   (3)WWW(6)Google(2)co(2)uk(0)",
        {
            "ts": datetime(2026, 11, 20, 15, 5, 9, tzinfo=UTC),
            "domain": "www.google.co.uk",
            "qtype": "AAAA",
        },
    ),
    # 12 AM is midnight, 12 PM noon.
    (
        "11/20/2026 12:00:01 AM 0714 PACKET  0000 UDP Rcv 10.20.6.7 3434   Q [0001   D   NOERROR] "
        "A (1)a(7)example(0)",
        {"ts": datetime(2026, 11, 20, 0, 0, 1, tzinfo=UTC)},
    ),
    (
        "11/20/2026 12:00:01 PM 0714 PACKET  0000 UDP Rcv 10.20.6.7 3434   Q [0001   D   NOERROR] "
        "A (1)a(7)example(0)",
        {"ts": datetime(2026, 11, 20, 12, 0, 1, tzinfo=UTC)},
    ),
    # ISO date, 24-hour time; a dotted name; an IPv6 client.
    (
        "2026-07-03 14:00:00 0E1C PACKET  0000017DEDFE28D0 UDP Rcv 2001:db8::7    966f   Q "
        "[0001   D   NOERROR] HTTPS  .Login.Live.com.",
        {
            "ts": datetime(2026, 7, 3, 13, 0, tzinfo=UTC),
            "client_ip": "2001:db8::7",
            "domain": "login.live.com",
            "qtype": "HTTPS",
        },
    ),
    # Day-first with a day <= 12: the US default reads it as month-first (3 April, BST)...
    (
        "4/3/2026 09:00:00 0E1C PACKET  0000 UDP Rcv 10.0.0.1 966f   Q [0001   D   NOERROR] A "
        "(1)a(7)example(0)",
        {"ts": datetime(2026, 4, 3, 8, 0, tzinfo=UTC)},
    ),
    # ...and a 13th proves the day comes first (13 April).
    (
        "13/4/2026 09:00:00 0E1C PACKET  0000 UDP Rcv 10.0.0.1 966f   Q [0001   D   NOERROR] A "
        "(1)a(7)example(0)",
        {"ts": datetime(2026, 4, 13, 8, 0, tzinfo=UTC)},
    ),
    # A German-style date with dots and a two-digit year.
    (
        "22.12.21 21:46:04 0E1C PACKET  0000 UDP Rcv 10.20.0.6 966f   Q [0001   D   NOERROR] A "
        "(5)login(4)live(3)com(0)",
        {"ts": datetime(2021, 12, 22, 21, 46, 4, tzinfo=UTC)},
    ),
    # Labels whose lengths do not add up: each (n) read as a dot.
    (
        "6/5/2013 10:20:46 AM 0E70 PACKET  0000 UDP Rcv 10.0.0.1 5b47   Q [0001   D   NOERROR] A "
        "(2)odd(3)com(0)",
        {"domain": "odd.com"},
    ),
    # The server's own query to its forwarder, and every response: no event.
    (
        "22/12/2021 21:46:04 0E1C PACKET  0000017DEDE1F920 UDP Snd 8.8.4.4         624d   Q "
        "[0001   D   NOERROR] A      (5)login(4)live(3)com(0)",
        SKIP,
    ),
    (
        "22/12/2021 21:46:04 0E1C PACKET  0000017DECC585B0 UDP Rcv 8.8.4.4         624d R Q "
        "[8081   DR  NOERROR] A      (5)login(4)live(3)com(0)",
        SKIP,
    ),
    (
        "22/12/2021 21:46:04 0E1C PACKET  0000017DEDFE28D0 UDP Snd 10.20.0.6       966f R Q "
        "[8385 A DR NXDOMAIN] A      (5)login(4)live(3)com(0)",
        SKIP,
    ),
    # Dynamic updates and notifies received are not lookups.
    (
        "6/5/2013 10:20:46 AM 0E70 PACKET  0000 UDP Rcv 10.20.6.7 5b47   U [2800       NOERROR] "
        "SOA    (6)school(5)local(0)",
        SKIP,
    ),
    (
        "6/5/2013 10:20:46 AM 0E70 PACKET  0000 UDP Rcv 10.20.0.2 5b47   N [2400 A     NOERROR] "
        "SOA    (6)school(5)local(0)",
        SKIP,
    ),
    # A query for the root names no site.
    (
        "6/5/2013 10:20:46 AM 0E70 PACKET  0000 UDP Rcv 10.0.0.1 5b47   Q [0001   D   NOERROR] "
        "NS     (0)",
        SKIP,
    ),
    # The header and the server's own lines.
    ("DNS Server log file creation at 6/5/2013 10:20:39 AM", SKIP),
    ("\ufeffDNS Server log file creation at 6/5/2013 10:20:39 AM", SKIP),
    ("Log file wrap at 6/5/2013 10:20:39 AM", SKIP),
    ("Message logging key (for packets - other items use a subset of these fields):", SKIP),
    ("\tField #  Information         Values", SKIP),
    ("\t   1     Date", SKIP),
    ("\t                             blank = Query", SKIP),
    ("", SKIP),
    ("6/5/2013 10:20:40 AM 0E70 EVENT   The DNS server has started.", SKIP),
    (
        "6/5/2013 10:20:40 AM 0E70 Note: got GQCS failure on a dead socket context "
        "status=995, socket=516, pContext=0000000003365190",
        SKIP,
    ),
    # Packet details (the log's "Details" option).
    ("UDP question info at 00000000033397A0", SKIP),
    ("  Socket = 508", SKIP),
    ('    Name      "(7)example(3)com(0)"', SKIP),
    # Not this format.
    ("Dec  3 08:51:27 dnsmasq[1068]: query[A] daisy.ubuntu.com from 192.0.2.5", "not a Windows"),
    ("garbage", "not a Windows DNS debug log line"),
    # The format's shape, but a packet line that does not read.
    ("6/5/2013 10:20:46 AM 0E70 PACKET  rubbish", "unrecognised PACKET line"),
    # A date or time that does not exist.
    (
        "2/30/2013 10:20:46 AM 0E70 PACKET  0000 UDP Rcv 10.0.0.1 5b47   Q [0001   D   NOERROR] "
        "A (1)a(7)example(0)",
        "impossible date",
    ),
    (
        "6/5/2013 13:20:46 PM 0E70 PACKET  0000 UDP Rcv 10.0.0.1 5b47   Q [0001   D   NOERROR] "
        "A (1)a(7)example(0)",
        "impossible date",
    ),
    (
        "6/5/2013 24:20:46 0E70 PACKET  0000 UDP Rcv 10.0.0.1 5b47   Q [0001   D   NOERROR] "
        "A (1)a(7)example(0)",
        "impossible date",
    ),
]


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_annotated_sample(line: str, expected: dict[str, Any] | Parsed | str) -> None:
    check_sample(PARSER.parse(line, CTX), expected)


AMBIGUOUS = (
    "4/3/2026 09:00:00 0E1C PACKET  0000 UDP Rcv 10.0.0.1 966f   Q [0001   D   NOERROR] A "
    "(1)a(7)example(0)"
)


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("mdy", datetime(2026, 4, 3, 8, 0, tzinfo=UTC)),
        ("dmy", datetime(2026, 3, 4, 9, 0, tzinfo=UTC)),  # 4 March is still GMT
        ("ymd", datetime(2026, 4, 3, 8, 0, tzinfo=UTC)),  # not ISO: the Windows default
    ],
)
def test_date_order_decides_an_ambiguous_date(order: DateOrder, expected: datetime) -> None:
    parser = make_parser(order)
    assert parser.fmt == "windows-dns"
    (ev,) = parser.parse(AMBIGUOUS, CTX).events
    assert ev.ts == expected


def test_iso_dates_ignore_the_order() -> None:
    line = AMBIGUOUS.replace("4/3/2026", "2026-04-03")
    for order in DATE_ORDERS:
        (ev,) = make_parser(order).parse(line, CTX).events
        assert ev.ts == datetime(2026, 4, 3, 8, 0, tzinfo=UTC)


def test_unknown_date_order_is_refused() -> None:
    with pytest.raises(ValueError, match="date_order"):
        make_parser("dym")  # type: ignore[arg-type]


def test_entry_point_parser_is_us_order() -> None:
    assert PARSER.fmt == "windows-dns"
    assert PARSER.session() is PARSER


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("(3)www(6)google(3)com(0)", "www.google.com"),
        ("(7)example(3)com(0)", "example.com"),
        ("(0)", ""),
        (".ns1.offeringsmislead.com.", "ns1.offeringsmislead.com"),
        ("(4)a(b)(3)com(0)", "a(b).com"),  # a label with a bracket in it, lengths add up
        ("(2)odd(3)com(0)", "odd.com"),
        ("(3)abc", "abc"),
    ],
)
def test_decode_name(raw: str, name: str) -> None:
    assert decode_name(raw) == name


def _check_total(parsed: Parsed) -> None:
    check_parsed(parsed, most=1)


@given(
    st.from_regex(r"\A\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\Z"),
    st.from_regex(r"\A\d{1,2}:\d\d:\d\d\Z"),
    st.sampled_from(["", " AM", " PM", " a.m."]),
    st.sampled_from(["Rcv", "Snd"]),
    st.sampled_from(["", "R "]),
    st.text(max_size=40),
)
def test_fuzz_packet_shaped_lines_never_raise(
    date: str, time: str, ampm: str, direction: str, response: str, name: str
) -> None:
    line = (
        f"{date} {time}{ampm} 0E70 PACKET  0000 UDP {direction} 10.0.0.1 5b47 {response}Q "
        f"[0001   D   NOERROR] A {name}"
    )
    for parser in (PARSER, make_parser("dmy"), make_parser("ymd")):
        _check_total(parser.parse(line, CTX))
