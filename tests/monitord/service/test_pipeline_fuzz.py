"""The whole pipeline against hostile records: for every format, records made of random
bytes, real lines and reports with a field replaced by something hostile (NUL, lone
surrogates, control characters, huge text, extreme dates and numbers, deeply nested JSON),
and mangled packets, go through parse, identity, classification, policy, the store and the
alerts, on SQLite and on PostgreSQL, in one batch with a normal record after them.

The property: nothing is raised, and the normal record is stored and alerts.

``MONITORD_FUZZ_EXAMPLES`` sets the examples per format and store (the default keeps the
module to a minute or two on both stores; ``make fuzz`` runs 10,000 a format, and writes
each format's examples and time to ``MONITORD_FUZZ_REPORT``).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.all import DNS, DNSQR, IP, UDP, Ether

from collectors.capture import iter_packets
from collectors.parsers.base import ParseContext, available_formats, load_parser
from collectors.parsers.pcap import pack_record
from monitord.core.model import Checkpoint, Origin, RawRecord
from monitord.service.app import App
from tests.conftest import FIXTURES
from tests.stores import rows

pytestmark = pytest.mark.stores

EXAMPLES = int(os.environ.get("MONITORD_FUZZ_EXAMPLES", "12"))
T = 1763546462  # 2026-11-19T10:01:02Z, the day before the tests' clock
JSON_FORMATS = frozenset({"zeek", "suricata", "adguard", "agent", "osquery"})


def _normal(fmt: str, n: int) -> list[bytes]:
    """A record of ``fmt`` that alerts (a pornography site, a Tor process, a lease of a
    device not in the inventory), different in each example ``n``."""
    mac = f"02:00:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
    ip = f"10.{100 + (n >> 16 & 63)}.{n >> 8 & 255}.{n & 255}"
    lines = {
        "dnsmasq": ["Nov 19 10:01:02 dnsmasq[811]: query[A] www.pornhub.com from 10.20.6.7"],
        "squid": [
            f"{T}.123    150 10.20.6.7 TCP_MISS/200 1024 GET http://www.pornhub.com/ - "
            "HIER_DIRECT/192.0.2.1 text/html"
        ],
        "bind": [
            "19-Nov-2026 10:01:02.123 queries: info: client @0x7f1 10.20.6.7#60061 "
            "(www.pornhub.com): query: www.pornhub.com IN A + (10.0.0.1)"
        ],
        "unbound": [f"[{T}] unbound[811:0] info: 10.20.6.7 www.pornhub.com. A IN"],
        "windows-dns": [
            "11/19/2026 10:01:02 AM 0A2C PACKET  000000B1E9A3F5C0 UDP Rcv 10.20.6.7       "
            "0002   Q [0001   D   NOERROR] A      (3)www(7)pornhub(3)com(0)"
        ],
        "zeek": [
            json.dumps(
                {
                    "_path": "dns",
                    "ts": T + 0.5,
                    "uid": f"C{n}",
                    "id.orig_h": "10.20.6.7",
                    "id.orig_p": 5353,
                    "id.resp_h": "10.0.0.1",
                    "id.resp_p": 53,
                    "proto": "udp",
                    "query": "www.pornhub.com",
                    "qtype_name": "A",
                }
            )
        ],
        "suricata": [
            json.dumps(
                {
                    "timestamp": "2026-11-19T10:01:02.000000+0000",
                    "event_type": "dns",
                    "src_ip": "10.20.6.7",
                    "dest_ip": "10.0.0.1",
                    "dns": {"type": "query", "id": n % 65536, "rrname": "www.pornhub.com"},
                }
            )
        ],
        "adguard": [
            json.dumps(
                {"IP": "10.20.6.7", "T": "2026-11-19T10:01:02.5Z", "QH": "www.pornhub.com"}
                | {"QT": "A", "QC": "IN", "Result": {}, "Elapsed": 1000}
            )
        ],
        "agent": [
            json.dumps(
                {
                    "schema": "monitord.agent/1",
                    "agent_id": "a1",
                    "hostname": "Y6-LT-07",
                    "ts": "2026-11-19T10:01:02Z",
                    "user": "jayden.s",
                    "ip": "10.20.6.7",
                    "mac": None,
                    "kind": "url",
                    "data": {"url": "https://www.pornhub.com/"},
                }
            )
        ],
        "osquery": [
            json.dumps(
                {
                    "action": "added",
                    "name": "pack_processes",
                    "hostIdentifier": "y6-lt-07",
                    "unixTime": str(T),
                    "counter": "3",
                    "columns": {"pid": str(n), "name": "tor.exe", "path": "C:\\tor\\tor.exe"},
                }
            )
        ],
        "dnsmasq-leases": [f"{T + 3600} {mac} {ip} stranger *"],
        "dhcpd-leases": [
            # Blocks nest in a leases file: a hostile line may leave some open, which would
            # hold the lease after them; the file's own syntax closes them first.
            " ".join("}" * 64),
            f"lease {ip} {{",
            "  starts 4 2026/11/19 10:00:00;",
            "  ends 4 2026/11/19 12:00:00;",
            "  binding state active;",
            f"  hardware ethernet {mac};",
            '  client-hostname "stranger";',
            "}",
        ],
    }
    if fmt == "pcap":
        query = (
            Ether()
            / IP(src="10.20.6.7", dst="10.0.0.1")
            / UDP(sport=1024 + n % 60000, dport=53)
            / DNS(id=n % 65536, rd=1, qd=DNSQR(qname="www.pornhub.com"))
        )
        return [pack_record(float(T), 1, bytes(query))]
    if fmt not in lines:
        return [_derived(fmt)]
    return [line.encode() for line in lines[fmt]]


@cache
def _derived(fmt: str) -> bytes:
    """For a format without a record written above: a real line of it that names a host,
    the host made www.pornhub.com."""
    ctx = ParseContext(ZoneInfo("Europe/London"), datetime(2026, 11, 20, 16, 0, tzinfo=UTC))
    for raw in _samples(fmt):
        line = raw.decode("utf-8", "replace")
        for ev in load_parser(fmt).session().parse(line, ctx).events:
            if not ev.domain:
                continue
            made = re.sub(re.escape(ev.domain), "www.pornhub.com", line, flags=re.IGNORECASE)
            again = load_parser(fmt).session().parse(made, ctx).events
            if again and again[0].domain == "www.pornhub.com":
                return made.encode()
    raise AssertionError(f"no normal {fmt} record: write one in _normal")


def _agent_samples() -> tuple[bytes, ...]:
    """A report of each kind (agents' reports have no fixtures: the schema is ours)."""
    kinds = {
        "logon": {},
        "logoff": {},
        "url": {"url": "https://www.bbc.co.uk/news", "title": "BBC"},
        "search": {"engine": "google", "query": "how to revise fractions"},
        "typed_text": {"text": "see you at lunch", "app": "Teams"},
        "window_title": {"title": "Minecraft", "app": "javaw.exe"},
        "process": {"name": "chrome.exe", "path": "C:\\chrome.exe", "sha256": "a" * 64},
        "screenshot": {"file": "shots/1.png", "sha256": "b" * 64},
    }
    base = json.loads(_normal("agent", 0)[0])
    return tuple(
        json.dumps(base | {"kind": kind, "data": data}).encode() for kind, data in kinds.items()
    )


@cache
def _samples(fmt: str) -> tuple[bytes, ...]:
    """Real records of ``fmt`` (the shared fixtures), to be mangled."""
    if fmt == "agent":
        return _agent_samples()
    folder = FIXTURES / fmt
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".md"))
    out: list[bytes] = []
    for path in files:
        if fmt == "pcap":
            out += [rec.data for rec, _ in itertools.islice(iter_packets(path, "s"), 40)]
        else:
            out += path.read_bytes().splitlines()[:200]
    return tuple(r for r in out if r.strip())


