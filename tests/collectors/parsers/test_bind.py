"""The BIND 9 parser against real logs, annotated samples and fuzz, and its pairing of
denials, RPZ rewrites and responses with the queries they follow."""

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
from collectors.parsers.bind import PARSER
from monitord.core.model import SKIP, EventKind, EventUpdate, Origin, Parsed
from tests.collectors.parsers.fixturelines import (
    check_parsed,
    check_sample,
    fixture_line,
    numbered_lines,
)
from tests.conftest import FIXTURES

LONDON = ZoneInfo("Europe/London")
REFERENCE = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
CTX = ParseContext(LONDON, REFERENCE)
BIND = FIXTURES / "bind"
LOGS = (
    sorted(p for p in BIND.iterdir() if p.is_file() and p.suffix != ".md") if BIND.is_dir() else []
)
CLIENT = r"client (?:@0x[0-9a-f]+ )?(?P<ip>[0-9a-fA-F:.]+)#\d+"
# The kinds of line that carry a client's query, as the fixtures write them.
QUERY_LINE = re.compile(CLIENT + r".*?: query: (?P<name>\S+) IN (?P<qtype>\S+)")
DENIED_LINE = re.compile(CLIENT + r".*: query (?:\(cache\) )?'(?P<name>[^/']+)/(?P<qtype>\w+)/IN'")
CEF_RPZ_LINE = re.compile(r"CEF:0\|Infoblox\|NIOS\|.*\|RPZ-.*src=(?P<ip>\S+)")


_lines = numbered_lines


def _origin(offset: int) -> Origin:
    return Origin("resolver", "f1", offset)


def _ctx(offset: int = 0) -> ParseContext:
    return ParseContext(LONDON, REFERENCE, _origin(offset))


def _one(line: str) -> Parsed:
    return PARSER.session().parse(line, CTX)


def _fixture_line(text: str) -> str:
    return fixture_line(LOGS, text)


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_every_fixture_line_is_an_event_or_known(path: Path) -> None:
    session = PARSER.session()
    for n, line in _lines(path):
        parsed = session.parse(line, _ctx(n))
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        assert len(parsed.events) <= 1
        for ev in parsed.events:
            assert ev.kind is EventKind.DNS
            assert ev.ts.tzinfo is UTC
            assert ev.domain
            assert ev.domain == ev.domain.lower()
            assert not ev.domain.endswith(".")
        query = QUERY_LINE.search(line) or DENIED_LINE.search(line)
        if query is not None and query["name"] != ".":
            # Nothing before it in these files is the same query, so each is an event.
            assert len(parsed.events) == 1, f"{path.name}:{n} gave {parsed}"
            ev = parsed.events[0]
            assert ev.client_ip == query["ip"]
            assert ev.domain == query["name"].lower()
            assert ev.qtype == query["qtype"]
            assert ev.blocked == ("' denied" in line or "response: REFUSED" in line)
        elif cef := CEF_RPZ_LINE.search(line):
            assert parsed.events[0].client_ip == cef["ip"]
            assert parsed.events[0].blocked
        else:
            # Zone transfers, notifies, updates, query errors, DNSSEC, root queries.
            assert parsed == SKIP, f"{path.name}:{n} gave {parsed}"


def test_fixture_events_per_file() -> None:
    counts = {}
    for path in LOGS:
        session = PARSER.session()
        counts[path.name] = sum(len(session.parse(line, CTX).events) for _, line in _lines(path))
    assert sum(counts.values()) >= 30, counts
    assert all(counts.values()), counts


def test_fixture_file_channel_denial_exact_values() -> None:
    """crowdsec's first line: 05:34:02.425 BST on 19 October 2022 is 04:34:02.425Z."""
    line = _fixture_line("19-Oct-2022 05:34:02.425")
    (ev,) = _one(line).events
    assert ev.ts == datetime(2022, 10, 19, 4, 34, 2, 425000, tzinfo=UTC)
    assert (ev.client_ip, ev.domain, ev.qtype, ev.action, ev.blocked) == (
        "104.219.136.31",
        "example.com",
        "ANY",
        "denied",
        True,
    )


def test_fixture_syslog_denial_exact_values() -> None:
    """fail2ban's 'Jul 24' raid5 line has no year: read in November 2026, July 2026 (BST)."""
    line = _fixture_line("14:17:13 raid5 named")
    (ev,) = _one(line).events
    assert ev.ts == datetime(2026, 7, 24, 13, 17, 13, tzinfo=UTC)
    assert (ev.client_ip, ev.domain, ev.qtype) == ("148.160.29.6", "geo-mueller.de", "NS")


