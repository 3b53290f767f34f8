"""The e2guardian access log parser (native format) against real lines, samples and fuzz."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.e2guardian import PARSER, parse_line
from monitord.core.model import EventKind
from tests.collectors.parsers.fixturelines import (
    CTX,
    Expected,
    check_sample,
    fixture_files,
    numbered_lines,
)
from tests.conftest import FIXTURES

E2GUARDIAN = FIXTURES / "e2guardian"
LOGS = fixture_files(E2GUARDIAN)


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_every_fixture_line_is_read(path: Path) -> None:
    for n, line in numbered_lines(path):
        parsed = PARSER.session().parse(line, CTX)
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        (ev,) = parsed.events
        assert ev.kind is EventKind.HTTP
        assert (ev.url, ev.domain, ev.method) == ("http://URL.com", "url.com", "GET")
        assert ev.client_ip is not None
        assert ev.client_ip in line
        assert ev.blocked == ("*DENIED*" in line)
        if ev.blocked:
            assert (ev.action, ev.status) == ("*DENIED* Banned site: URL.com", 403)
            assert ev.filter_category == "Cleaning Domains"
        if line.startswith("soner "):
            assert ev.user == "soner"


DENIED = (
    "2026.11.19 10:01:02 jayden.s 10.20.6.7 http://www.bet365.com/en/ *DENIED* Banned site: "
    "bet365.com GET 0 0 Gambling 2 403 - Y6-LT-07 Pupils"
)

SAMPLES: list[tuple[str, Expected]] = [
    (
        DENIED,
        {
            "kind": EventKind.HTTP,
            "ts": datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC),
            "client_ip": "10.20.6.7",
            "user": "jayden.s",
            "domain": "www.bet365.com",
            "url": "http://www.bet365.com/en/",
            "action": "*DENIED* Banned site: bet365.com",
            "blocked": True,
            "status": 403,
            "filter_category": "Gambling",
        },
    ),
    # A weighted phrase block: the reason holds numbers and parentheses; July is BST.
    (
        "2026.7.1 9:05:00 - 10.20.6.8 http://example.org/page *DENIED* Weighted phrase limit "
        "of 160 : 200 (pornography) GET 1200 200 Pornography 1 403 text/html",
        {
            "ts": datetime(2026, 7, 1, 8, 5, tzinfo=UTC),
            "user": None,
            "blocked": True,
            "filter_category": "Pornography",
        },
    ),
    # An HTTPS tunnel, and an exception (an allow list matched).
    (
        "2026.11.19 10:01:02 - 10.20.6.8 https://www.bbc.co.uk:443 *EXCEPTION* Exception "
        "site match. CONNECT 0 0  1 200 -",
        {"domain": "www.bbc.co.uk", "method": "CONNECT", "blocked": False},
    ),
    # Two flags, the block second; a reason that names a flag blocks nothing.
    (DENIED.replace("*DENIED*", "*SCANNED* *DENIED*"), {"blocked": True}),
    (DENIED.replace("*DENIED* Banned site:", "*SCANNED* Not *DENIED*"), {"blocked": False}),
    # As sent to syslog: the message alone (at the reference time), or with its envelope.
    (DENIED.split(" ", 2)[2], {"ts": CTX.reference, "blocked": True}),
    (
        "<14>Nov 19 10:01:02 proxy e2guardian[77]: " + DENIED.split(" ", 2)[2],
        {"ts": datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC), "user": "jayden.s"},
    ),
    # Not e2guardian; a date that does not exist.
    ("garbage", "not an e2guardian access log line"),
    ("", "not an e2guardian access log line"),
    (DENIED.replace("2026.11.19", "2026.2.30"), "impossible date"),
]


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_annotated_sample(line: str, expected: Expected) -> None:
    check_sample(parse_line(line, CTX), expected)


@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=40))
def test_fuzz_fields_never_raise(user: str, url: str, reason: str) -> None:
    line = f"2026.11.19 10:01:02 {user} 10.0.0.1 {url} *DENIED* {reason} GET 0 0 x 1 403 -"
    parsed = parse_line(line, CTX)
    assert parsed.rejected is None or parsed.events == ()
    assert len(parsed.events) <= 1
