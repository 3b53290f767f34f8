"""The dnsmasq / Pi-hole log-queries parser against real logs, annotated samples and fuzz."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.parsers import dnsmasq
from collectors.parsers.base import ParseContext
from collectors.parsers.dnsmasq import PARSER, parse_line
from monitord.core.model import SKIP, EventKind, EventUpdate, Origin
from tests.collectors.parsers.fixturelines import (
    CTX,
    LONDON,
    REFERENCE,
    Expected,
    check_parsed,
    check_sample,
    fixture_files,
    numbered_lines,
)
from tests.conftest import FIXTURES
from tests.monitord.service.test_real_peers import dns_ask, running_dnsmasq

DNSMASQ = FIXTURES / "dnsmasq"
# A query line, plain or with log-queries=extra's serial number and client address/port.
_QUERY_LINE = re.compile(r"\]: (?:\d+ (?:\S+/\d+ )?)?query\[")
LOGS = fixture_files(DNSMASQ)
_lines = numbered_lines


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_every_fixture_line_is_an_event_or_known(path: Path) -> None:
    lines = _lines(path)
    assert lines, f"{path.name} has no lines"
    events = 0
    for n, line in lines:
        parsed = PARSER.session().parse(line, CTX)
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        # Exactly the query lines are events; everything after a query is known and skipped.
        if _QUERY_LINE.search(line):
            assert len(parsed.events) == 1, f"{path.name}:{n}"
            ev = parsed.events[0]
            assert ev.kind is EventKind.DNS
            assert ev.client_ip == line.rsplit(" from ", 1)[1]
            assert ev.domain
            assert ev.domain in line
            assert ev.qtype == line.split("query[", 1)[1].split("]", 1)[0]
            assert ev.ts.tzinfo is UTC
            assert ev.ts <= REFERENCE + timedelta(days=1)
            events += 1
        else:
            assert parsed == SKIP, f"{path.name}:{n} gave {parsed}"
    assert events > 0


def test_fixture_times_are_placed_before_the_reference() -> None:
    """pfSense's 'Dec  3' lines read in November 2026 are from December 2025."""
    (pfsense,) = (p for p in LOGS if p.name.startswith("pfsense"))
    ev = parse_line(_lines(pfsense)[0][1], CTX).events[0]
    assert ev.ts == datetime(2025, 12, 3, 8, 51, 27, tzinfo=UTC)
    assert ev.domain == "daisy.ubuntu.com"
    assert ev.client_ip == "192.0.2.5"


