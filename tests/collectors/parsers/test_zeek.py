"""The Zeek dns/http/ssl parser against real logs (TSV and JSON), annotated samples and fuzz."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.files import read_header
from collectors.parsers.base import ParseContext
from collectors.parsers.zeek import PARSER, ZeekSession, event_of
from monitord.core.model import SKIP, Event, EventKind, Parsed
from tests.collectors.parsers.fixturelines import check_parsed, check_sample, numbered_lines
from tests.conftest import FIXTURES

REFERENCE = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
CTX = ParseContext(ZoneInfo("Europe/London"), REFERENCE)
ZEEK = FIXTURES / "zeek"
FILES = (
    sorted(p for p in ZEEK.rglob("*") if p.is_file() and p.suffix != ".md") if ZEEK.is_dir() else []
)
MASKED = [p for p in FILES if p.parent.name == "btest-canonicalized"]
REAL = [p for p in FILES if p not in MASKED]


_lines = numbered_lines


def _run(lines: list[str], session: ZeekSession | None = None) -> list[Parsed]:
    s = session or ZeekSession()
    return [s.parse(line, CTX) for line in lines]


def _one(parsed: Parsed) -> Event:
    assert parsed.rejected is None, parsed.rejected
    assert len(parsed.events) == 1, parsed
    return parsed.events[0]


class _Reader:
    """The test's own plain reading of a fixture line, to check the parser against: the
    header by name, then what each record must give."""

    def __init__(self) -> None:
        self.fields: list[str] = []
        self.path: str | None = None

    def expect(self, line: str) -> dict[str, Any] | None:
        """None for a line that must be skipped; else the event's expected fields."""
        if line.startswith("#fields\t"):
            self.fields = line.split("\t")[1:]
        elif line.startswith("#path\t"):
            self.path = line.split("\t")[1]
        if line.startswith("#"):
            return None
        if line.startswith("{"):
            rec: dict[str, Any] = json.loads(line)
            path = rec.get("_path") or (
                "dns" if "query" in rec else "ssl" if "server_name" in rec else "http"
            )
        else:
            values = line.split("\t")
            assert len(values) == len(self.fields)
            rec = {k: v for k, v in zip(self.fields, values, strict=True) if v != "-"}
            path = self.path
        ts = rec["ts"]
        if isinstance(ts, str) and ts.startswith("X"):
            return None  # btest: masked time
        when = (
            datetime.fromisoformat(ts)
            if isinstance(ts, str) and "T" in ts
            else datetime.fromtimestamp(float(ts), UTC)
        )
        base = {"ts": when, "client_ip": rec["id.orig_h"]}
        if path == "dns":
            if "query" not in rec:
                return None
            qtype = rec.get("qtype_name")
            return {
                **base,
                "kind": EventKind.DNS,
                "domain": rec["query"].lower().rstrip("."),
                "qtype": qtype,
                "action": rec.get("rcode_name"),
            }
        if path == "ssl":
            if "server_name" not in rec:
                return None
            return {**base, "kind": EventKind.TLS, "domain": rec["server_name"].lower()}
        assert path == "http"
        if not any(k in rec for k in ("method", "host", "uri")):
            return None
        host = rec.get("host") or rec["id.resp_h"]
        status = rec.get("status_code")
        return {
            **base,
            "kind": EventKind.HTTP,
            "domain": host.lower().split(":")[0] if host.count(":") == 1 else host.lower(),
            "method": rec.get("method"),
            "status": None if status is None else int(status),
            "size": int(rec["response_body_len"]),
        }


def test_fixture_folder_has_logs_of_each_kind() -> None:
    names = " ".join(p.name for p in REAL)
    assert len(REAL) >= 6, f"expected the Zeek sample logs under {ZEEK}"
    assert len(MASKED) >= 3, f"expected Zeek's btest baselines under {ZEEK}"
    for kind in ("dns", "http", "ssl"):
        assert kind in names
    assert any(p.suffix == ".json" for p in REAL)
    assert any(p.suffix == ".log" for p in REAL)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ZEEK)) for p in FILES])
