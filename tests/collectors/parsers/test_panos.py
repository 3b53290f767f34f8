"""The Palo Alto (PAN-OS THREAT/url CSV) parser against real lines, samples and fuzz."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.panos import PARSER, parse_line
from monitord.core.model import SKIP, EventKind
from tests.collectors.parsers.fixturelines import (
    CTX,
    Expected,
    check_sample,
    fixture_files,
    numbered_lines,
)
from tests.conftest import FIXTURES

PANOS = FIXTURES / "panos"
LOGS = fixture_files(PANOS)


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_every_fixture_line_is_read(path: Path) -> None:
    events = 0
    for n, line in numbered_lines(path):
        parsed = PARSER.session().parse(line, CTX)
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        for ev in parsed.events:
            assert ev.kind is EventKind.HTTP
            assert ev.client_ip == "192.168.15.224"
            assert ev.url in ("https://consent.cmp.oath.com/", "https://b.scorecardresearch.com/")
            assert (ev.action, ev.blocked) == ("block-url", True)
            assert ev.filter_category == "business-and-economy"
            # Generated time 16:44 in November: the school's zone is UTC then.
            assert ev.ts.date() == datetime(2018, 11, 30, tzinfo=UTC).date()
            events += 1
    assert events == len(numbered_lines(path))


def _record(**changes: str) -> str:
    """A PAN-OS 10 THREAT/url record with its fields changed by position name."""
    fields = ["1", "2026/11/19 10:01:03", "012801096514", "THREAT", "url", "2049"]
    fields += ["2026/11/19 10:01:02", "10.20.6.7", "203.0.113.9", "", "", "pupils-out"]
    fields += ["SCHOOL\\jayden.s", "", "web-browsing", "vsys1", "trust", "untrust"]
    fields += ["ethernet1/2", "ethernet1/1", "fwd", "2026/11/19 10:01:02", "28191", "1"]
    fields += ["52984", "80", "0", "0", "0x403000", "tcp", "alert", '"www.bet365.com/en/"']
    fields += ["(9999)", "gambling", "informational", "client-to-server", "7726", "0x0"]
    fields += ["10.0.0.0-10.255.255.255", "United Kingdom", "0", "text/html"]
    names = {"user": 12, "app": 14, "dport": 25, "action": 30, "url": 31, "category": 33}
    names |= {"type": 3, "subtype": 4, "generated": 6, "src": 7}
    for name, value in changes.items():
        fields[names[name]] = value
    return ",".join(fields)


SAMPLES: list[tuple[str, Expected]] = [
    # An allowed request logged (alert), with the user User-ID mapped to the address.
    (
        _record(),
        {
            "kind": EventKind.HTTP,
            "ts": datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC),
            "client_ip": "10.20.6.7",
            "user": "jayden.s",
            "domain": "www.bet365.com",
            "url": "http://www.bet365.com/en/",
            "action": "alert",
            "blocked": False,
            "filter_category": "gambling",
        },
    ),
    # Blocked, and a continue page (the user was warned); with a syslog header before it.
    (_record(action="block-url"), {"blocked": True}),
    ("<14>Nov 19 10:01:03 PA-220 " + _record(action="continue"), {"blocked": False}),
    # No User-ID: no user. HTTPS is known by the application.
    (
        _record(user="", app="ssl", url='"www.bet365.com/"'),
        {"user": None, "url": "https://www.bet365.com/"},
    ),
    # Other records carry no event.
    (_record(type="TRAFFIC", subtype="end"), SKIP),
    (_record(subtype="vulnerability"), SKIP),
    # A URL record cut short, a bad time, something else entirely.
    (",".join(_record().split(",")[:20]), "expected 34 or more"),
    (_record(generated="2026/02/30 10:01:02"), "generated time"),
    ("garbage", "not a PAN-OS log record"),
    ("", "not a PAN-OS log record"),
]


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_annotated_sample(line: str, expected: Expected) -> None:
    check_sample(parse_line(line, CTX), expected)


@given(
    st.sampled_from(["user", "app", "dport", "action", "url", "category", "generated", "src"]),
    st.text(max_size=40),
)
def test_fuzz_fields_never_raise(name: str, value: str) -> None:
    parsed = parse_line(_record(**{name: value}), CTX)
    assert parsed.rejected is None or parsed.events == ()
    assert len(parsed.events) <= 1