def test_fixture_query_log_exact_values() -> None:
    line = _fixture_line("17-Feb-2018 23:06:56.326 queries: info:")
    (ev,) = _one(line).events
    assert ev.ts == datetime(2018, 2, 17, 23, 6, 56, 326000, tzinfo=UTC)  # GMT in February
    assert (ev.client_ip, ev.domain, ev.qtype, ev.action, ev.blocked) == (
        "172.26.0.1",
        "test.example.com",
        "A",
        None,
        False,
    )


def test_fixture_infoblox_inner_time_is_used() -> None:
    """The syslog head says 'Mar 11 23:51:31', named's own time says 07-Apr-2022 08:08:10.043
    (BST): the latter has the year and the milliseconds."""
    line = _fixture_line("test.com IN A response: REFUSED")
    (ev,) = _one(line).events
    assert ev.ts == datetime(2022, 4, 7, 7, 8, 10, 43000, tzinfo=UTC)
    assert (ev.client_ip, ev.domain, ev.action, ev.blocked) == (
        "192.168.0.1",
        "test.com",
        "REFUSED",
        True,
    )


def test_fixture_line_without_a_time_is_placed_at_the_file_time() -> None:
    line = _fixture_line("client @0x7f85b4026ed0 127.0.0.1#42520 (ci.elastic.co)")
    (ev,) = _one(line).events
    assert ev.ts == REFERENCE
    assert (ev.client_ip, ev.domain) == ("127.0.0.1", "ci.elastic.co")


