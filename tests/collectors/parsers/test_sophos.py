"""The Sophos (SFOS content filtering, UTM httpproxy) parser: real lines, samples, fuzz."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.sophos import PARSER, parse_line
from monitord.core.model import SKIP, EventKind
from tests.collectors.parsers.fixturelines import (
    CTX,
    Expected,
    check_sample,
    fixture_files,
    numbered_lines,
)
from tests.conftest import FIXTURES

SOPHOS = FIXTURES / "sophos"
LOGS = fixture_files(SOPHOS)


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_every_fixture_line_is_read(path: Path) -> None:
    events = 0
    for n, line in numbered_lines(path):
        parsed = PARSER.session().parse(line, CTX)
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        for ev in parsed.events:
            assert ev.kind is EventKind.HTTP
            assert ev.url is not None
            assert ev.url in line
            assert ev.client_ip is not None
            assert ev.client_ip in line
            assert ev.blocked == ('log_subtype="Denied"' in line or 'action="block"' in line)
            events += 1
        if 'id="0003"' in line:
            assert parsed == SKIP
    assert events > 0


def test_real_verdicts_users_and_categories() -> None:
    got = {
        (ev.user, ev.domain, ev.action, ev.filter_category)
        for path in LOGS
        for _, line in numbered_lines(path)
        for ev in parse_line(line, CTX).events
    }
    assert ("rich", "www.vancity.com", "Denied", "Financial Services") in got
    assert ("rich", "www.google.com", "Warned", "Search Engines") in got
    # The SFOS 18 line whose domain holds a space: the name is read whole.
    assert ("rich", "www.google.ca", "Allowed", "Search Engines") in got
    assert ("testuser", "myurl.test.com", "block", "Portal Sites") in got


SFOS19 = (
    'device_name="SFW" timestamp="2026-11-19T10:01:02+0000" device_model="XGS2100" '
    'log_id="050902616002" log_type="Content Filtering" log_component="HTTP" '
    'log_subtype="Denied" log_version=1 severity="Information" user="jayden.s@school.example" '
    'user_group="Pupils" src_ip="10.20.6.7" src_mac="aa:00:00:00:00:07" dst_ip="203.0.113.9" '
    'url="https://www.bet365.com/" domain="www.bet365.com" http_category="Gambling" '
    'http_category_type="Unproductive" http_status="403"'
)
UTM = (
    '2026:11:19-10:01:02 utm httpproxy[6267]: id="0060" severity="info" sys="SecureWeb" '
    'sub="http" name="web request blocked, forbidden category detected" action="block" '
    'method="GET" srcip="10.20.6.7" user="SCHOOL\\helen.p" statuscode="403" size="4764" '
    'url="http://www.bet365.com/" categoryname="Gambling"'
)

SAMPLES: list[tuple[str, Expected]] = [
    # SFOS 19 field names: timestamp, user, http_category, http_status, src_mac.
    (
        SFOS19,
        {
            "kind": EventKind.HTTP,
            "ts": datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC),
            "client_ip": "10.20.6.7",
            "client_mac": "aa:00:00:00:00:07",
            "user": "jayden.s",
            "domain": "www.bet365.com",
            "url": "https://www.bet365.com/",
            "action": "Denied",
            "blocked": True,
            "status": 403,
            "filter_category": "Gambling",
        },
    ),
    # The same sent with a PRI and an RFC 3164 header.
    ("<30>Nov 19 10:01:02 sfw " + SFOS19, {"domain": "www.bet365.com", "blocked": True}),
    # UTM: its own time (the school's zone), a Windows user name.
    (
        UTM,
        {
            "ts": datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC),
            "user": "helen.p",
            "method": "GET",
            "blocked": True,
            "size": 4764,
            "filter_category": "Gambling",
        },
    ),
    # The UTM message alone, as a syslog source hands it over: placed at the reference.
    (UTM.split(": ", 1)[1], {"ts": CTX.reference, "domain": "www.bet365.com"}),
    # A CONNECT's URL names its host.
    (
        UTM.replace('method="GET"', 'method="CONNECT"').replace("http://", "https://"),
        {"domain": "www.bet365.com", "method": "CONNECT"},
    ),
    # Other log types and UTM programs carry no event.
    ('device="SFW" date=2016-12-02 time=18:27:03 log_type="Firewall" log_id=1', SKIP),
    ('2026:11:19-10:01:02 utm ulogd[5]: id="2001" name="Packet dropped"', SKIP),
    # Not Sophos; a date that does not exist.
    ("garbage", "not a Sophos log line"),
    ("", "not a Sophos log line"),
    (UTM.replace("2026:11:19", "2026:02:30"), "impossible time"),
    (SFOS19.replace("2026-11-19T", "2026-13-19T"), "impossible time"),
]


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_annotated_sample(line: str, expected: Expected) -> None:
    check_sample(parse_line(line, CTX), expected)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                *("log_type", "timestamp", "date", "time", "timezone", "user_name", "src_ip"),
                *("src_mac", "url", "domain", "category", "log_subtype", "id", "sys", "srcip"),
                *("method", "action", "statuscode", "size", "recv_bytes"),
            ]
        ),
        st.text(max_size=30),
    ),
    st.booleans(),
)
def test_fuzz_key_value_lines_never_raise(fields: dict[str, str], utm: bool) -> None:
    body = " ".join(f'{k}="{v}"' for k, v in fields.items())
    line = f"2026:11:19-10:01:02 utm httpproxy[1]: {body}" if utm else f'device="SFW" {body}'
    parsed = parse_line(line, CTX)
    assert parsed.rejected is None or parsed.events == ()
    assert len(parsed.events) <= 1
