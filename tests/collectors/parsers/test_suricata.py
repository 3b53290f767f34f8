"""The Suricata eve.json parser against real EVE logs, annotated samples and fuzz."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.parsers.base import ParseContext
from collectors.parsers.suricata import PARSER, SuricataSession
from monitord.core.model import SKIP, Event, EventKind, Parsed
from tests.collectors.parsers.fixturelines import check_parsed, check_sample
from tests.conftest import FIXTURES

LONDON = ZoneInfo("Europe/London")
REFERENCE = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
CTX = ParseContext(LONDON, REFERENCE)
EVE = FIXTURES / "suricata"
FILES = (
    sorted(p for p in EVE.iterdir() if p.is_file() and p.suffix != ".md") if EVE.is_dir() else []
)


def _records(path: Path) -> list[tuple[int, str]]:
    out = []
    for n, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        if raw.strip():
            out.append((n, raw.decode("utf-8", "replace").rstrip("\r")))
    return out


def _run(lines: list[str]) -> list[Parsed]:
    session = SuricataSession()
    return [session.parse(line, CTX) for line in lines]


def _one(parsed: Parsed) -> Event:
    assert parsed.rejected is None, parsed.rejected
    assert len(parsed.events) == 1, parsed
    return parsed.events[0]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_fixture_record_is_read(path: Path) -> None:
    """Each record against the test's own reading of it: dns queries, http and tls with SNI
    are events with the record's time, client and name; answers to a lookup already
    counted and every other event type are skipped."""
    records = _records(path)
    assert records, f"{path.name} has no records"
    session = PARSER.session()
    counted: set[tuple[object, object, object]] = set()
    for n, line in records:
        parsed = session.parse(line, CTX)
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        rec = json.loads(line)
        kind = rec["event_type"]
        when = datetime.fromisoformat(rec["timestamp"]).astimezone(UTC)
        if kind == "dns":
            dns = rec["dns"]
            answer = dns["type"] == "answer"
            client = rec["dest_ip"] if answer and rec["dest_port"] != 53 else rec["src_ip"]
            key = (rec.get("flow_id"), dns["id"], client)
            if answer and key in counted:
                assert parsed == SKIP, f"{path.name}:{n}"
                continue
            counted.add(key)
            ev = _one(parsed)
            assert (ev.kind, ev.ts, ev.client_ip, ev.domain, ev.qtype) == (
                EventKind.DNS,
                when,
                client,
                dns["rrname"],
                dns["rrtype"],
            )
            assert ev.action == (dns["rcode"] if answer else None)
        elif kind == "http":
            ev = _one(parsed)
            http = rec["http"]
            assert (ev.kind, ev.ts, ev.client_ip, ev.domain) == (
                EventKind.HTTP,
                when,
                rec["src_ip"],
                http["hostname"],
            )
            assert ev.url == f"http://{http['hostname']}{http['url']}"
            assert (ev.method, ev.status, ev.size) == (
                http.get("http_method"),
                http.get("status"),
                http.get("length"),
            )
        elif kind == "tls" and rec["tls"].get("sni"):
            ev = _one(parsed)
            assert (ev.kind, ev.ts, ev.client_ip) == (EventKind.TLS, when, rec["src_ip"])
            assert ev.domain == rec["tls"]["sni"].rstrip(".")
        else:
            assert parsed == SKIP, f"{path.name}:{n} ({kind}) gave {parsed}"


def _events(prefix: str) -> list[Event]:
    (path,) = (p for p in FILES if p.name.startswith(prefix))
    session = PARSER.session()
    return [ev for _, line in _records(path) for ev in session.parse(line, CTX).events]


def test_fixture_beats_http_dns_answer_and_tls() -> None:
    http, dns, tls = _events("beats-eve-small")
    # "2018-07-05T15:43:47.690014-0400": four hours behind UTC.
    assert http == Event(
        kind=EventKind.HTTP,
        ts=datetime(2018, 7, 5, 19, 43, 47, 690014, tzinfo=UTC),
        client_ip="192.168.86.85",
        domain="192.168.86.28",
        url="http://192.168.86.28/dd.xml",
        method="GET",
        status=200,
        size=1155,
    )
    # The only record of this lookup is the answer, from the resolver to the client.
    assert (dns.kind, dns.client_ip, dns.domain, dns.qtype, dns.action) == (
        EventKind.DNS,
        "192.168.86.85",
        "clients.l.google.com",
        "A",
        "NOERROR",
    )
    assert dns.ts == datetime(2018, 7, 5, 19, 51, 20, 213418, tzinfo=UTC)
    # SNI written with a trailing dot.
    assert (tls.kind, tls.domain, tls.client_ip) == (
        EventKind.TLS,
        "p33-btmmdns.icloud.com",
        "192.168.86.85",
    )


def test_fixture_v1_dns_queries_count_once_and_answers_are_skipped() -> None:
    events = _events("sv-eve-dns")
    assert [(e.domain, e.client_ip) for e in events] == [
        ("client-cf.dropbox.com", "10.16.1.11"),
        ("block.dropbox.com", "10.16.1.11"),
        ("codemonkey.net", "10.16.1.11"),
        ("client-cf.dropbox.com", "10.16.1.11"),
    ]
    assert events[0].ts == datetime(2016, 5, 24, 23, 27, 1, 960780, tzinfo=UTC)
    assert all(e.action is None for e in events)  # queries: no reply code yet


def test_fixture_dns_over_tcp_in_flow_direction() -> None:
    """Answers written client-to-server (DNS over TCP) belong to the query's transaction."""
    (query,) = _events("sv-dns-tcp-www-google-com")
    assert (query.domain, query.client_ip, query.qtype) == ("www.google.com", "10.16.1.11", "A")