def test_every_fixture_line_is_read_as_the_header_names_it(path: Path) -> None:
    lines = _lines(path)
    assert lines, f"{path.name} has no lines"
    session = PARSER.session()
    reader = _Reader()
    events = 0
    for n, line in lines:
        parsed = session.parse(line, CTX)
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        expected = reader.expect(line)
        if expected is None:
            assert parsed == SKIP, f"{path.name}:{n} gave {parsed}"
            continue
        ev = _one(parsed)
        assert {k: getattr(ev, k) for k in expected} == expected, f"{path.name}:{n}"
        assert ev.ts.tzinfo is UTC
        assert ev.domain is not None
        assert ev.domain == ev.domain.lower().rstrip(".")
        events += 1
    if path in MASKED:
        assert events == 0  # no time, no event: these files are for column layouts only
    else:
        assert events > 0, f"{path.name} gave no events"


def _named(prefix: str) -> Path:
    (path,) = (p for p in REAL if p.name.startswith(prefix))
    return path


def _events(path: Path) -> list[Event]:
    s = PARSER.session()
    return [ev for _, line in _lines(path) for ev in s.parse(line, CTX).events]


def test_fixture_dns_tsv_exact_values() -> None:
    first = _events(_named("brim-wrccdc-dns-tsv"))[0]
    # 1521911720.865716	...	10.47.1.100	41772	10.0.0.100	53	udp	36329	...	ise.wrccdc.org ... A
    assert first == Event(
        kind=EventKind.DNS,
        ts=datetime(2018, 3, 24, 17, 15, 20, 865716, tzinfo=UTC),
        client_ip="10.47.1.100",
        domain="ise.wrccdc.org",
        qtype="A",
        action="NOERROR",
    )


def test_fixture_dns_json_iso_times() -> None:
    first = _events(_named("brim-wrccdc-dns-json"))[0]
    assert first.ts == datetime(2018, 3, 24, 17, 22, 59, 804528, tzinfo=UTC)
    assert (first.client_ip, first.domain, first.qtype) == ("10.47.1.100", "ise.wrccdc.org", "A")


def test_fixture_bro25_dns_ipv6_client_and_unanswered_query() -> None:
    events = _events(_named("maxpowell-bro25-dns"))
    assert events[0].client_ip == "2001:4ca0:2003:1920:4423:dbfd:b01:862c"
    assert events[0].domain == "www.google.es"
    assert events[0].ts == datetime(2018, 5, 8, 12, 22, 21, 657148, tzinfo=UTC)
    # The last record has no reply: rcode_name is unset.
    assert events[-1].domain == "r4---sn-4g5edne7.googlevideo.com"
    assert (events[-1].qtype, events[-1].action) == ("AAAA", None)


def test_fixture_http_tsv_exact_values() -> None:
    events = _events(_named("maxpowell-bro25-http"))
    ocsp = events[0]
    assert ocsp.kind is EventKind.HTTP
    assert ocsp.ts == datetime(2018, 5, 8, 12, 22, 21, 889079, tzinfo=UTC)
    assert ocsp.client_ip == "2001:4ca0:2003:1920:4423:dbfd:b01:862c"
    assert (ocsp.domain, ocsp.url, ocsp.method) == (
        "ocsp.pki.goog",
        "http://ocsp.pki.goog/GTSGIAG3",
        "POST",
    )
    assert (ocsp.status, ocsp.size, ocsp.user) == (200, 463, None)


def test_fixture_http_json_with_and_without_host() -> None:
    events = _events(_named("ocsf-zeek-http"))
    # HTTP/0.9 request without a Host header: the server's address is the domain.
    assert events[0].domain == "131.243.1.10"
    assert events[0].url is not None
    assert events[0].url.startswith("http://131.243.1.10/cgi-bin/formmail.pl?")
    assert events[0].ts == datetime(2002, 10, 30, 23, 23, 29, 801685, tzinfo=UTC)
    aol = events[1]
    assert (aol.domain, aol.url, aol.method, aol.status, aol.size) == (
        "webmail.aol.com",
        "http://webmail.aol.com/dig/brandInfo.js",
        "GET",
        200,
        9541,
    )
    assert aol.client_ip == "192.168.0.184"


