"""The agent report parser (schema monitord.agent/1): annotated samples of every kind, every
rejection naming its field, and fuzz."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.agent import DATA, KINDS, PARSER, SCHEMA, _decoded, _time, parse_line
from collectors.parsers.base import load_parser
from monitord.core.model import SKIP, EventKind
from tests.collectors.parsers.fixturelines import CTX

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def report(kind: str, data: dict[str, Any] | None = None, **envelope: Any) -> dict[str, Any]:
    """A report as the Windows agent on Y6-LT-07 writes it while Jayden is logged on."""
    base: dict[str, Any] = {
        "schema": SCHEMA,
        "agent_id": "agent-y6-lt-07",
        "hostname": "Y6-LT-07",
        "ts": "2026-11-19T10:01:02.123456789+00:00",
        "user": "SCHOOL\\Jayden.S",
        "ip": "10.20.6.7",
        "mac": "AA-00-00-00-00-07",
        "kind": kind,
        "data": {} if data is None else data,
    }
    base.update(envelope)
    return base


def line(value: object) -> str:
    return json.dumps(value)


def test_registered_as_the_agent_format() -> None:
    assert load_parser("agent") is PARSER


def test_logon_carries_who_where_and_when() -> None:
    (ev,) = parse_line(line(report("logon")), CTX).events
    assert ev.kind is EventKind.LOGON
    # Nanoseconds cut to microseconds; DOMAIN\user to the roster's user name; MAC normalised.
    assert ev.ts == datetime(2026, 11, 19, 10, 1, 2, 123456, tzinfo=UTC)
    assert (ev.user, ev.client_ip, ev.client_mac, ev.hostname) == (
        "jayden.s",
        "10.20.6.7",
        "aa:00:00:00:00:07",
        "Y6-LT-07",
    )


def test_logoff_may_name_no_user() -> None:
    (ev,) = parse_line(line(report("logoff", user=None, ts="2026-11-19T12:00:00Z")), CTX).events
    assert ev.kind is EventKind.LOGOFF
    assert ev.user is None
    assert ev.ts == datetime(2026, 11, 19, 12, 0, tzinfo=UTC)


def test_a_zone_offset_is_turned_into_utc() -> None:
    (ev,) = parse_line(line(report("logoff", ts="2026-06-19T13:00:00+01:00")), CTX).events
    assert ev.ts == datetime(2026, 6, 19, 12, 0, tzinfo=UTC)


def test_url_gives_an_http_event_with_its_domain() -> None:
    data = {"url": "https://WWW.Bet365.com./sport?x=1", "title": "Bet365"}
    (ev,) = parse_line(line(report("url", data)), CTX).events
    assert ev.kind is EventKind.HTTP
    assert ev.url == "https://WWW.Bet365.com./sport?x=1"
    assert ev.domain == "www.bet365.com"


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("search", {"engine": "google", "query": "how to bet"}, (EventKind.SEARCH, "how to bet")),
        ("typed_text", {"text": "meet me", "app": "Teams"}, (EventKind.TEXT, "meet me")),
        ("window_title", {"title": "Roblox", "app": "msedge.exe"}, (EventKind.TEXT, "Roblox")),
        (
            "process",
            {"name": "tor.exe", "path": "C:\\Tor\\tor.exe", "sha256": SHA},
            (EventKind.PROCESS, "tor.exe"),
        ),
    ],
)
def test_text_kinds(kind: str, data: dict[str, str], expected: tuple[EventKind, str]) -> None:
    (ev,) = parse_line(line(report(kind, data)), CTX).events
    assert (ev.kind, ev.text) == expected
    assert ev.user == "jayden.s"
    assert ev.hostname == "Y6-LT-07"


def test_screenshot_is_an_event_carrying_its_sha256() -> None:
    parsed = parse_line(line(report("screenshot", {"file": "shots/0001.png", "sha256": SHA})), CTX)
    (ev,) = parsed.events
    assert (ev.kind, ev.text, ev.report, ev.agent) == (
        EventKind.SCREENSHOT,
        SHA,
        "screenshot",
        "agent-y6-lt-07",
    )


def test_optional_fields_may_be_null_and_unknown_address_is_null() -> None:
    r = report("url", {"url": "http://example.com/", "title": None}, ip=None, mac=None)
    (ev,) = parse_line(line(r), CTX).events
    assert (ev.client_ip, ev.client_mac) == (None, None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty line"),
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        (line({**report("logon"), "extra": 1}), "extra: not a field of schema monitord.agent/1"),
        (line({k: v for k, v in report("logon").items() if k != "mac"}), "mac: missing"),
        (line(report("logon", schema="monitord.agent/2")), "schema: expected"),
        (line(report("logon", agent_id="")), "agent_id: must not be empty"),
        (line(report("logon", agent_id=7)), "agent_id: expected a string, got int"),
        (line(report("logon", hostname=" ")), "hostname: must not be empty"),
        (line(report("logon", ts="2026-11-19 10:01:02")), "ts: '2026-11-19 10:01:02' is not"),
        (line(report("logon", ts=1763546462)), "ts: expected an RFC 3339 time string, got int"),
        (line(report("logon", ts="2026-02-30T10:00:00Z")), "ts: '2026-02-30T10:00:00Z' is not a"),
        (line(report("logon", user=None)), "user: a logon report must name the user"),
        (line(report("logon", user="-")), "user: '-' names no user"),
        (line(report("logon", user=["a"])), "user: expected a string or null, got list"),
        (line(report("logon", ip="10.20.6.300")), "ip: '10.20.6.300' is not an IP address"),
        (line(report("logon", mac="aa:bb")), "mac: 'aa:bb' is not a MAC address"),
        (line(report("keylog")), "kind: 'keylog' is not one of logon, logoff"),
        (line({**report("logon"), "data": []}), "data: expected an object, got list"),
        (line(report("logon", {"x": "1"})), "data.x: not a field of a logon report"),
        (line(report("url", {})), "data.url: missing (a url report needs it)"),
        (line(report("url", {"url": "javascript:alert(1)"})), "data.url: 'javascript:alert(1)'"),
        (line(report("url", {"url": "http:///x"})), "data.url: 'http:///x' names no host"),
        (line(report("url", {"url": 5})), "data.url: expected a string, got int"),
        (line(report("search", {"engine": "bing", "query": " "})), "data.query: must not be"),
        (line(report("window_title", {"title": ""})), "data.title: must not be empty"),
        (line(report("logon", hostname="h" * 257)), "hostname: longer than 256 characters"),
        (line(report("search", {"engine": "bing", "query": None})), "data.query: expected a"),
        (line(report("typed_text", {"text": "\u2003\t"})), "data.text: must not be empty"),
        (line(report("typed_text", {"text": "hi", "app": 3})), "data.app: expected a string"),
        (line(report("process", {"name": "a", "sha256": "abc"})), "data.sha256: expected 64"),
        (
            line(report("screenshot", {"file": "../../etc/passwd", "sha256": SHA})),
            "data.file: must be a path relative to the report",
        ),
    ],
)
def test_rejections_name_the_field(value: str, reason: str) -> None:
    parsed = parse_line(value, CTX)
    assert parsed.rejected is not None
    assert reason in parsed.rejected


def test_every_kind_has_a_data_shape() -> None:
    assert set(DATA) == set(KINDS)


_TEXT = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")


@st.composite
def valid_reports(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    required, optional = DATA[kind]
    data: dict[str, Any] = {}
    for key in required + tuple(k for k in optional if draw(st.booleans())):
        data[key] = draw(_TEXT)
    if kind == "url":
        data["url"] = "https://" + draw(st.from_regex(r"[a-z]{1,10}\.[a-z]{2,5}", fullmatch=True))
    if "sha256" in data:
        data["sha256"] = SHA
    if kind == "screenshot":
        data["file"] = "shot.png"
    stamp = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
    return report(
        kind,
        data,
        ts=stamp.isoformat() + "Z",
        user=draw(st.from_regex(r"[a-z][a-z.]{0,15}", fullmatch=True)),
        ip=draw(st.ip_addresses().map(str) | st.none()),
        hostname=draw(_TEXT),
    )


@given(valid_reports())
def test_fuzz_valid_reports_are_read(r: dict[str, Any]) -> None:
    parsed = parse_line(line(r), CTX)
    assert parsed.rejected is None, parsed.rejected
    (ev,) = parsed.events
    assert ev.ts.tzinfo is UTC
    assert ev.user == r["user"]
    assert ev.client_ip == r["ip"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from([*report("url"), "extra"]), _JSON, max_size=10))
def test_fuzz_reports_with_any_values_never_raise(r: dict[str, Any]) -> None:
    parsed = parse_line(json.dumps(r), CTX)
    assert parsed.rejected is not None or parsed == SKIP or len(parsed.events) == 1


def _loaded(text: str) -> tuple[str, Any]:
    """What ``json.loads`` makes of ``text``: its value, or its error's type and message."""
    try:
        return "value", json.loads(text)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


