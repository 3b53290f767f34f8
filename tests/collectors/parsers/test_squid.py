"""The Squid native access.log parser against real logs, annotated samples and fuzz."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.base import ParseContext
from collectors.parsers.squid import PARSER, parse_line
from monitord.core.model import SKIP, Event, EventKind, Parsed
from tests.collectors.parsers.fixturelines import check_parsed, fixture_files, numbered_lines
from tests.conftest import FIXTURES

CTX = ParseContext(ZoneInfo("Europe/London"), datetime(2026, 11, 20, 16, 0, tzinfo=UTC))
SQUID = FIXTURES / "squid"


_log_files = fixture_files


_lines = numbered_lines


def _event(parsed: Parsed) -> Event:
    assert parsed.rejected is None, parsed.rejected
    assert len(parsed.events) == 1, parsed
    return parsed.events[0]


LOGS = _log_files(SQUID)


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_every_fixture_line_is_one_event(path: Path) -> None:
    lines = _lines(path)
    assert lines, f"{path.name} has no lines"
    for n, line in lines:
        parsed = PARSER.parse(line, CTX)
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        assert len(parsed.events) == 1, f"{path.name}:{n} gave {len(parsed.events)} events"
        ev = parsed.events[0]
        fields = line.split()
        assert ev.kind is EventKind.HTTP
        assert ev.ts.tzinfo is UTC
        assert 2000 <= ev.ts.year <= 2013, f"{path.name}:{n} placed in {ev.ts}"
        assert ev.client_ip == fields[2]
        ipaddress.ip_address(ev.client_ip)  # raises if the client field was misread
        assert ev.action == fields[3].split("/")[0]
        assert ev.status is not None
        assert 0 <= ev.status <= 599
        assert ev.method == fields[5]
        assert ev.url == fields[6]
        assert ev.domain, f"{path.name}:{n} has no domain"
        assert ev.domain == ev.domain.lower()
        assert not ev.domain.endswith(".")
        assert ":" not in ev.domain, f"{path.name}:{n} kept a port in {ev.domain!r}"
        # A 407 is the proxy asking for credentials, not a block; any other denial is one.
        if ev.action == "TCP_DENIED":
            assert ev.blocked is (ev.status != 407), f"{path.name}:{n}"
        else:
            assert ev.blocked is False


def test_fixtures_cover_both_kinds_of_denial() -> None:
    """The real logs hold 407 challenges and 403 blocks; both must come out right."""
    seen: dict[int, set[bool]] = {}
    for path in LOGS:
        for _, line in _lines(path):
            ev = _event(parse_line(line, CTX))
            if ev.action == "TCP_DENIED" and ev.status is not None:
                seen.setdefault(ev.status, set()).add(ev.blocked)
    assert seen == {403: {True}, 407: {False}}


# Annotated samples, in the manner of fail2ban's sample logs: each line with the Event fields
# it must give. Fields not named may be anything.
SAMPLES: list[Any] = [
    # Unauthenticated proxy: the user is "-".
    pytest.param(
        "1348870325.850      9 192.168.0.35 TCP_MISS/200 1234 GET "
        "http://www.google.com/complete/search? - DIRECT/www.google.com text/html",
        {
            "kind": EventKind.HTTP,
            "ts": datetime(2012, 9, 28, 22, 12, 5, 850000, tzinfo=UTC),
            "client_ip": "192.168.0.35",
            "user": None,
            "domain": "www.google.com",
            "url": "http://www.google.com/complete/search?",
            "method": "GET",
            "action": "TCP_MISS",
            "status": 200,
            "size": 1234,
            "blocked": False,
        },
        id="no-user",
    ),
    # NTLM/Negotiate user as DOMAIN\user: the domain goes, the name is lower-cased.
    pytest.param(
        "1700000000.000    120 10.20.30.40 TCP_MISS/200 5120 GET http://example.org/page "
        "SCHOOL\\JSmith DIRECT/93.184.216.34 text/html",
        {"user": "jsmith", "domain": "example.org", "client_ip": "10.20.30.40"},
        id="domain-backslash-user",
    ),
    # Squid URL-encodes the backslash in its log: DOMAIN%5Cuser.
    pytest.param(
        "1700000000.000    120 10.20.30.40 TCP_MISS/200 5120 GET http://example.org/page "
        "SCHOOL%5Cjsmith DIRECT/93.184.216.34 text/html",
        {"user": "jsmith"},
        id="domain-encoded-backslash-user",
    ),
    # Kerberos principal user@REALM.
    pytest.param(
        "1700000000.000    120 10.20.30.40 TCP_MISS/200 5120 GET http://example.org/page "
        "jsmith@SCHOOL.EXAMPLE DIRECT/93.184.216.34 text/html",
        {"user": "jsmith"},
        id="user-at-realm",
    ),
    # CONNECT host:443 (a real line): the domain is the host without its port.
    pytest.param(
        "1157689312.049   5006 10.105.21.199 TCP_MISS/200 19763 CONNECT login.yahoo.com:443 "
        "badeyek DIRECT/209.73.177.115 -",
        {
            "ts": datetime(2006, 9, 8, 4, 21, 52, 49000, tzinfo=UTC),
            "client_ip": "10.105.21.199",
            "user": "badeyek",
            "domain": "login.yahoo.com",
            "url": "login.yahoo.com:443",
            "method": "CONNECT",
            "status": 200,
            "size": 19763,
            "blocked": False,
        },
        id="connect-host-443",
    ),
    # CONNECT to an IPv6 literal.
    pytest.param(
        "1700000000.000     10 10.0.0.7 TCP_TUNNEL/200 4000 CONNECT [2001:db8::1]:443 "
        "- HIER_DIRECT/2001:db8::1 -",
        {"domain": "2001:db8::1", "method": "CONNECT", "action": "TCP_TUNNEL"},
        id="connect-ipv6-literal",
    ),
    # An ACL denied the request: 403 is a block.
    pytest.param(
        "1035368735.101      0 210.8.79.228 TCP_DENIED/403 1421 GET http://ads.example.net/x.gif "
        "- NONE/- text/html",
        {"action": "TCP_DENIED", "status": 403, "blocked": True, "domain": "ads.example.net"},
        id="denied-403-is-blocked",
    ),
    # 407 is the proxy asking the browser for credentials, which it then sends: not a block.
    pytest.param(
        "1157689337.481      4 10.105.47.218 TCP_DENIED/407 1661 GET http://hi5.com/ "
        "- NONE/- text/html",
        {"action": "TCP_DENIED", "status": 407, "blocked": False, "domain": "hi5.com"},
        id="denied-407-is-auth-challenge",
    ),
    # A denial of the reply (after the response headers were seen) is a block too.
    pytest.param(
        "1700000000.000      3 10.0.0.9 TCP_DENIED_REPLY/403 3500 GET http://bad.example/ "
        "jsmith HIER_DIRECT/203.0.113.9 text/html",
        {"action": "TCP_DENIED_REPLY", "status": 403, "blocked": True},
        id="denied-reply-403",
    ),
    # IPv6 client, and an IPv6 literal with a port in the URL.
    pytest.param(
        "1700000000.5      3 2001:db8::42 TCP_MISS/200 99 GET http://[2001:db8::1]:8080/x "
        "- DIRECT/2001:db8::1 text/plain",
        {
            "ts": datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC),
            "client_ip": "2001:db8::42",
            "domain": "2001:db8::1",
        },
        id="ipv6-client",
    ),
    # Credentials in the URL are not part of the host; nor are a port and a trailing dot.
    pytest.param(
        "1700000000.000      3 10.0.0.9 TCP_MISS/200 10 GET "
        "http://user:secret@Example.COM.:8080/a@b - DIRECT/203.0.113.9 text/html",
        {"domain": "example.com", "url": "http://user:secret@Example.COM.:8080/a@b"},
        id="userinfo-port-dot",
    ),
    # Only the seven fields up to the URL: still an event, with no user.
    pytest.param(
        "1700000000.000 0 10.0.0.1 TCP_MISS/200 0 GET http://a.example/",
        {"user": None, "domain": "a.example", "size": 0},
        id="seven-fields",
    ),
    # A size that is not an ASCII number is unknown, not a crash.
    pytest.param(
        "1700000000.000 0 10.0.0.1 TCP_MISS/200 \u00b2 GET http://a.example/ - DIRECT/- -",
        {"size": None, "status": 200},
        id="non-ascii-size",
    ),
]


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_annotated_sample(line: str, expected: dict[str, Any]) -> None:
    ev = _event(parse_line(line, CTX))
    got = {name: getattr(ev, name) for name in expected}
    assert got == expected


# Lines that are not Squid native access.log lines, and what the reason must say.
GARBAGE: list[tuple[str, str]] = [
    ("", "empty line"),
    ("   \t ", "empty line"),
    ("garbage", "expected at least 7 fields of a Squid native access.log line, got 1"),
    (
        "1700000000.000 0 10.0.0.1 TCP_MISS/200 0 GET",
        "expected at least 7 fields of a Squid native access.log line, got 6",
    ),
    (
        "Dec  3 08:51:27 dnsmasq[1068]: query[A] daisy.ubuntu.com from 192.0.2.5",
        "first field 'Dec' is not a Unix time",
    ),
    (
        '192.0.2.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326',
        "first field '192.0.2.1' is not a Unix time",
    ),
    ("nan 0 10.0.0.1 TCP_MISS/200 0 GET http://a/ - DIRECT/- -", "is not a Unix time"),
    ("1e400 0 10.0.0.1 TCP_MISS/200 0 GET http://a/ - DIRECT/- -", "is not a Unix time"),
    (
        "1700000000.000 0 10.0.0.1 TCP_MISS 0 GET http://a/ - DIRECT/- -",
        "fourth field 'TCP_MISS' is not CODE/STATUS",
    ),
    (
        "1700000000.000 0 10.0.0.1 TCP_MISS/OK 0 GET http://a/ - DIRECT/- -",
        "fourth field 'TCP_MISS/OK' is not CODE/STATUS",
    ),
    ("1700000000.000 0 10.0.0.1 /200 0 GET http://a/ - DIRECT/- -", "is not CODE/STATUS"),
    (
        "1700000000.000 0 10.0.0.1 TCP_MISS/\u00b2 0 GET http://a/ - DIRECT/- -",
        "is not CODE/STATUS",
    ),
]


@pytest.mark.parametrize(("line", "reason"), GARBAGE)
def test_garbage_is_rejected_with_what_was_expected(line: str, reason: str) -> None:
    parsed = parse_line(line, CTX)
    assert parsed.events == ()
    assert parsed.rejected is not None
    assert reason in parsed.rejected


def _check_total(line: str) -> None:
    parsed = PARSER.parse(line, CTX)
    check_parsed(parsed, line)
    assert parsed.rejected is not None or len(parsed.events) == 1  # every access line is one


_TOKEN = st.one_of(
    st.sampled_from(
        [
            "1700000000.123",
            "-1",
            "0",
            "1e30",
            "inf",
            "TCP_MISS/200",
            "TCP_DENIED/407",
            "A/\u0663",
            "\u00b2",
            "CONNECT",
            "GET",
            "http://[::1",
            "http://u@[2001:db8::1]:80/",
            "a.example:443",
            "[",
            "[]",
            "-",
            "%5C",
            "@",
        ]
    ),
    st.text(st.characters(exclude_categories=("Zs", "Zl", "Zp", "Cc")), min_size=1),
)


@given(st.lists(_TOKEN, min_size=7, max_size=11))
def test_fuzz_near_miss_lines_never_raise(tokens: list[str]) -> None:
    """Lines with the right shape reach past the field count into every conversion."""
    _check_total(" ".join(tokens))


def test_a_connection_that_sent_no_request_is_not_an_event() -> None:
    line = (
        "1795249551.185      0 127.0.0.1 NONE_NONE/000 0 - error:transaction-end-before-headers"
        " - HIER_NONE/- -"
    )
    assert PARSER.parse(line, CTX) == SKIP


# OPNsense's JSON access log, as the firewall sends it to syslog (real lines).
OPNSENSE = FIXTURES / "syslog" / "elastic-opnsense-squid-json-syslog.log"


def test_the_texts_lines_repeat_are_one_string_each() -> None:
    """So that a batch handed to the storing process pickles each once."""
    long = "http://www.bbc.co.uk/" + "a" * 400
    lines = [
        f"1763650000.{i:03d}    95 10.20.{i}.7 TCP_MISS/200 512 {method} {url} pupil7 "
        "HIER_DIRECT/203.0.113.7 text/html"
        for i, method, url in (
            (1, "GET", "http://www.bbc.co.uk/news"),
            (1, "GET", "http://www.bbc.co.uk/news"),
            (2, "GE" + "T", long),
            (2, "GET", long),
        )
    ]
    a, b, c, d = (_event(parse_line(line, CTX)) for line in lines)
    assert (a.client_ip, a.method, a.url, a.action) == (
        "10.20.1.7",
        "GET",
        "http://www.bbc.co.uk/news",
        "TCP_MISS",
    )
    for name in ("client_ip", "method", "url", "action"):
        assert getattr(a, name) is getattr(b, name)
    assert c.method is a.method
    assert c.url == d.url == long
    assert c.url is not d.url  # a long URL is not kept


def test_opnsense_json_lines_sent_to_syslog_are_read() -> None:
    got = []
    for n, line in numbered_lines(OPNSENSE):
        parsed = PARSER.parse(line, CTX)
        assert parsed.rejected is None, f"{OPNSENSE.name}:{n} rejected: {parsed.rejected}"
        (ev,) = parsed.events
        got.append((ev.client_ip, ev.method, ev.domain, ev.action, ev.blocked, ev.status))
    assert got[:2] == [
        (None, "GET", "www.microsoft.com", "TCP_DENIED", True, 403),
        (
            "192.168.2.2",
            "CONNECT",
            "v10.events.data.microsoft.com",
            "NONE_NONE_ABORTED",
            False,
            200,
        ),
    ]
    assert len(got) == 5


JSON = (
    '{"@timestamp":"2026-11-19T10:01:02+0000","http":{"request":{"method":"GET"},'
    '"response":{"bytes":3162,"body":{"status_code":403}}},"source":{"ip":"10.20.6.7"},'
    '"user":{"name":"SCHOOL\\\\jayden.s"},"url":{"original":"http://www.bet365.com/en/"},'
    '"labels":{"request_status":"TCP_DENIED","hierarchy_status":"HIER_NONE"}}'
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            JSON,
            {
                "ts": datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC),
                "client_ip": "10.20.6.7",
                "user": "jayden.s",
                "domain": "www.bet365.com",
                "url": "http://www.bet365.com/en/",
                "blocked": True,
                "status": 403,
                "size": 3162,
            },
        ),
        # Without @timestamp the envelope's time is used.
        (
            "<166>Nov 19 10:01:05 fw (squid-1)[6802]: " + JSON.replace("@timestamp", "x"),
            {"ts": datetime(2026, 11, 19, 10, 1, 5, tzinfo=UTC)},
        ),
        # A native line with a syslog envelope (Squid's access_log syslog: module).
        (
            "Nov 19 10:01:05 proxy squid[1]: 1763546462.123 5 10.20.6.7 TCP_MISS/200 10 GET "
            "http://a.example/ - HIER_DIRECT/203.0.113.1 text/html",
            {"domain": "a.example", "client_ip": "10.20.6.7"},
        ),
    ],
)
def test_json_and_syslog_samples(line: str, expected: dict[str, Any]) -> None:
    ev = _event(parse_line(line, CTX))
    assert {name: getattr(ev, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not a JSON object"),
        ("{}", "without url.original"),
        (JSON.replace("2026-11-19T10:01:02+0000", "yesterday"), "@timestamp"),
    ],
)
def test_broken_json_is_rejected(line: str, reason: str) -> None:
    parsed = parse_line(line, CTX)
    assert parsed.events == ()
    assert reason in (parsed.rejected or "")


_ECS_KEYS = st.sampled_from(
    [
        *("http", "request", "response", "body", "status_code", "bytes", "url", "original"),
        *("method", "source", "ip", "user", "name", "labels", "request_status", "@timestamp"),
    ]
)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=10),
        lambda inner: st.dictionaries(_ECS_KEYS, inner, max_size=4),
        max_leaves=12,
    )
)
def test_fuzz_json_never_raises(record: object) -> None:
    _check_total(json.dumps(record) if isinstance(record, dict) else "{" + str(record))