def test_fixture_alerts_with_embedded_http_or_tls_are_skipped() -> None:
    assert _events("sv-alert-testmyids") == []
    assert _events("crowdsec-suricata-eve-detect") == []
    (tls,) = _events("sv-tls-fingerprint-alert")
    assert (tls.domain, tls.client_ip) == ("www.google.com", "10.16.1.11")


def test_fixture_http_without_extended_fields() -> None:
    (http,) = _events("sv-detect-engine-state-03")
    assert (http.domain, http.url, http.method, http.status, http.size) == (
        "www.server.lan",
        "http://www.server.lan/upload.cgi",
        None,
        None,
        None,
    )
    assert http.ts == datetime(2023, 12, 27, 8, 54, 54, 668726, tzinfo=UTC)


def _dns(body: dict[str, Any], **top: Any) -> str:
    rec = {
        "timestamp": "2024-03-01T09:15:00.000000+0000",
        "flow_id": 7,
        "event_type": "dns",
        "src_ip": "10.0.0.5",
        "src_port": 50000,
        "dest_ip": "10.0.0.1",
        "dest_port": 53,
        "proto": "UDP",
        "dns": body,
    }
    rec.update(top)
    return json.dumps(rec)


def _reply(body: dict[str, Any]) -> str:
    return _dns(
        body, src_ip="10.0.0.1", src_port=53, dest_ip="10.0.0.5", dest_port=50000, flow_id=7
    )


Q_V1 = _dns({"type": "query", "id": 1, "rrname": "YouTube.com", "rrtype": "AAAA", "tx_id": 0})
A_V2 = _reply(
    {
        "version": 2,
        "type": "answer",
        "id": 1,
        "flags": "8180",
        "qr": True,
        "rrname": "youtube.com",
        "rrtype": "AAAA",
        "rcode": "NOERROR",
        "answers": [{"rrname": "youtube.com", "rrtype": "AAAA", "ttl": 5, "rdata": "::1"}],
    }
)