@given(
    _JSON.map(json.dumps)
    | st.text(alphabet='{}[]",:0123456789.eE+-tfrulnas \ufeff\\', max_size=30)
    | st.builds(lambda a, b: json.dumps(a) + b, _JSON, st.text(max_size=3))
)
def test_a_report_is_decoded_as_json_loads_decodes_it(text: str) -> None:
    """A stripped line gives the value ``json.loads`` gives, or the same error."""
    text = text.strip()
    if not text:
        return
    try:
        got: tuple[str, Any] = "value", _decoded(text)
    except (ValueError, RecursionError) as exc:
        got = type(exc).__name__, str(exc)
    assert got == _loaded(text)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.sampled_from(["T", "t", " "]),
)
def test_an_agents_time_reads_the_same_in_every_way_it_may_be_written(
    when: datetime, sep: str
) -> None:
    """A time as agents write it (six digits of fraction, ``Z``) is the instant that the
    same time written with an offset, or with more or fewer digits, gives."""
    day = f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
    clock = f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
    fraction = f"{when.microsecond:06d}"
    expected = when.replace(tzinfo=UTC)
    usual = _time(f"{day}{sep}{clock}.{fraction}Z")
    assert usual == expected
    assert usual.tzinfo is UTC
    assert _time(f"{day}{sep}{clock}.{fraction}+00:00") == expected
    assert _time(f"{day}{sep}{clock}.{fraction}000Z") == expected
    assert _time(f"{day}{sep}{clock}.{fraction}z") == expected