def test_fixture_ssl_sni_and_no_sni() -> None:
    tsv = _named("maxpowell-bro25-ssl")
    lines = [line for _, line in _lines(tsv)]
    parsed = _run(lines)
    first = next(p.events[0] for p in parsed if p.events)
    assert first == Event(
        kind=EventKind.TLS,
        ts=datetime(2018, 5, 8, 12, 22, 21, 728998, tzinfo=UTC),
        client_ip="2001:4ca0:2003:1920:4423:dbfd:b01:862c",
        domain="www.google.es",
    )
    # The last record of the file has no SNI (server_name is '-').
    assert lines[-2].split("\t")[9] == "-"
    assert parsed[-2] == SKIP
    json_events = _events(_named("brim-wrccdc-ssl-json"))
    assert json_events[0].domain == "tiles.services.mozilla.com"
    assert json_events[0].client_ip == "10.47.3.155"


# Zeek's test baselines: every line is read, none gives an event, and their columns are
# found by the names of their own #fields line.


@pytest.mark.parametrize("path", MASKED, ids=[p.name for p in MASKED])
def test_btest_baselines_are_read_but_give_no_event(path: Path) -> None:
    lines = [line for _, line in _lines(path)]
    assert lines[0].startswith("### BTest baseline")
    assert all(p == SKIP for p in _run(lines))


def _masked(prefix: str) -> tuple[ZeekSession, list[str]]:
    (path,) = (p for p in MASKED if p.name.startswith(prefix))
    session = ZeekSession()
    records = []
    for _, line in _lines(path):
        assert session.parse(line, CTX) == SKIP
        if not line.startswith("#"):
            records.append(line)
    return session, records


def test_btest_dns_layout_with_extra_columns() -> None:
    session, records = _masked("dns-zeek-btest-opt.basic")
    assert session.header.path == "dns"
    assert session.header.fields is not None
    assert session.header.fields[-2:] == ("opcode", "opcode_name")  # newer than Zeek 6.2
    cols = [session.columns(r) for r in records]
    wiki = next(c for c in cols if c and c["query"] == "upload.wikimedia.org.ncsa.uiuc.edu")
    assert wiki["id.orig_h"] == "141.142.220.118"
    assert (wiki["qtype_name"], wiki["rcode_name"], wiki["ts"]) == (
        "AAAA",
        "NXDOMAIN",
        "XXXXXXXXXX.XXXXXX",
    )
    assert wiki["answers"] is None  # '-' is unset
    ev = event_of("dns", wiki, REFERENCE)
    assert ev is not None
    assert (ev.domain, ev.client_ip, ev.qtype, ev.action) == (
        "upload.wikimedia.org.ncsa.uiuc.edu",
        "141.142.220.118",
        "AAAA",
        "NXDOMAIN",
    )


def test_btest_http_layout_and_empty_fields() -> None:
    session, records = _masked("http-zeek-btest-scripts.base.protocols.http.http-methods")
    cols = [session.columns(r) for r in records]
    assert all(c is not None for c in cols)
    options = cols[1]
    assert options is not None
    assert (options["method"], options["host"], options["uri"]) == (
        "OPTIONS",
        "www.google.com",
        None,  # (empty)
    )
    assert options["tags"] is None
    get = next(c for c in cols if c and c["method"] == "GET")
    ev = event_of("http", get, REFERENCE)
    assert ev is not None
    assert (ev.domain, ev.url, ev.status, ev.size, ev.client_ip) == (
        "www.google.com",
        "http://www.google.com/",
        200,
        43911,
        "128.2.6.136",
    )
    # A record with no request (method, host and uri unset) gives no event.
    bare = next(c for c in cols if c and c["method"] is None)
    assert event_of("http", bare, REFERENCE) is None