# Annotated samples, in the manner of fail2ban's sample logs: each line with what it must give,
# either the Event fields it must have, SKIP (a known line with no event of its own), or the
# words the rejection reason must contain. Each is read by a fresh session.
SAMPLES: list[tuple[str, dict[str, Any] | Parsed | str]] = [
    # The query log in a file channel with print-category and print-severity (9.11+ form).
    (
        "20-Nov-2026 09:41:07.118 queries: info: client @0x7f64500020ef 10.20.6.7#60061 "
        "(www.Bet365.com): query: www.Bet365.com IN A +E(0)K (10.20.0.53)",
        {
            "kind": EventKind.DNS,
            "ts": datetime(2026, 11, 20, 9, 41, 7, 118000, tzinfo=UTC),
            "client_ip": "10.20.6.7",
            "domain": "www.bet365.com",
            "qtype": "A",
            "action": None,
            "blocked": False,
        },
    ),
    # No category or severity printed, no @0x (9.10 form); July is BST.
    (
        "03-Jul-2026 10:00:00.000 client 10.20.6.7#5353 (example.org): query: example.org IN "
        "AAAA + (10.20.0.53)",
        {"ts": datetime(2026, 7, 3, 9, 0, tzinfo=UTC), "qtype": "AAAA"},
    ),
    # BIND 9.8 and before: no name in brackets, a view, no server address.
    (
        "03-Jul-2026 10:00:00.000 client 10.20.6.7#5353: view internal: query: example.org IN MX +",
        {"client_ip": "10.20.6.7", "domain": "example.org", "qtype": "MX"},
    ),
    # A view after the name in brackets, an IPv6 client, a trailing dot.
    (
        "03-Jul-2026 10:00:00.000 queries: info: client @0x7f1 2001:db8::7#41000 "
        "(Example.ORG.): view staff: query: Example.ORG. IN HTTPS -E(0)DC (2001:db8::53)",
        {"client_ip": "2001:db8::7", "domain": "example.org", "qtype": "HTTPS"},
    ),
    # Syslog-wrapped, no year: read in November 2026, so 20 November 2026 (GMT).
    (
        "Nov 20 09:41:07 ns1 named[811]: client @0x7f645000 10.20.6.7#60061 (a.example): "
        "query: a.example IN A + (10.20.0.53)",
        {"ts": datetime(2026, 11, 20, 9, 41, 7, tzinfo=UTC), "domain": "a.example"},
    ),
    # Syslog with a priority and named's own time inside: the inner time is used.
    (
        "<30>Nov 20 09:41:07 ns1 named[811]: 19-Nov-2026 08:00:00.500 queries: info: client "
        "10.20.6.7#1 (a.example): query: a.example IN A + (10.20.0.53)",
        {"ts": datetime(2026, 11, 19, 8, 0, 0, 500000, tzinfo=UTC)},
    ),
    # An RFC 5424 envelope (a forwarder's or an appliance's), with and without named's time.
    (
        '<30>1 2026-11-20T09:41:07.5+01:00 ns1 named 811 - [meta sequenceId="4"] client '
        "10.20.6.7#1 (a.example): query: a.example IN A + (10.20.0.53)",
        {"ts": datetime(2026, 11, 20, 8, 41, 7, 500000, tzinfo=UTC), "client_ip": "10.20.6.7"},
    ),
    (
        "<30>1 2026-11-20T09:41:07Z ns1 named 811 - - 19-Nov-2026 08:00:00.500 queries: info: "
        "client 10.20.6.7#1 (a.example): query: a.example IN A + (10.20.0.53)",
        {"ts": datetime(2026, 11, 19, 8, 0, 0, 500000, tzinfo=UTC)},
    ),
    ("<30>1 2026-11-20T09:41:07Z ns1 named 811 - - zone a.example/IN: loaded serial 7", SKIP),
    ("<30>1 2026-11-20T09:41:07Z ns1 sshd 9 - - Accepted publickey", "not a BIND"),
    ("<30>1 2026-02-30T09:41:07Z ns1 named 811 - - client 10.0.0.1#1: query: a IN A", "envelope"),
    # rsyslog's RFC 3339 time, with its offset.
    (
        "2026-11-20T09:41:07.123456+01:00 ns1 named[811]: client 10.20.6.7#1 (a.example): "
        "query: a.example IN A +",
        {"ts": datetime(2026, 11, 20, 8, 41, 7, 123456, tzinfo=UTC)},
    ),
    # print-time iso8601-utc.
    (
        "2026-11-20T09:41:07.123Z queries: info: client 10.20.6.7#1 (a.example): query: "
        "a.example IN A +",
        {"ts": datetime(2026, 11, 20, 9, 41, 7, 123000, tzinfo=UTC)},
    ),
    # journald with no time: the time the file was written.
    (
        "ns1 named[811]: client @0x7f1 10.20.6.7#1 (a.example): query: a.example IN A +",
        {"ts": REFERENCE, "client_ip": "10.20.6.7"},
    ),
    # A refused query (allow-query-cache), from the security category.
    (
        "23-Aug-2013 18:41:28.090 security: info: client @0x7f7c95c76968 192.0.2.3#60683 "
        "(example.com): query (cache) 'example.com/A/IN' denied (allow-query-cache did not match)",
        {
            "ts": datetime(2013, 8, 23, 17, 41, 28, 90000, tzinfo=UTC),
            "client_ip": "192.0.2.3",
            "domain": "example.com",
            "qtype": "A",
            "action": "denied",
            "blocked": True,
        },
    ),
    # The older form with neither (cache) nor the name in brackets.
    (
        "Jul 24 14:16:55 raid5 named[3935]: client 194.145.196.18#4795: query 'ricreig.com/NS/IN' "
        "denied",
        {"domain": "ricreig.com", "qtype": "NS", "blocked": True},
    ),
    # A response-policy zone rewrote the answer: blocked, unless the policy is PASSTHRU.
    (
        "20-Nov-2026 09:41:07.200 rpz: info: client @0x7f1 10.20.6.7#60061 (www.bet365.com): "
        "rpz QNAME NXDOMAIN rewrite www.bet365.com/A/IN via www.bet365.com.rpz.school",
        {
            "domain": "www.bet365.com",
            "qtype": "A",
            "action": "rpz QNAME NXDOMAIN",
            "blocked": True,
        },
    ),
    (
        "20-Nov-2026 09:41:07.200 rpz: info: client 10.20.6.7#1 (ok.example): rpz QNAME "
        "Local-Data rewrite ok.example via ok.example.rpz.school",
        {"domain": "ok.example", "qtype": None, "action": "rpz QNAME Local-Data", "blocked": True},
    ),
    (
        "20-Nov-2026 09:41:07.200 rpz-passthru: info: client 10.20.6.7#1 (ok.example): rpz "
        "QNAME PASSTHRU rewrite ok.example/A/IN via ok.example.rpz.allow",
        {"action": "rpz QNAME PASSTHRU", "blocked": False},
    ),
    # Infoblox NIOS's response log.
    (
        "<30>Mar 11 23:51:31 infoblox.localdomain named[11042]: 07-Apr-2022 08:08:10.043 client "
        "192.168.0.1#57398 UDP: query: non-exist.foo.com IN A response: NXDOMAIN +ED",
        {"domain": "non-exist.foo.com", "action": "NXDOMAIN", "blocked": False},
    ),
    # Infoblox's CEF line for an RPZ hit (real line, Elastic's tests).
    (
        "<30>Mar 11 23:51:31 infoblox.localdomain named[28468]: CEF:0|Infoblox|NIOS|8.6.2-49634"
        "-e88e9df276a8|RPZ-QNAME|NXDOMAIN|7|app=DNS dst=192.168.0.1 src=192.168.0.1 spt=51424 "
        'view=_default qtype=A msg="rpz QNAME NXDOMAIN rewrite nxd1.com [A] via '
        'nxd1.com.rpz1.com" CAT=RPZ',
        {
            "ts": datetime(2026, 3, 11, 23, 51, 31, tzinfo=UTC),
            "client_ip": "192.168.0.1",
            "domain": "nxd1.com",
            "qtype": "A",
            "action": "rpz QNAME NXDOMAIN",
            "blocked": True,
        },
    ),
    # Denied queries for the root name no site (a typical amplification probe).
    (
        "Jul 24 14:23:36 raid5 named[3935]: client 62.109.4.89#9334: view external: query "
        "(cache) './NS/IN' denied",
        SKIP,
    ),
    # Zone transfers, errors and the server's own business carry no client query.
    (
        "19-Oct-2022 05:34:03.685 client @0x7f6520147ae8 104.219.136.31#55590 (example.com): "
        "zone transfer 'example.com/AXFR/IN' denied",
        SKIP,
    ),
    (
        "11-Aug-2013 03:36:11.372 error: client 1.2.3.4#52115: zone transfer "
        "'domain.com/AXFR/IN' denied",
        SKIP,
    ),
    (
        "Aug 27 16:59:00 host named[28098]: client @0x7f6450002ef0 192.0.2.1#23332 "
        "(example.com): bad zone transfer request: 'test.com/IN': non-authoritative zone "
        "(NOTAUTH)",
        SKIP,
    ),
    (
        "<30>Mar  9 23:59:59 infoblox.localdomain named[17742]: client @0x7f1dd4114af0 "
        "192.168.0.1#59735 (config.nos-avg.cz): query failed (REFUSED) for "
        "config.nos-avg.cz/IN/TXT at query.c:10288",
        SKIP,
    ),
    ("20-Nov-2026 06:00:00.000 general: notice: running", SKIP),
    ("20-Nov-2026 06:00:00.000 zone example.com/IN: loaded serial 2026112001", SKIP),
    ("Nov 20 06:00:00 ns1 named[811]: starting BIND 9.18.28-1~deb12u2-Debian", SKIP),
    ("Nov 20 06:00:00 ns1 named[811]: resolver priming query complete", SKIP),
    (
        "20-Nov-2026 06:00:00.000 lame-servers: info: REFUSED unexpected RCODE resolving "
        "'example.net/A/IN': 192.0.2.1#53",
        SKIP,
    ),
    (
        "Oct 23 03:35:40 update-security: error: client @0x7f4e45c07a48 192.0.2.237#55956 "
        "(example.ca): zone transfer 'example.ca/AXFR/IN' denied",
        SKIP,
    ),
    # Not BIND at all.
    (
        "Dec  3 08:51:30 gateway sshd[2211]: Accepted publickey for admin",
        "not a BIND (named) log line",
    ),
    ("Dec  3 08:51:27 dnsmasq[1068]: query[A] daisy.ubuntu.com from 192.0.2.5", "not a BIND"),
    ("Dec  3 08:51:27 kernel: query: a.example IN A", "not a BIND"),
    ("garbage", "not a BIND (named) log line"),
    ("", "not a BIND (named) log line"),
    # BIND's shape, but a date that does not exist.
    ("31-Feb-2022 05:34:02.425 client 10.0.0.1#1 (a.b): query: a.b IN A +", "impossible date"),
    ("31-Foo-2022 05:34:02.425 client 10.0.0.1#1 (a.b): query: a.b IN A +", "impossible date"),
    ("Feb 30 05:34:02 ns1 named[1]: client 10.0.0.1#1 (a.b): query: a.b IN A +", "impossible"),
]


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_annotated_sample(line: str, expected: dict[str, Any] | Parsed | str) -> None:
    check_sample(_one(line), expected)