# Text no column can hold as it is, or that a reader must not act on.
NASTY = st.sampled_from(
    [
        "\x00",
        "\ud800",
        "\udfff",
        "lone \ud83d high",
        "\u202eevil",
        "\x1b[2J\x1b[31m",
        "\x7f\x01\x02",
        "\ufeff",
        "\uffff",
        "'; DROP TABLE events; --",
        "%s%n%x",
        "../../../../etc/passwd",
        "www.\x00pornhub.com",
    ]
)
DATES = st.sampled_from(
    [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "1999-12-31T23:59:59+14:00",
        "2026-02-30T25:61:61Z",
        "99999999999999",
        "-62135596800",
        "1e300",
        "31/Dec/9999:23:59:59 +0000",
        "Dec 31 23:59:59",
    ]
)
NUMBERS = st.one_of(
    st.integers(),
    st.sampled_from([2**31, 2**63, 2**64, -(2**63) - 1, 10**30, -1]),
    st.floats(),
)
TEXT = st.one_of(
    NASTY,
    DATES,
    NUMBERS.map(str),
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.integers(1, 70_000).map(lambda n: "A" * n),
)
DEEP = "\x00deep\x00"
JSON_VALUES = st.one_of(
    TEXT,
    NUMBERS,
    st.none(),
    st.booleans(),
    st.lists(TEXT, max_size=3),
    st.dictionaries(TEXT, TEXT, max_size=3),
    st.just(DEEP),
)