def test_btest_ssl_layout() -> None:
    session, records = _masked("ssl-zeek-btest-scripts.base.protocols.ssl.basic")
    (rec,) = (session.columns(r) for r in records)
    assert rec is not None
    assert (rec["server_name"], rec["id.orig_h"], rec["version"]) == (
        "ssl.gstatic.com",
        "192.168.1.105",
        "TLSv10",
    )
    ev = event_of("ssl", rec, REFERENCE)
    assert ev is not None
    assert (ev.kind, ev.domain) == (EventKind.TLS, "ssl.gstatic.com")


# A session resumed in the middle of a file is first shown the file's '#' lines again.


@pytest.mark.parametrize("prefix", ["brim-wrccdc-dns-tsv", "maxpowell-bro25-http"])
def test_resumed_session_maps_columns_from_replayed_header(prefix: str) -> None:
    path = _named(prefix)
    data = path.read_bytes()
    lines = data.split(b"\n")
    middle = len(lines) // 2
    offset = sum(len(line) + 1 for line in lines[:middle])
    header = read_header(path, "#", offset)
    assert header
    assert all(line.startswith("#") for line in header)
    assert any(line.startswith("#fields") for line in header)

    whole = ZeekSession()
    full = [whole.parse(line.decode("utf-8", "replace"), CTX) for line in lines if line]
    resumed = ZeekSession()
    for line in header:
        resumed.parse(line, CTX)
    tail = [resumed.parse(line.decode("utf-8", "replace"), CTX) for line in lines[middle:] if line]
    assert tail == full[-len(tail) :]
    assert any(p.events for p in tail)
    assert not any(p.rejected for p in tail)


def test_resumed_session_without_header_rejects_with_reason() -> None:
    path = _named("brim-wrccdc-dns-tsv")
    record = _lines(path)[20][1]
    parsed = ZeekSession().parse(record, CTX)
    assert parsed.rejected is not None
    assert "before any '#fields' header" in parsed.rejected


# Annotated samples in the manner of fail2ban's: the lines fed to a fresh session, and what
# the last of them must give (the Event fields it must have, SKIP, or words of the rejection).
# Every line before the last must be read without rejection.