# -- A query and the lines that follow it.

Q = (
    "20-Nov-2026 09:41:07.118 queries: info: client @0x7f1 10.20.6.7#60061 (www.bet365.com): "
    "query: www.bet365.com IN A +E(0)K (10.20.0.53)"
)
DENY = (
    "20-Nov-2026 09:41:07.119 security: info: client @0x7f1 10.20.6.7#60061 (www.bet365.com): "
    "query (cache) 'www.bet365.com/A/IN' denied"
)
RPZ = (
    "20-Nov-2026 09:41:07.119 rpz: info: client @0x7f1 10.20.6.7#60061 (www.bet365.com): "
    "rpz QNAME NXDOMAIN rewrite www.bet365.com/A/IN via www.bet365.com.rpz.school"
)
RESPONSE = (
    "<30>Nov 20 09:41:07 ns1 named[1]: 20-Nov-2026 09:41:07.130 client 10.20.6.7#60061 UDP: "
    "query: www.bet365.com IN A response: NXDOMAIN +ED"
)


def _feed(lines: list[str]) -> list[Parsed]:
    session = PARSER.session()
    return [session.parse(line, _ctx(i * 100)) for i, line in enumerate(lines)]


def test_query_then_denial_is_one_blocked_event() -> None:
    query, denial = _feed([Q, DENY])
    assert len(query.events) == 1
    assert not query.events[0].blocked
    assert denial.events == ()
    assert denial.updates == (EventUpdate(_origin(0).event_id(0), blocked=True, action="denied"),)


