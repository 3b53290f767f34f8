"""The FortiGate (FortiOS key=value) parser against real lines, annotated samples and fuzz."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.base import ParseContext
from collectors.parsers.fortigate import PARSER, parse_line
from monitord.core.model import SKIP, EventKind, EventUpdate, Origin
from tests.collectors.parsers.fixturelines import (
    CTX,
    Expected,
    check_parsed,
    check_sample,
    fixture_files,
    numbered_lines,
)
from tests.conftest import FIXTURES

FORTIGATE = FIXTURES / "fortigate"
LOGS = fixture_files(FORTIGATE)


def _ctx(offset: int) -> ParseContext:
    return ParseContext(CTX.tz, CTX.reference, Origin("fw", "f", offset))


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_every_fixture_line_is_read(path: Path) -> None:
    session = PARSER.session()
    events = 0
    for n, line in numbered_lines(path):
        parsed = session.parse(line, _ctx(n))
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        for ev in parsed.events:
            assert ev.domain is not None
            assert ev.domain in line
            assert f"srcip={ev.client_ip}" in line
            assert f"action={ev.action}" in line.replace('"', "")
            events += 1
        if 'type="traffic"' in line:
            assert parsed == SKIP, f"{path.name}:{n}"
    assert events > 0


def test_the_real_lines_give_the_filters_verdicts() -> None:
    (v74,) = (p for p in LOGS if "7-4" in p.name)
    session = PARSER.session()
    seen = []
    for n, line in numbered_lines(v74):
        for ev in session.parse(line, _ctx(n)).events:
            seen.append((ev.kind, ev.domain, ev.blocked, ev.filter_category))
    assert seen == [
        (EventKind.HTTP, "morrishittu.ddns.net", True, "Malicious Websites"),
        (EventKind.DNS, "changelogs.ubuntu.com", False, "Information Technology"),
        (EventKind.TLS, "www.dailymotion.com", False, "Web.Client: HTTPS.BROWSER"),
        (EventKind.TLS, "www.dailymotion.com", True, "Video/Audio: Dailymotion"),
        (EventKind.TLS, "www.dailymotion.com", True, "Video/Audio: Dailymotion"),
    ]


WEB = (
    'date=2026-11-19 time=10:01:02 logid="0316013056" type="utm" subtype="webfilter" '
    'eventtype="ftgd_blk" level="warning" vd="root" srcip=10.20.6.7 srcport=50000 '
    'srcmac="AA-00-00-00-00-07" user="SCHOOL\\jayden.s" group="Pupils" dstip=203.0.113.9 '
    'service="HTTPS" hostname="www.bet365.com" profile="pupils" action="blocked" '
    'url="/en/live" msg="URL belongs to a denied category in policy" cat=61 '
    'catdesc="Gambling"'
)

# Each line with what it must give: the Event fields, SKIP, or words of the rejection.
SAMPLES: list[tuple[str, Expected]] = [
    # A blocked request with a user, a MAC and no eventtime: the date is the school's zone.
    (
        WEB,
        {
            "kind": EventKind.HTTP,
            "ts": datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC),
            "client_ip": "10.20.6.7",
            "client_mac": "aa:00:00:00:00:07",
            "user": "jayden.s",
            "domain": "www.bet365.com",
            "url": "https://www.bet365.com/en/live",
            "action": "blocked",
            "blocked": True,
            "filter_category": "Gambling",
        },
    ),
    # The same with a PRI alone (FortiOS's default syslog form), and with a whole RFC 3164
    # header as rsyslog writes it to a file.
    ("<189>" + WEB, {"domain": "www.bet365.com", "blocked": True}),
    ("Nov 19 10:01:02 fw01 " + WEB, {"domain": "www.bet365.com", "user": "jayden.s"}),
    # RFC 5424 (FortiOS's syslog format rfc5424).
    ("<189>1 2026-11-19T10:01:02Z fw01 - - - - " + WEB, {"client_ip": "10.20.6.7"}),
    # FortiOS tz= puts the local time where it belongs: 10:01:02 at +0100 is 09:01:02Z.
    (WEB + ' tz="+0100"', {"ts": datetime(2026, 11, 19, 9, 1, 2, tzinfo=UTC)}),
    # eventtime in nanoseconds wins over date and time.
    (
        WEB + " eventtime=1763546462000000000",
        {"ts": datetime(2025, 11, 19, 10, 1, 2, tzinfo=UTC)},
    ),
    # Passthrough: allowed and recorded with its category; an FSSO user not authenticated.
    (
        WEB.replace('action="blocked"', 'action="passthrough"')
        .replace('user="SCHOOL\\jayden.s" ', 'unauthuser="helen.p" ')
        .replace('"Gambling"', '"Education"'),
        {
            "blocked": False,
            "action": "passthrough",
            "user": "helen.p",
            "filter_category": "Education",
        },
    ),
    # The DNS filter's verdict on a lookup.
    (
        'date=2026-11-19 time=10:01:02 logid="1501054802" type="utm" subtype="dns" '
        'eventtype="dns-response" srcip=10.20.6.7 xid=7 qname="www.bet365.com" qtype="A" '
        'action="block" msg="Domain was blocked" cat=61 catdesc="Gambling"',
        {"kind": EventKind.DNS, "domain": "www.bet365.com", "qtype": "A", "blocked": True},
    ),
    # Unquoted values (FortiOS 5).
    (
        "date=2016-06-15 time=11:44:46 logid=0316013056 type=utm subtype=webfilter "
        "srcip=10.0.0.5 service=HTTP hostname=example.org action=blocked url=/a",
        {"url": "http://example.org/a", "blocked": True, "user": None},
    ),
    # What carries no event: forward traffic, system events, an app without a host name.
    ('date=2026-11-19 time=10:01:02 logid="0000000013" type="traffic" subtype="forward"', SKIP),
    ('date=2026-11-19 time=10:01:02 logid="0100032001" type="event" subtype="system"', SKIP),
    (
        'date=2026-11-19 time=10:01:02 logid="1059028704" type="utm" subtype="app-ctrl" '
        'srcip=10.0.0.5 app="NTP" action="pass"',
        SKIP,
    ),
    # Not FortiOS at all, a broken envelope, a date that does not exist.
    ("garbage", "not a FortiOS log line"),
    ("", "not a FortiOS log line"),
    ("<999>date=2026-11-19 time=10:01:02 logid=1 type=utm", "syslog envelope"),
    (WEB.replace("2026-11-19", "2026-02-30"), "impossible date"),
]


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_annotated_sample(line: str, expected: Expected) -> None:
    check_sample(parse_line(line, CTX), expected)


_QUERY = (
    'date=2026-11-19 time=10:01:02 logid="1500054000" type="utm" subtype="dns" '
    'eventtype="dns-query" srcip=10.20.6.7 xid=99 qname="www.bet365.com" qtype="A"'
)
_RESPONSE = (
    'date=2026-11-19 time=10:01:02 logid="1501054802" type="utm" subtype="dns" '
    'eventtype="dns-response" srcip=10.20.6.7 xid=99 qname="www.bet365.com" qtype="A" '
    'action="block" catdesc="Gambling"'
)


def test_a_lookup_and_its_verdict_are_one_event_in_either_order() -> None:
    session = PARSER.session()
    query = session.parse(_QUERY, _ctx(1))
    assert len(query.events) == 1
    assert query.events[0].blocked is False
    verdict = session.parse(_RESPONSE, _ctx(2))
    assert verdict.events == ()
    assert verdict.updates == (
        EventUpdate(
            Origin("fw", "f", 1).event_id(0),
            blocked=True,
            action="block",
            filter_category="Gambling",
        ),
    )
    session = PARSER.session()
    first = session.parse(_RESPONSE, _ctx(1))
    assert [(e.blocked, e.filter_category) for e in first.events] == [(True, "Gambling")]
    assert session.parse(_QUERY, _ctx(2)) == SKIP


def _check_total(line: str) -> None:
    check_parsed(PARSER.session().parse(line, CTX), line, most=1)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "date",
                "time",
                "tz",
                "eventtime",
                "type",
                "subtype",
                "eventtype",
                "srcip",
                "srcmac",
                "hostname",
                "url",
                "qname",
                "action",
                "user",
                "catdesc",
                "service",
                "xid",
            ]
        ),
        st.text(max_size=30),
    ),
    st.booleans(),
)
def test_fuzz_key_value_lines_never_raise(fields: dict[str, str], quoted: bool) -> None:
    body = " ".join(f'{k}="{v}"' if quoted else f"{k}={v}" for k, v in fields.items())
    _check_total(f"logid=1 type=utm subtype=webfilter {body}")
    _check_total(f"logid=1 {body}")