HEAD = [
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
]
DNS_HEAD = [
    *HEAD,
    "#path\tdns",
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tquery\tqtype_name\trcode_name",
    "#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tstring\tstring",
]
SAMPLES: list[tuple[list[str], dict[str, Any] | Parsed | str]] = [
    # A query, with the header naming the columns.
    (
        [*DNS_HEAD, "1700000000.5\tC1\t10.1.2.3\t5353\t10.0.0.1\t53\tWWW.Example.COM.\tA\tNOERROR"],
        {
            "kind": EventKind.DNS,
            "ts": datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC),
            "client_ip": "10.1.2.3",
            "domain": "www.example.com",
            "qtype": "A",
            "action": "NOERROR",
        },
    ),
    # The same columns in another order: found by name, not by position.
    (
        [
            *HEAD,
            "#path\tdns",
            "#fields\tquery\trcode_name\tid.orig_h\tts\tqtype_name",
            "bbc.co.uk\tNXDOMAIN\t192.168.7.9\t1700000001\tAAAA",
        ],
        {"domain": "bbc.co.uk", "client_ip": "192.168.7.9", "qtype": "AAAA", "action": "NXDOMAIN"},
    ),
    # A query name with an escaped byte (a tab inside a value is written \x09).
    (
        [*DNS_HEAD, "1700000000\tC1\t10.1.2.3\t1\t10.0.0.1\t53\tweird\\x2dname.test\tA\t-"],
        {"domain": "weird-name.test", "action": None},
    ),
    # No query name: nothing to record.
    ([*DNS_HEAD, "1700000000\tC1\t10.1.2.3\t1\t10.0.0.1\t53\t-\t-\t-"], SKIP),
    # Header lines.
    (DNS_HEAD[:1], SKIP),
    ([*DNS_HEAD, "#open\t2024-04-12-19-29-12"], SKIP),
    ([*DNS_HEAD, "#close\t2024-04-12-19-29-48"], SKIP),
    # A log of another kind.
    (
        [
            *HEAD,
            "#path\tconn",
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto",
            "1700000000\tC1\t10.1.2.3\t1\t10.0.0.1\t443\ttcp",
        ],
        SKIP,
    ),
    # A separator other than tab, declared with an escape.
    (
        [
            "#separator \\x7c",
            "#path|ssl",
            "#fields|ts|id.orig_h|server_name|version|cipher",
            "1700000000|10.9.8.7|Chat.Example.Org|TLSv13|TLS_AES_128_GCM_SHA256",
        ],
        {"kind": EventKind.TLS, "client_ip": "10.9.8.7", "domain": "chat.example.org"},
    ),
    # An ssl record without SNI.
    (
        [
            *HEAD,
            "#path\tssl",
            "#fields\tts\tid.orig_h\tserver_name\tversion",
            "1700000000\t10.9.8.7\t-\tTLSv12",
        ],
        SKIP,
    ),
    # http: host with its port; URL from host and uri; user name as the proxy gave it.
    (
        [
            *HEAD,
            "#path\thttp",
            "#fields\tts\tid.orig_h\tid.resp_h\tmethod\thost\turi\tstatus_code\t"
            "response_body_len\tusername",
            "1700000000\t10.5.5.5\t203.0.113.9\tGET\tShop.Example:8080\t/cart?x=1\t302\t0\t"
            "SCHOOL\\x5cjsmith",
        ],
        {
            "kind": EventKind.HTTP,
            "client_ip": "10.5.5.5",
            "domain": "shop.example",
            "url": "http://Shop.Example:8080/cart?x=1",
            "method": "GET",
            "status": 302,
            "size": 0,
            "user": "jsmith",
        },
    ),
    # http: a CONNECT through a proxy Zeek watched.
    (
        [
            *HEAD,
            "#path\thttp",
            "#fields\tts\tid.orig_h\tid.resp_h\tmethod\thost\turi\tstatus_code",
            "1700000000\t10.5.5.5\t10.0.0.3\tCONNECT\t-\tdiscord.com:443\t200",
        ],
        {"domain": "discord.com", "url": "discord.com:443", "method": "CONNECT"},
    ),
    # JSON: epoch number, epoch string and ISO times; the log told by _path or by the keys.
    (
        ['{"ts":1700000000.25,"id.orig_h":"10.0.0.7","query":"a.example","qtype_name":"TXT"}'],
        {
            "kind": EventKind.DNS,
            "ts": datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC),
            "domain": "a.example",
            "qtype": "TXT",
        },
    ),
    (
        ['{"ts":"1700000000","id.orig_h":"10.0.0.7","server_name":"b.example"}'],
        {"kind": EventKind.TLS, "ts": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)},
    ),
    (
        ['{"_path":"ssl","ts":"2023-11-14T22:13:20.000001+01:00","id.orig_h":"::1","version":"x"}'],
        SKIP,
    ),
    (
        ['{"_path":"ssl","ts":"2023-11-14T22:13:20+01:00","id.orig_h":"::1","server_name":"c.ex"}'],
        {"ts": datetime(2023, 11, 14, 21, 13, 20, tzinfo=UTC), "client_ip": "::1"},
    ),
    (
        ['{"ts":1700000000,"id.orig_h":"10.0.0.7","method":"GET","host":"d.example","uri":"/"}'],
        {"kind": EventKind.HTTP, "url": "http://d.example/", "status": None, "size": None},
    ),
    # A nested id record, as some shippers write it.
    (
        ['{"ts":1700000000,"id":{"orig_h":"10.0.0.8"},"query":"e.example"}'],
        {"client_ip": "10.0.0.8", "domain": "e.example"},
    ),
    # Zeek JSON of other logs.
    (['{"_path":"conn","ts":1700000000,"uid":"C1","id.orig_h":"10.0.0.7"}'], SKIP),
    (['{"ts":1700000000,"fuid":"F1","mime_type":"text/html"}'], SKIP),
    # SIP has method and uri too; its call_id tells it apart.
    (['{"ts":1700000000,"call_id":"x","method":"INVITE","uri":"sip:1@x"}'], SKIP),
    # Masked time of Zeek's test baselines.
    ([*DNS_HEAD, "XXXXXXXXXX.XXXXXX\tC1\t10.1.2.3\t1\t10.0.0.1\t53\ta.example\tA\t-"], SKIP),
    # Not Zeek at all, or broken.
    (
        ["1700000000\tC1\t10.1.2.3\t1\t10.0.0.1\t53\ta.example\tA\t-"],
        "Zeek TSV record before any '#fields' header",
    ),
    ([*DNS_HEAD, "1700000000\tC1\t10.1.2.3"], "expected 9 fields as '#fields' names, got 3"),
    ([*DNS_HEAD, "yesterday\tC1\t10.1.2.3\t1\t10.0.0.1\t53\ta.example\tA\t-"], "neither epoch"),
    (['{"query":"a.example"}'], "without Zeek's 'ts' field"),
    (['{"ts":"soon","query":"a.example"}'], "neither epoch seconds nor ISO 8601"),
    (['{"ts":1e300,"query":"a.example"}'], "neither epoch seconds nor ISO 8601"),
    (['{"ts":1700000000,"query":'], "not valid JSON"),
    (["[1, 2]"], "Zeek TSV record before any '#fields' header"),
    (['{"ts":1}x'], "not valid JSON"),
    ([""], "empty line"),
    (
        ["Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7"],
        "Zeek TSV record before any '#fields' header",
    ),
]