def test_query_rpz_response_is_one_event_and_one_update() -> None:
    query, rpz, response = _feed([Q, RPZ, RESPONSE])
    assert len(query.events) == 1
    assert rpz.updates == (
        EventUpdate(_origin(0).event_id(0), blocked=True, action="rpz QNAME NXDOMAIN"),
    )
    assert response == SKIP  # the rewrite made it NXDOMAIN; the verdict says more


def test_query_then_response_gives_the_response_code() -> None:
    query, response = _feed([Q, RESPONSE])
    assert len(query.events) == 1
    assert response.updates == (EventUpdate(_origin(0).event_id(0), action="NXDOMAIN"),)


def test_denials_without_query_lines_are_each_an_event() -> None:
    out = _feed([DENY, DENY, RPZ])
    assert [len(p.events) for p in out] == [1, 1, 0]
    # The RPZ line follows the first denial's event; it does not make a third.
    assert out[2].updates[0].event_id == _origin(0).event_id(0)


def test_a_later_line_for_another_client_is_its_own_event() -> None:
    other = DENY.replace("10.20.6.7#", "10.20.6.8#")
    out = _feed([Q, other])
    assert [len(p.events) for p in out] == [1, 1]


def test_a_denial_long_after_the_query_is_its_own_event() -> None:
    out = _feed([Q, DENY.replace("09:41:07.119", "09:49:07.119")])
    assert [len(p.events) for p in out] == [1, 1]


def test_without_an_origin_the_follower_updates_nothing_and_makes_nothing() -> None:
    session = PARSER.session()
    assert len(session.parse(Q, CTX).events) == 1
    assert session.parse(DENY, CTX) == SKIP


def _check_total(parsed: Parsed) -> None:
    check_parsed(parsed, most=1)


_HEADS = st.sampled_from(
    [
        "20-Nov-2026 09:41:07.118 ",
        "99-Nov-2026 09:41:07.118 queries: info: ",
        "01-Jan-0001 00:00:00.000 ",
        "31-Dec-9999 23:59:59.999 ",
        "Feb 29 09:41:07 ns1 named[1]: ",
        "<30>Nov 20 09:41:07 ns1 named[1]: 07-Apr-2022 08:08:10.043 ",
        "0001-01-01T00:00:00.000 ",
        "9999-12-31T23:59:59.999999-23:59 ns1 named[1]: ",
        "",
    ]
)
_WORDS = st.sampled_from(
    ["client", "@0x7f1", "10.0.0.1#53", "2001:db8::1#1", "(a.example):", "view", "v:", "query:",
     "query", "(cache)", "'a.example/A/IN'", "'./NS/IN'", "denied", "a.example", "IN", "A", "+",
     "UDP:", "response:", "REFUSED", "rpz", "QNAME", "NXDOMAIN", "rewrite", "via", "x",
     "CEF:0|Infoblox|NIOS|1|RPZ-QNAME|NXDOMAIN|7|src=10.0.0.1", 'msg="rpz', "[A]", "."]
)  # fmt: skip


@given(st.lists(st.tuples(_HEADS, st.lists(st.one_of(_WORDS, st.text(max_size=8)), max_size=12))))
def test_fuzz_bind_shaped_lines_through_one_session(lines: list[tuple[str, list[str]]]) -> None:
    """Lines that reach the message readers, fed to one session so its memory is exercised."""
    session = PARSER.session()
    for i, (head, words) in enumerate(lines):
        _check_total(session.parse(head + " ".join(words), _ctx(i)))
