"""The AdGuard Home querylog.json parser against real logs, annotated samples and fuzz."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.adguard import PARSER, parse_line
from monitord.core.model import SKIP, EventKind, Parsed
from tests.collectors.parsers.fixturelines import (
    CTX,
    check_parsed,
    check_sample,
    fixture_files,
    numbered_lines,
)
from tests.conftest import FIXTURES

ADGUARD = FIXTURES / "adguard"
LOGS = fixture_files(ADGUARD)
_lines = numbered_lines


def _fixture_entry(host: str, filtered: bool) -> str:
    for path in LOGS:
        for _, line in _lines(path):
            entry = json.loads(line)
            if entry["QH"] == host and bool(entry["Result"]) == filtered:
                return line
    raise AssertionError(f"no fixture entry for {host!r} (filtered={filtered})")


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_every_fixture_line_is_an_event(path: Path) -> None:
    lines = _lines(path)
    assert lines
    for n, line in lines:
        parsed = PARSER.parse(line, CTX)
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        entry = json.loads(line)
        (ev,) = parsed.events
        assert ev.kind is EventKind.DNS
        assert ev.client_ip == entry["IP"]
        assert ev.domain == entry["QH"].lower()
        assert ev.qtype == entry["QT"]
        assert ev.ts.tzinfo is UTC
        assert ev.ts == datetime.fromisoformat(entry["T"])
        assert ev.blocked == entry["Result"].get("IsFiltered", False)
        assert ev.action


def test_fixture_plain_query_exact_values() -> None:
    """16:43:37.724457416+03:00 is 13:43:37.724457Z (nanoseconds cut to microseconds)."""
    (ev,) = parse_line(_fixture_entry("mtalk.google.com", False), CTX).events
    assert ev.ts == datetime(2020, 8, 31, 13, 43, 37, 724457, tzinfo=UTC)
    assert (ev.client_ip, ev.domain, ev.qtype, ev.action, ev.blocked) == (
        "192.168.0.0",
        "mtalk.google.com",
        "A",
        "NOERROR",  # from the answer's header
        False,
    )


def test_fixture_blocked_query_exact_values() -> None:
    (ev,) = parse_line(_fixture_entry("ad.doubleclick.net", True), CTX).events
    assert ev.ts == datetime(2020, 9, 9, 10, 57, 7, 495948, tzinfo=UTC)
    assert (ev.client_ip, ev.domain, ev.qtype, ev.action, ev.blocked) == (
        "127.0.0.1",
        "ad.doubleclick.net",
        "A",
        "FilteredBlackList: ||ad.doubleclick.net^",
        True,
    )


def _entry(**fields: Any) -> str:
    base: dict[str, Any] = {
        "IP": "10.20.6.7",
        "T": "2026-11-20T09:41:07.118634521Z",
        "QH": "www.example.com",
        "QT": "A",
        "QC": "IN",
        "CP": "",
        "Result": {},
        "Elapsed": 1234567,
        "Upstream": "https://dns10.quad9.net:443/dns-query",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None})


# A reply header with response code NXDOMAIN (3) and the question www.example.com A IN.
NXDOMAIN_ANSWER = "AAGBgwABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB"

# Annotated samples, in the manner of fail2ban's sample logs: each line with what it must give,
# either the Event fields it must have, SKIP, or the words the rejection reason must contain.
SAMPLES: list[tuple[str, dict[str, Any] | Parsed | str]] = [
    # A query nothing matched, without an answer recorded.
    (
        _entry(),
        {
            "kind": EventKind.DNS,
            "ts": datetime(2026, 11, 20, 9, 41, 7, 118634, tzinfo=UTC),
            "client_ip": "10.20.6.7",
            "domain": "www.example.com",
            "qtype": "A",
            "action": None,
            "blocked": False,
        },
    ),
    # The response code comes from the answer when no rule matched.
    (_entry(Answer=NXDOMAIN_ANSWER), {"action": "NXDOMAIN", "blocked": False}),
    # A name in upper case with a trailing dot; an IPv6 client; type in lower case.
    (
        _entry(QH="WWW.Example.COM.", IP="2001:db8::7", QT="aaaa"),
        {"domain": "www.example.com", "client_ip": "2001:db8::7", "qtype": "AAAA"},
    ),
    # Blocked by a list: today's Rules form...
    (
        _entry(
            Result={
                "IsFiltered": True,
                "Reason": 3,
                "Rules": [{"Text": "||bet365.com^", "FilterListID": 1700000000}],
            }
        ),
        {"action": "FilteredBlackList: ||bet365.com^", "blocked": True},
    ),
    # ...and the 2020 form with Rule and FilterID.
    (
        _entry(Result={"IsFiltered": True, "Reason": 3, "Rule": "||x.example^", "FilterID": 1}),
        {"action": "FilteredBlackList: ||x.example^", "blocked": True},
    ),
    # Safe Browsing, parental control and a blocked service are blocks too.
    (
        _entry(Result={"IsFiltered": True, "Reason": 4, "Rules": [{"Text": "adguard-malware"}]}),
        {"action": "FilteredSafeBrowsing: adguard-malware", "blocked": True},
    ),
    (_entry(Result={"IsFiltered": True, "Reason": 5}), {"action": "FilteredParental"}),
    (
        _entry(
            QH="www.tiktok.com",
            Result={
                "IsFiltered": True,
                "Reason": 8,
                "Rules": [{"Text": "||tiktok.com^", "FilterListID": -2}],
                "ServiceName": "tiktok",
            },
        ),
        {"action": "FilteredBlockedService: tiktok", "blocked": True},
    ),
    # Safe Search rewrote the answer; an allow-list rule let it through; a DNS rewrite.
    (
        _entry(
            QH="www.google.com",
            Result={
                "IsFiltered": True,
                "Reason": 7,
                "Rules": [{"Text": "", "IP": "216.239.38.120"}],
            },
        ),
        {"action": "FilteredSafeSearch", "blocked": False},
    ),
    (
        _entry(Result={"Reason": 1, "Rules": [{"Text": "@@||example.com^", "FilterListID": 0}]}),
        {"action": "NotFilteredWhiteList: @@||example.com^", "blocked": False},
    ),
    (
        _entry(Result={"Reason": 11, "Rules": [{"Text": "||nas.lan^$dnsrewrite=10.0.0.9"}]}),
        {"action": "RewriteRule: ||nas.lan^$dnsrewrite=10.0.0.9", "blocked": False},
    ),
    # A long rule is cut to the store's 64 characters.
    (
        _entry(Result={"IsFiltered": True, "Reason": 3, "Rules": [{"Text": "/" + "x" * 200}]}),
        {"action": "FilteredBlackList: /" + "x" * 44, "blocked": True},
    ),
    # A reason newer than this parser: IsFiltered says whether it was blocked.
    (_entry(Result={"IsFiltered": True, "Reason": 42}), {"action": "Reason42", "blocked": True}),
    (_entry(Result={"Reason": 42}), {"action": "Reason42", "blocked": False}),
    (_entry(Result={"IsFiltered": True}), {"action": "Filtered", "blocked": True}),
    # A time with no zone is in the school's.
    (_entry(T="2026-07-03T10:00:00"), {"ts": datetime(2026, 7, 3, 9, 0, tzinfo=UTC)}),
    # No client recorded.
    (_entry(IP=None), {"client_ip": None}),
    # A query for the root names no site.
    (_entry(QH="."), SKIP),
    # Not query log entries.
    ("", "empty line"),
    ("not json", "not JSON"),
    ('{"IP":"10.0.0.1","T":"2026-11-20T09:41:07Z","QH":"a.example"', "not JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"schema": "monitord.agent/1"}', "expected keys T and QH"),
    (_entry(T=1700000000), "expected keys T and QH"),
    (_entry(T="yesterday"), "is not an RFC 3339 time"),
    (_entry(T="0001-01-01T00:00:00+14:00"), "is not an RFC 3339 time"),
]


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_annotated_sample(line: str, expected: dict[str, Any] | Parsed | str) -> None:
    check_sample(parse_line(line, CTX), expected)


def _check_total(line: str) -> None:
    check_parsed(PARSER.parse(line, CTX), line, most=1)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@given(
    st.dictionaries(
        st.sampled_from(["IP", "T", "QH", "QT", "Result", "Answer", "Elapsed"]), _JSON, max_size=7
    ),
    st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["2026-11-20T09:41:07Z"])),
    st.one_of(_JSON, st.fixed_dictionaries({"IsFiltered": _JSON, "Reason": _JSON, "Rules": _JSON})),
)
def test_fuzz_entry_shaped_lines_never_raise(
    fields: dict[str, Any], stamp: str | None, result: Any
) -> None:
    fields.setdefault("QH", "a.example")
    if stamp is not None:
        fields["T"] = stamp
    fields["Result"] = result
    _check_total(json.dumps(fields))