# Annotated samples, in the manner of fail2ban's sample logs: each line with what it must give,
# either the Event fields it must have, SKIP (a known line with no event of its own), or the
# words the rejection reason must contain.
SAMPLES: list[tuple[str, Expected]] = [
    # A query for an address (real line, pfSense docs): read in November 2026, so December 2025.
    (
        "Dec  3 08:51:27 dnsmasq[1068]: query[A] daisy.ubuntu.com from 192.0.2.5",
        {
            "kind": EventKind.DNS,
            "ts": datetime(2025, 12, 3, 8, 51, 27, tzinfo=UTC),
            "client_ip": "192.0.2.5",
            "domain": "daisy.ubuntu.com",
            "qtype": "A",
            "blocked": False,
        },
    ),
    # IPv6 address query from Pi-hole (real line): July is BST, so 19:39:41 local is 18:39:41Z.
    (
        "Jul  7 19:39:41 dnsmasq[536]: query[AAAA] video-edge-b1fd44.muc01.abs.hls.ttvnw.net "
        "from 192.168.1.185",
        {
            "ts": datetime(2026, 7, 7, 18, 39, 41, tzinfo=UTC),
            "client_ip": "192.168.1.185",
            "domain": "video-edge-b1fd44.muc01.abs.hls.ttvnw.net",
            "qtype": "AAAA",
        },
    ),
    # HTTPS (type 65) record query from Pi-hole (real line).
    (
        "Jul  7 00:00:53 dnsmasq[553]: query[HTTPS] mask.icloud.com from 192.168.1.115",
        {"qtype": "HTTPS", "domain": "mask.icloud.com", "client_ip": "192.168.1.115"},
    ),
    # A syslog hostname before the program, an upper-case name with a trailing dot, IPv6 client.
    (
        "Mar  1 09:00:00 gateway dnsmasq[99]: query[A] WWW.Example.COM. from 2001:db8::7",
        {
            "ts": datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC),
            "domain": "www.example.com",
            "client_ip": "2001:db8::7",
        },
    ),
    # A type dnsmasq has no name for is logged as type=N: still a query, named as RFC 3597 does.
    (
        "Mar  1 09:00:00 dnsmasq[99]: query[type=65] example.org from 10.0.0.8",
        {"qtype": "TYPE65", "domain": "example.org", "client_ip": "10.0.0.8"},
    ),
    # What follows a query carries no new event.
    ("Dec  3 08:51:27 dnsmasq[1068]: forwarded daisy.ubuntu.com to 8.8.8.8", SKIP),
    ("Dec  3 08:51:27 dnsmasq[1068]: reply daisy.ubuntu.com is 91.189.95.55", SKIP),
    ("Dec  3 08:56:46 dnsmasq[1068]: cached dnl-14.geo.kaspersky.com is 4.28.136.39", SKIP),
    ("Dec  3 08:56:49 dnsmasq[1068]: cached wpad.example.com is NXDOMAIN-IPv4", SKIP),
    ("Jul  7 19:39:44 dnsmasq[536]: dnssec-query[DS] ttvnw.net to 208.67.222.222", SKIP),
    ("Jul 19 14:32:35 dnsmasq[536]: validation _dns.resolver.arpa is BOGUS", SKIP),
    # Pi-hole's block lines name no client; the query line before them is the event.
    ("Jul  7 20:19:36 dnsmasq[536]: gravity blocked tags.tiqcdn.com is 0.0.0.0", SKIP),
    ("Jul 19 15:53:09 dnsmasq[536]: exactly blacklisted detectportal.firefox.com is ::", SKIP),
    ("Jul 19 00:12:57 dnsmasq[536]: regex blacklisted vast.livejasmin.com is 0.0.0.0", SKIP),
    # dnsmasq's DHCP half logs as dnsmasq-dhcp.
    (
        "Mar  1 09:00:00 gw dnsmasq-dhcp[99]: DHCPACK(eth0) 10.0.0.8 aa:bb:cc:dd:ee:ff laptop",
        SKIP,
    ),
    # With log-dhcp, dnsmasq-dhcp numbers its lines too; TFTP and scripts log as their own.
    (
        "Mar  1 09:00:00 gw dnsmasq-dhcp[99]: 1234 available DHCP range: 10.0.0.10 -- 10.0.0.99",
        SKIP,
    ),
    ("Mar  1 09:00:00 gw dnsmasq-dhcp[99]: 1234 vendor class: MSFT 5.0", SKIP),
    ("Mar  1 09:00:00 gw dnsmasq-tftp[99]: sent /srv/tftp/pxelinux.0 to 10.0.0.5", SKIP),
    # Another program's line in the same syslog file.
    (
        "Dec  3 08:51:30 gateway sshd[2211]: Accepted publickey for admin from 192.0.2.9",
        "not a dnsmasq syslog line (expected 'Mon DD HH:MM:SS dnsmasq[PID]: ...')",
    ),
    ("Dec  3 08:51:30 gateway notdnsmasq[1]: query[A] a.example from 10.0.0.1", "not a dnsmasq"),
    ("garbage", "not a dnsmasq syslog line"),
    ("", "not a dnsmasq syslog line"),
    # A dnsmasq message nobody has taught the parser.
    ("Dec  3 08:51:30 dnsmasq[1068]: something new happened", "unrecognised dnsmasq message"),
    # A query line that does not have the shape of one must be seen, not silently dropped.
    ("Dec  3 08:51:30 dnsmasq[1068]: query[A] a.example from", "unrecognised dnsmasq message"),
    ("Dec  3 08:51:30 dnsmasq[1068]: query[] a.example from 10.0.0.1", "unrecognised"),
    # log-queries=extra (Pi-hole's form; real lines, Debian's dnsmasq 2.90): the serial number
    # and the client's address/port come first.
    (
        "Dec  6 21:17:22 dnsmasq[32033]: 1 127.0.0.1/37353 query[A] www.bet365.com from 127.0.0.1",
        {
            "ts": datetime(2025, 12, 6, 21, 17, 22, tzinfo=UTC),
            "domain": "www.bet365.com",
            "client_ip": "127.0.0.1",
            "qtype": "A",
        },
    ),
    # The line of the Pi-hole, and log-queries=proto's UDP/TCP before the serial.
    (
        "Jul  7 19:39:41 dnsmasq[539]: 625 192.168.1.185/60568 query[A] example.com from "
        "192.168.1.185",
        {"domain": "example.com", "client_ip": "192.168.1.185"},
    ),
    (
        "Jul  7 19:39:41 dnsmasq[539]: TCP 626 2001:db8::5/40000 query[AAAA] example.com from "
        "2001:db8::5",
        {"domain": "example.com", "client_ip": "2001:db8::5", "qtype": "AAAA"},
    ),
    # Pi-hole v6 sends its log to syslog as pihole-FTL.
    (
        "Jul  7 19:39:41 pihole pihole-FTL[77]: 7 10.0.0.9/5353 query[A] a.example from 10.0.0.9",
        {"domain": "a.example", "client_ip": "10.0.0.9"},
    ),
    ("Dec  6 21:17:22 dnsmasq[32033]: 2 127.0.0.1/42893 forwarded a.test to 127.0.0.1#9", SKIP),
    ("Dec  6 21:17:22 dnsmasq[32033]: 1 127.0.0.1/37353 /tmp/hosts.block a.test is 0.0.0.0", SKIP),
    ("Dec  6 21:17:21 dnsmasq[32033]: using only locally-known addresses for school.local", SKIP),
    # An internal query (DNSSEC) has a serial and no client.
    ("Jul 19 14:32:35 dnsmasq[536]: 12 dnssec-query[DS] ttvnw.net to 208.67.222.222", SKIP),
    # FTL v6's block reasons, a CNAME target blocked, and FTL's other answers.
    ("Jul 19 15:53:09 dnsmasq[536]: 9 10.0.0.2/5000 exactly denied x.example is 0.0.0.0", SKIP),
    ("Jul 19 15:53:09 dnsmasq[536]: gravity blocked (CNAME) cdn.example is NODATA", SKIP),
    (
        "Jul 19 15:53:09 dnsmasq[536]: Mozilla canary domain use-application-dns.net is NXDOMAIN",
        SKIP,
    ),
    ("Jul 19 15:53:09 dnsmasq[536]: blocked upstream with NULL address a.example is 0.0.0.0", SKIP),
    ("Jul 19 15:53:09 dnsmasq[536]: Pi-hole hostname pi.hole is 10.0.0.2", SKIP),
    ("Jul 19 15:53:09 dnsmasq[536]: reply a.example is NXDOMAIN (EDE: blocked)", SKIP),
    # An answer from a source nobody has taught the parser.
    ("Jul 19 15:53:09 dnsmasq[536]: somebody said a.example is 0.0.0.0", "unrecognised"),
    # A date that does not exist.
    ("Feb 30 08:51:30 dnsmasq[1068]: query[A] a.example from 10.0.0.1", "impossible date"),
    ("Foo  3 08:51:30 dnsmasq[1068]: query[A] a.example from 10.0.0.1", "impossible date"),
    ("Dec  3 25:51:30 dnsmasq[1068]: query[A] a.example from 10.0.0.1", "impossible date"),
]


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_annotated_sample(line: str, expected: Expected) -> None:
    check_sample(parse_line(line, CTX), expected)