@pytest.mark.parametrize(("lines", "expected"), SAMPLES)
def test_annotated_sample(lines: list[str], expected: dict[str, Any] | Parsed | str) -> None:
    *before, last = _run(lines)
    for p in before:
        assert p.rejected is None, p.rejected
    check_sample(last, expected)


def test_a_new_header_replaces_the_old_one() -> None:
    """Logs joined with cat: the second file's #fields rule its records."""
    lines = [
        *DNS_HEAD,
        "1700000000\tC1\t10.1.2.3\t1\t10.0.0.1\t53\tfirst.example\tA\t-",
        "#close\t2024-04-12-19-29-48",
        *HEAD,
        "#path\tdns",
        "#fields\tts\tid.orig_h\tquery",
        "1700000001\t10.1.2.4\tsecond.example",
    ]
    parsed = _run(lines)
    assert [e.domain for p in parsed for e in p.events] == ["first.example", "second.example"]
    assert _one(parsed[-1]).client_ip == "10.1.2.4"


def _check_total(parsed: Parsed) -> None:
    check_parsed(parsed, most=1)


_HEADERISH = st.sampled_from(
    [
        *DNS_HEAD,
        "#separator \\x2c",
        "#separator ",
        "#separator \\x",
        "#fields",
        "#fields\t",
        "#path\thttp",
        "#path\tssl",
        "#fields\tts\tid.orig_h\tquery",
        "#fields\tts\tid.orig_h\tmethod\thost\turi\tstatus_code\tresponse_body_len\tusername",
        "#unset_field\tX",
        "#empty_field\t",
    ]
)
_RECORDISH = st.lists(
    st.one_of(
        st.sampled_from(["-", "(empty)", "1700000000.1", "XXXXXXXXXX.XXXXXX", "a.example", "GET"]),
        st.text(max_size=12),
        st.integers().map(str),
        st.floats().map(str),
    ),
    min_size=1,
    max_size=10,
).map("\t".join)
_JSONISH = st.dictionaries(
    st.sampled_from(
        [
            "ts",
            "_path",
            "id.orig_h",
            "id",
            "query",
            "host",
            "uri",
            "method",
            "server_name",
            "status_code",
            "response_body_len",
            "username",
        ]
    ),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=12),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    ),
).map(json.dumps)


@settings(max_examples=300)
@given(st.lists(st.one_of(_HEADERISH, _RECORDISH, _JSONISH, st.text()), max_size=30))
def test_fuzz_sequences_never_raise(lines: list[str]) -> None:
    session = PARSER.session()
    for line in lines:
        _check_total(session.parse(line, CTX))