# Annotated samples in the manner of fail2ban's: the records fed to a fresh session, and what
# the last of them must give (Event fields, SKIP, or words of the rejection reason).
SAMPLES: list[tuple[list[str], dict[str, Any] | Parsed | str]] = [
    # A v1/v2 query: the event, from the source.
    (
        [Q_V1],
        {
            "kind": EventKind.DNS,
            "ts": datetime(2024, 3, 1, 9, 15, tzinfo=UTC),
            "client_ip": "10.0.0.5",
            "domain": "youtube.com",
            "qtype": "AAAA",
            "action": None,
        },
    ),
    # Its v2 answer follows: the lookup is already counted.
    ([Q_V1, A_V2], SKIP),
    # The same answer alone (replies-only logging): the event, for the destination.
    ([A_V2], {"client_ip": "10.0.0.5", "domain": "youtube.com", "action": "NOERROR"}),
    # A second record of the same answer (v1 writes one per resource record): skipped.
    ([A_V2, A_V2], SKIP),
    # A v2 "grouped" answer without rrname: nothing names the query.
    (
        [_reply({"version": 2, "type": "answer", "id": 2, "grouped": {"A": ["192.0.2.1"]}})],
        SKIP,
    ),
    # A v2 "detailed" answer without a top rrname: the first answer names the query.
    (
        [
            _reply(
                {
                    "version": 2,
                    "type": "answer",
                    "id": 3,
                    "rcode": "NOERROR",
                    "answers": [
                        {"rrname": "www.suricata-ids.org", "rrtype": "CNAME"},
                        {"rrname": "suricata-ids.org", "rrtype": "A"},
                    ],
                }
            )
        ],
        {"domain": "www.suricata-ids.org", "qtype": "CNAME"},
    ),
    # Suricata 8 (DNS v3): request and response, the name in queries[].
    (
        [
            _dns(
                {
                    "version": 3,
                    "type": "request",
                    "id": 4,
                    "queries": [{"rrname": "tiktok.com", "rrtype": "A"}],
                }
            )
        ],
        {"domain": "tiktok.com", "qtype": "A", "client_ip": "10.0.0.5"},
    ),
    (
        [
            _dns({"version": 3, "type": "request", "id": 4, "queries": [{"rrname": "t.co"}]}),
            _dns(
                {
                    "version": 3,
                    "type": "response",
                    "id": 4,
                    "rcode": "NXDOMAIN",
                    "queries": [{"rrname": "t.co"}],
                }
            ),
        ],
        SKIP,  # Suricata 7+ writes replies in the flow's direction: src is still the client
    ),
    # Another DNS record type (Suricata 8 writes e.g. mdns separately; unknown types skip).
    ([_dns({"type": "unknown", "id": 5})], SKIP),
    # http with a Host port, no extended fields.
    (
        [
            json.dumps(
                {
                    "timestamp": "2017-06-12T13:19:24.004566+0200",
                    "event_type": "http",
                    "src_ip": "10.1.1.9",
                    "dest_ip": "203.0.113.4",
                    "http": {"hostname": "Games.Example", "http_port": 8080, "url": "/play"},
                }
            )
        ],
        {
            "kind": EventKind.HTTP,
            "ts": datetime(2017, 6, 12, 11, 19, 24, 4566, tzinfo=UTC),
            "client_ip": "10.1.1.9",
            "domain": "games.example",
            "url": "http://Games.Example:8080/play",
            "method": None,
        },
    ),
    # http: status as a string, as old extended logging wrote it; a CONNECT.
    (
        [
            json.dumps(
                {
                    "timestamp": "2017-06-12T13:19:24Z",
                    "event_type": "http",
                    "src_ip": "10.1.1.9",
                    "http": {
                        "hostname": "proxy.local",
                        "url": "discord.com:443",
                        "http_method": "CONNECT",
                        "status": "200",
                        "length": 0,
                    },
                }
            )
        ],
        {"url": "discord.com:443", "method": "CONNECT", "status": 200, "size": 0},
    ),
    # A timestamp without an offset is in the school's zone (BST in June).
    (
        [
            json.dumps(
                {
                    "timestamp": "2017-06-12T13:19:24.000001",
                    "event_type": "tls",
                    "src_ip": "10.1.1.9",
                    "tls": {"sni": "Reddit.com", "version": "TLS 1.3"},
                }
            )
        ],
        {
            "kind": EventKind.TLS,
            "ts": datetime(2017, 6, 12, 12, 19, 24, 1, tzinfo=UTC),
            "domain": "reddit.com",
        },
    ),
    # tls without SNI.
    (
        ['{"timestamp":"2017-06-12T13:19:24+0200","event_type":"tls","tls":{"version":"TLS 1.2"}}'],
        SKIP,
    ),
    # Types that record no client activity of interest.
    ('{"timestamp":"2017-06-12T13:19:24+0200","event_type":"stats","stats":{}}', SKIP),
    ('{"timestamp":"2017-06-12T13:19:24+0200","event_type":"netflow","netflow":{}}', SKIP),
    ('{"timestamp":"2017-06-12T13:19:24+0200","event_type":"anomaly","anomaly":{}}', SKIP),
    ('{"timestamp":"2017-06-12T13:19:24+0200","event_type":"fileinfo","http":{}}', SKIP),
    ('{"timestamp":"x","event_type":"flow"}', SKIP),
    # Not EVE, or broken.
    ('{"timestamp":"2017-06-12T13:19:24+0200"}', "without Suricata EVE's 'event_type'"),
    ('{"event_type":"dns"}', "without Suricata EVE's 'event_type' and 'timestamp'"),
    ('{"timestamp":"yesterday","event_type":"dns","dns":{}}', "is not ISO 8601"),
    ('{"timestamp":"2017-06-12T13:19:24Z","event_type":"dns"}', "without a 'dns' object"),
    ('{"timestamp":"2017-06-12T13:19:24Z","event_type":"tls","tls":"x"}', "without a 'tls'"),
    ('{"timestamp":"2017-06-12T13:19:24Z","event_type":"http"}', "without a 'http' object"),
    ('["dns"]', "not an object"),
    ('{"timestamp":', "not valid JSON"),
    ("", "empty line"),
    ("1700000000.1 12 10.0.0.1 TCP_MISS/200 10 GET http://a.example/ - DIRECT/a -", "not valid"),
]