def _query_at(stamp: str, reference: datetime) -> datetime:
    parsed = parse_line(
        f"{stamp} dnsmasq[1]: query[A] a.example from 10.0.0.1", ParseContext(LONDON, reference)
    )
    assert parsed.rejected is None, parsed.rejected
    return parsed.events[0].ts


def test_new_years_eve_read_on_new_years_day_is_last_year() -> None:
    ts = _query_at("Dec 31 23:59:59", datetime(2027, 1, 1, tzinfo=UTC))
    assert ts == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_school_zone_is_applied() -> None:
    ref = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    assert _query_at("Jul 15 10:00:00", ref) == datetime(2026, 7, 15, 9, 0, tzinfo=UTC)
    assert _query_at("Jan 15 10:00:00", ref) == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def test_zone_of_the_context_not_of_the_machine() -> None:
    ctx = ParseContext(ZoneInfo("America/New_York"), datetime(2026, 11, 20, 16, 0, tzinfo=UTC))
    parsed = parse_line("Jul 15 10:00:00 dnsmasq[1]: query[A] a.example from 10.0.0.1", ctx)
    assert parsed.events[0].ts == datetime(2026, 7, 15, 14, 0, tzinfo=UTC)


def _check_total(line: str) -> None:
    check_parsed(PARSER.session().parse(line, CTX), line, most=1)