def _bytes(text: str) -> bytes:
    """``text`` as a line in a file: lone surrogates written as the bytes they would be,
    which are not UTF-8."""
    return text.encode("utf-8", "surrogatepass").replace(b"\n", b" ").replace(b"\r", b" ")


def _paths(value: object, at: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [at]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*at, i))
    return found


def _replaced(value: object, at: tuple[object, ...], new: object) -> object:
    if not at:
        return new
    key, rest = at[0], at[1:]
    if isinstance(value, dict):
        return {k: _replaced(v, rest, new) if k == key else v for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, rest, new) if i == key else v for i, v in enumerate(value)]
    return value


def _leaves(value: object, at: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*at, k))] or [at]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*at, i))] or [at]
    return [at]


def _get(value: object, at: tuple[object, ...]) -> object:
    for key in at:
        value = value[key]  # type: ignore[index]
    return value


@st.composite
def _json_mutant(draw: Callable[..., object], fmt: str) -> bytes:
    """A real record with one to three values made hostile: text with something nasty
    inside it (so that the record stays valid and its value reaches the store), a time or
    number out of range, or any value of any type, deeply nested JSON included."""
    sample = draw(st.sampled_from(_samples(fmt) or _normal(fmt, 0)))
    assert isinstance(sample, bytes)
    try:
        obj: object = json.loads(sample)
    except ValueError:
        obj = {}
    for _ in range(draw(st.integers(1, 3))):  # type: ignore[call-overload]
        leaves = _leaves(obj)
        at = draw(st.sampled_from(leaves + _paths(obj)[:1]))
        assert isinstance(at, tuple)
        old = _get(obj, at)
        how = draw(st.sampled_from(["embed", "embed", "time", "replace", "replace"]))
        if how == "embed" and isinstance(old, str):
            i = draw(st.integers(0, len(old)))
            new: object = old[:i] + str(draw(NASTY)) + old[i:]  # type: ignore[index]
        elif how == "time":
            new = draw(st.one_of(DATES, NUMBERS))
        else:
            new = draw(JSON_VALUES)
        obj = _replaced(obj, at, new)
    text = json.dumps(obj, ensure_ascii=bool(draw(st.booleans())))
    depth = draw(st.integers(1, 40_000))  # past 32,768 the line passes 64 KiB
    text = text.replace(json.dumps(DEEP), "[" * depth + "]" * depth)
    return _bytes(text)


@st.composite
def _line_mutant(draw: Callable[..., object], fmt: str) -> bytes:
    sample = draw(st.sampled_from(_samples(fmt) or _normal(fmt, 0)))
    assert isinstance(sample, bytes)
    words = sample.decode("utf-8", "replace").split(" ")
    at = draw(st.integers(0, len(words) - 1))
    new = draw(TEXT)
    assert isinstance(new, str)
    how = draw(st.sampled_from(["replace", "insert", "cut", "append"]))
    if how == "replace":
        words[at] = new
    elif how == "insert":
        words.insert(at, new)
    elif how == "cut":
        words = words[:at]
    else:
        words[at] += new
    return _bytes(" ".join(words))