@pytest.mark.parametrize(("lines", "expected"), SAMPLES)
def test_annotated_sample(lines: list[str] | str, expected: dict[str, Any] | Parsed | str) -> None:
    *before, last = _run([lines] if isinstance(lines, str) else lines)
    for p in before:
        assert p.rejected is None, p.rejected
    check_sample(last, expected)


def test_offsets_with_and_without_colon_agree() -> None:
    """``+0200`` (what Suricata writes) and ``+02:00`` give the same moment."""
    a, b = (
        _one(
            SuricataSession().parse(
                json.dumps({"timestamp": stamp, "event_type": "tls", "tls": {"sni": "a.example"}}),
                CTX,
            )
        ).ts
        for stamp in ("2017-06-12T13:19:24.004566+0200", "2017-06-12T13:19:24.004566+02:00")
    )
    assert a == b == datetime(2017, 6, 12, 13, 19, 24, 4566, tzinfo=timezone(timedelta(hours=2)))


def test_remembered_transactions_are_bounded() -> None:
    session = SuricataSession()
    for i in range(10_050):
        session.parse(_dns({"type": "query", "id": i, "rrname": "a.example"}), CTX)
    assert len(session._seen) == 10_000
    # The oldest were forgotten: their answer now counts as the only record of the lookup.
    assert session.parse(_reply({"type": "answer", "id": 0, "rrname": "a.example"}), CTX).events
    assert session.parse(_reply({"type": "answer", "id": 10_049, "rrname": "a.example"}), CTX) == (
        SKIP
    )


def _check_total(parsed: Parsed) -> None:
    check_parsed(parsed)


_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
_ANY = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_BODY = st.dictionaries(
    st.sampled_from(
        [
            "type",
            "id",
            "rrname",
            "rrtype",
            "rcode",
            "queries",
            "answers",
            "version",
            "sni",
            "hostname",
            "url",
            "http_method",
            "http_port",
            "status",
            "length",
        ]
    ),
    st.one_of(
        _ANY,
        st.sampled_from(["query", "answer", "request", "response"]),
        st.lists(st.fixed_dictionaries({"rrname": _SCALAR, "rrtype": _SCALAR}), max_size=3),
    ),
)
_EVEISH = st.builds(
    lambda kind, stamp, body, extra: json.dumps(
        {"timestamp": stamp, "event_type": kind, kind: body, **extra}
    ),
    st.sampled_from(["dns", "http", "tls", "alert", "flow"]),
    st.one_of(
        st.sampled_from(
            ["2017-06-12T13:19:24.004566+0200", "0001-01-01T00:00:00+2359", "9999-12-31T23:59:59"]
        ),
        st.text(max_size=30),
    ),
    _BODY,
    st.dictionaries(
        st.sampled_from(["src_ip", "dest_ip", "src_port", "dest_port", "flow_id"]), _ANY
    ),
)


@settings(max_examples=300)
@given(st.lists(st.one_of(_EVEISH, st.text()), max_size=20))
def test_fuzz_sequences_never_raise(lines: list[str]) -> None:
    session = PARSER.session()
    for line in lines:
        _check_total(session.parse(line, CTX))