@given(
    st.sampled_from(["Jan", "Feb", "Dec", "Foo", "jan"]),
    st.integers(0, 99),
    st.from_regex(r"\A\d\d:\d\d:\d\d\Z"),
    st.sampled_from(["", "host ", "a b "]),
    st.text(max_size=60),
)
def test_fuzz_dnsmasq_shaped_lines_never_raise(
    mon: str, day: int, hms: str, host: str, msg: str
) -> None:
    """Lines that get past the syslog head reach the query and time handling."""
    _check_total(f"{mon} {day:2d} {hms} {host}dnsmasq[7]: {msg}")
    _check_total(f"{mon} {day:2d} {hms} {host}dnsmasq[7]: query[A] {msg} from 10.0.0.1")
    _check_total(f"{mon} {day:2d} {hms} {host}dnsmasq[7]: 9 10.0.0.1/53 {msg}")
    _check_total(f"{mon} {day:2d} {hms} {host}dnsmasq[7]: 9 10.0.0.1/53 {msg} x is 0.0.0.0")


def test_block_line_marks_its_query_blocked() -> None:
    session = PARSER.session()
    origin = Origin("pihole", "f", 120)
    query = "Jul  7 20:19:36 dnsmasq[536]: query[A] tags.tiqcdn.com from 192.168.1.185"
    made = session.parse(query, ParseContext(CTX.tz, CTX.reference, origin))
    assert len(made.events) == 1
    blocked = session.parse(
        "Jul  7 20:19:36 dnsmasq[536]: gravity blocked tags.tiqcdn.com is 0.0.0.0",
        ParseContext(CTX.tz, CTX.reference, Origin("pihole", "f", 190)),
    )
    assert blocked.events == ()
    assert blocked.updates == (
        EventUpdate(origin.event_id(0), blocked=True, action="gravity blocked"),
    )


def test_local_record_is_not_a_block_but_an_address_sinkhole_is() -> None:
    session = PARSER.session()
    q = "Jul  7 20:19:36 dnsmasq[536]: query[A] {} from 10.0.0.1"
    for i, name in enumerate(("printer.lan", "bet365.com")):
        session.parse(q.format(name), ParseContext(CTX.tz, CTX.reference, Origin("d", "f", i)))
    local = session.parse("Jul  7 20:19:36 dnsmasq[536]: config printer.lan is 10.0.0.9", CTX)
    assert local == SKIP
    sunk = session.parse("Jul  7 20:19:36 dnsmasq[536]: config bet365.com is 0.0.0.0", CTX)
    assert sunk.updates[0].blocked is True


def _origin(offset: int) -> Origin:
    return Origin("pihole", "f", offset)


def _ctx(offset: int) -> ParseContext:
    return ParseContext(CTX.tz, CTX.reference, _origin(offset))