@st.composite
def _packet_mutant(draw: Callable[..., object], fmt: str) -> bytes:
    sample = bytearray(draw(st.sampled_from(_samples(fmt) or _normal(fmt, 0))))  # type: ignore[arg-type]
    how = draw(st.sampled_from(["flip", "cut", "time"]))
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):  # type: ignore[call-overload]
            i = draw(st.integers(0, len(sample) - 1))
            sample[i] = draw(st.integers(0, 255))  # type: ignore[call-overload]
    elif how == "cut":
        del sample[draw(st.integers(0, len(sample))) :]  # type: ignore[misc]
    else:
        ts = draw(st.floats())
        sample = bytearray(pack_record(ts, 1, bytes(sample[12:])))  # type: ignore[arg-type]
    return bytes(sample)


def hostile(fmt: str) -> st.SearchStrategy[bytes]:
    """Hostile records of ``fmt``."""
    deep = st.integers(1, 40_000).flatmap(
        lambda d: st.sampled_from(["[" * d + "]" * d, '{"a":' * d + "1" + "}" * d])
    )
    common = [st.binary(max_size=300).map(lambda b: b.replace(b"\n", b" ")), deep.map(_bytes)]
    if fmt == "pcap":
        return st.one_of(*common, _packet_mutant(fmt))
    if fmt in JSON_FORMATS:
        return st.one_of(*common, _json_mutant(fmt), _line_mutant(fmt))
    return st.one_of(*common, _line_mutant(fmt))


FORMATS = available_formats()


def test_every_format_has_a_normal_record() -> None:
    for fmt in FORMATS:
        assert _normal(fmt, 1), fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_records_never_stop_the_pipeline(app: App, fmt: str, store_kind: str) -> None:
    parser = load_parser(fmt)
    numbers = itertools.count(1)
    now = app.clock.now()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(hostile(fmt), min_size=1, max_size=4))
    def records_then_a_normal_one(bad: list[bytes]) -> None:
        n = next(numbers)
        file_id = f"fuzz-{fmt}-{n}"
        records: list[RawRecord] = []
        offset = 0
        normal = _normal(fmt, n)
        for data in [*bad, *normal]:
            records.append(RawRecord(Origin(fmt, file_id, offset, f"/fuzz/{fmt}"), data, now))
            offset += len(data) + 1
        first_normal = records[len(bad)].origin.offset
        checkpoint = Checkpoint(fmt, f"/fuzz/{fmt}", file_id, n, offset)
        # No index leads to an event by its file: on SQLite only the rows stored by this
        # batch are looked at, or the check itself grows with every example.
        newer = ""
        if store_kind == "sqlite":
            [(last,)] = rows(app.engine, "SELECT coalesce(max(rowid), 0) FROM events")
            newer = f" AND e.rowid > {int(last)}"
        result = app.processor.process(
            fmt, parser.session(), records, checkpoint, snapshot=parser.snapshot
        )
        assert result.lines == len(records)
        alerted = rows(
            app.engine,
            "SELECT e.id FROM events e JOIN alert_events a ON a.event_id = e.id "
            'WHERE e.file_id = :f AND e."offset" >= :o' + newer,
            f=file_id,
            o=first_normal,
        )
        assert alerted, f"the normal {fmt} record after {bad!r:.500} did not alert"
        assert rows(app.engine, 'SELECT "offset" FROM checkpoints WHERE source = :s', s=fmt) == [
            (offset,)
        ]

    began = time.monotonic()
    records_then_a_normal_one()
    report = os.environ.get("MONITORD_FUZZ_REPORT")
    if report:  # the long profile's figures (make fuzz)
        with open(report, "a", encoding="utf-8") as fh:
            took = time.monotonic() - began
            fh.write(f"{fmt}\t{store_kind}\t{next(numbers) - 1} examples\t{took:.0f} s\n")


def test_the_fuzzing_mangles_samples_of_every_format() -> None:
    """Every format the fuzzing mangles has records to start from: the real ones in the
    shared fixtures (made-up reports of each kind for the agents' own schema)."""
    missing = [fmt for fmt in FORMATS if not _samples(fmt)]
    assert missing == [], missing
    assert len(_agent_samples()) == 8