def _read_log(lines: list[tuple[int, str]]) -> tuple[list[str], dict[str, str | None]]:
    """A log's lines through one session, none rejected: the names queried, and each
    blocked name with the block's action."""
    session = PARSER.session()
    queries: dict[str, str] = {}
    blocked: dict[str, str | None] = {}
    for n, line in lines:
        parsed = session.parse(line, _ctx(n))
        assert parsed.rejected is None, f"{n}: {line!r}: {parsed.rejected}"
        for ev in parsed.events:
            assert ev.domain is not None
            queries[_origin(n).event_id(0)] = ev.domain
        for upd in parsed.updates:
            blocked[queries[upd.event_id]] = upd.action
    return list(queries.values()), blocked


def test_extra_form_block_lines_find_their_query_by_serial() -> None:
    """The real Debian dnsmasq 2.90 log: the hosts-file block list and the --address rule
    each block their query; the local record for the printer does not."""
    (extra,) = (p for p in LOGS if "extra" in p.name)
    _, blocked = _read_log(_lines(extra))
    assert blocked == {
        "www.bet365.com": "/tmp/t2/dq/hosts.block",
        "dns.google.doh.test": "config",
    }


def test_serial_tells_apart_two_queries_for_one_name() -> None:
    """Two clients ask for the same name; only the second is blocked (a per-client rule):
    the serial, not the name, says which."""
    session = PARSER.session()
    head = "Jul  7 20:19:36 dnsmasq[536]: "
    session.parse(head + "41 10.0.0.1/1000 query[A] bet.example from 10.0.0.1", _ctx(1))
    session.parse(head + "42 10.0.0.2/1000 query[A] bet.example from 10.0.0.2", _ctx(2))
    blocked = session.parse(head + "41 10.0.0.1/1000 regex denied bet.example is 0.0.0.0", _ctx(3))
    assert blocked.updates == (
        EventUpdate(_origin(1).event_id(0), blocked=True, action="regex denied"),
    )


def test_cname_block_and_special_domain_mark_their_query() -> None:
    session = PARSER.session()
    head = "Jul  7 20:19:36 dnsmasq[536]: "
    session.parse(head + "query[A] use-application-dns.net from 10.0.0.1", _ctx(1))
    session.parse(head + "query[A] cdn.example from 10.0.0.1", _ctx(2))
    special = session.parse(
        head + "special domain use-application-dns.net is NXDOMAIN", _ctx(3)
    ).updates
    cname = session.parse(head + "gravity blocked (CNAME) cdn.example is 0.0.0.0", _ctx(4))
    assert [u.action for u in special] == ["special domain"]
    assert [u.action for u in cname.updates] == ["gravity blocked (CNAME)"]


def test_block_line_for_an_unseen_query_is_a_known_line() -> None:
    parsed = PARSER.session().parse(
        "Jul 19 00:22:06 dnsmasq[536]: exactly blacklisted tsyndicate.com is NODATA", CTX
    )
    assert parsed == SKIP


def test_real_dnsmasq_with_log_queries_extra(tmp_path: Path) -> None:
    """Debian's dnsmasq run with log-queries=extra (Pi-hole's setting) and a hosts-style
    block list: every line it writes is read, and the listed name's query is blocked."""
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq is not installed (apt-get install dnsmasq)")
    blocklist = tmp_path / "hosts.block"
    blocklist.write_text("0.0.0.0 www.bet365.com\n", encoding="utf-8")
    log = tmp_path / "dnsmasq.log"
    extra = ("--log-queries=extra", f"--addn-hosts={blocklist}")
    asked = ["www.bet365.com", "school-test.example", "www.bbc.co.uk"]
    with running_dnsmasq(tmp_path, log, extra) as port:
        for name in asked:
            dns_ask(port, name, "A")
    # dnsmasq has stopped (its last line written): read what it wrote.
    lines = numbered_lines(log)
    queried, blocked = _read_log(lines)
    assert sorted(queried) == sorted(asked), lines
    assert any(_QUERY_LINE.search(line) and "/" in line.split("]: ", 1)[1] for _, line in lines)
    path = str(blocklist)
    assert blocked == {"www.bet365.com": path if len(path) <= 64 else "\u2026" + path[-63:]}


# Lines near the shapes the one-pattern readings take, with what would trip them: other
# whitespace (a NEL, a no-break space, U+001C), non-ASCII digits and letters, a newline
# inside, a helper's line, a serial in other forms.
_ODD = st.text(alphabet=st.sampled_from("aZ9.:/%_[]- \t\x1c\x85\xa0é٣²\n"), max_size=12)


def _lines_like(keywords: list[str], tails: list[str]) -> st.SearchStrategy[str]:
    return st.builds(
        "{} {} {} {}{}{}{}{}{}".format,
        st.sampled_from(["Jul", "Dec", "Jul", "jul"]),
        st.sampled_from([" 7", "19", "7", " 7", "x"]),
        st.sampled_from(["20:19:36", "20:19:36", "2:19:36"]),
        st.one_of(st.sampled_from(["", "pi ", "", "a\x1cb ", "x\xa0 ", "dnsmasq[1]: "]), _ODD),
        st.sampled_from(
            ["dnsmasq[536]: ", "pihole-FTL[9]: ", "dnsmasq[536]: ", "dnsmasq-dhcp[2]: ", "x[5]: "]
        ),
        st.one_of(
            st.sampled_from(["", "41 ", "UDP 41 ", "41 10.0.0.1/53 ", "4٣ ", "41 é/1 ", "²1 "]),
            _ODD,
        ),
        st.sampled_from(keywords),
        st.one_of(st.sampled_from(["a.test", "b.example is 1.2.3.4", "é.test"]), _ODD),
        st.sampled_from(tails),
    )


_FOLLOWING = [
    "forwarded ",
    "reply ",
    "cached ",
    "cached-stale ",
    "dnssec-query[DS] ",
    "validation ",
    "query[A] ",
    "gravity blocked ",
    "started, ",
    "replyx ",
    "",
]
_QUERIES = ["query[A] ", "query[type=65] ", "query[AAAA] ", "query[] ", "reply "]
_TAILS = ["", " from 10.0.0.1", " is 0.0.0.0", " to 1.1.1.1", "\r", " from é\n"]


@given(_lines_like(_FOLLOWING, _TAILS), st.booleans())
@settings(max_examples=400)
def test_quiet_lines_are_known_lines_that_change_nothing(line: str, broken: bool) -> None:
    """A line ``quiet`` passes over unparsed is one the session would read as a known line
    carrying nothing, its memory of queries unchanged."""
    data = line.encode()
    if broken:
        data = data.replace(b"a", b"\xff")  # not UTF-8: decoded with replacements
    session = PARSER.session()
    session.parse(
        "Jul  7 20:19:30 dnsmasq[536]: 41 10.0.0.1/9 query[A] a.test from 10.0.0.1", _ctx(1)
    )
    before = (dict(session._queries), dict(session._serials))
    if session.quiet(data):
        assert session.parse(data.decode("utf-8", "replace"), _ctx(2)) == SKIP
        assert (dict(session._queries), dict(session._serials)) == before


@given(_lines_like(_QUERIES, [" from 10.0.0.1", " from 10.0.0.1\r", *_TAILS]))
@settings(max_examples=400)
def test_query_lines_read_in_one_pattern_as_step_by_step(line: str) -> None:
    """A line the whole-line pattern reads as a query gives what the head, serial and query
    patterns give one after another."""
    whole = dnsmasq._QUERY_LINE.match(line.rstrip("\r\n"))
    if whole is None:
        return
    head = dnsmasq._head(line)
    assert head is not None
    parsed, serial, answer = dnsmasq._read(head, CTX)
    assert parsed == dnsmasq._query(whole, whole, CTX)
    assert answer is None
    assert serial == (whole["serial"] if parsed.events else None)


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_fixture_lines_after_a_query_are_quiet(path: Path) -> None:
    """Every forwarded, reply, cached, dnssec and validation line of the real logs is passed
    over unparsed, and no other line is."""
    session = PARSER.session()
    after = r"(?:forwarded |reply |cached |cached-stale |validation |dnssec-(?:query|retry)\[)"
    for n, line in _lines(path):
        follows = re.search(r"\]: (?:\d+ (?:\S+/\d+ )?)?" + after, line)
        assert session.quiet(line.encode()) is (follows is not None), f"{path.name}:{n}"
