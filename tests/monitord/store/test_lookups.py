"""Lookups that matched nothing, through the real pipeline into their narrow table and their
blocks of raw lines, and back as the event rows they were, on both stores."""

from __future__ import annotations

import os
import struct
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, MetaData, select, text

import monitord.store.lookups as lookups_module
from collectors.files import iter_records
from collectors.parsers.base import load_parser
from monitord.casework.subject import gather
from monitord.core.clock import FixedClock
from monitord.identity.roster import import_devices, import_people
from monitord.service.app import App, ingest_files, open_app
from monitord.service.initdir import init_dir
from monitord.service.status import _last_stored as last_stored
from monitord.settings.config import load_config
from monitord.settings.sections import period_cutoff
from monitord.store.database import make_engine, open_store, table_of, upgrade
from monitord.store.lookups import (
    PARTY,
    from_micros,
    is_clean,
    lookup_events,
    micros,
    pack_block,
    promote,
    store_lookups,
    unpack_block,
)
from monitord.store.lookupshown import lookup_count, newest_lookup
from monitord.store.partitions import LOOKUP_KINDS, lookup_tables, partitions
from monitord.store.retention import RetentionResult, _Run, _unnamed, run_retention
from monitord.store.tables import EventRow
from tests.stores import dump, row, rows, use_store

pytestmark = pytest.mark.stores
NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
BEFORE = datetime(2026, 11, 1, tzinfo=UTC)
LEASE_END = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
LOOKUP_TABLES = ("lookups", "raw_blocks", "lookup_parties", "lookup_names")
LINES = [
    "Nov 19 10:01:02 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7",
    "Nov 19 10:01:02 dnsmasq[811]: forwarded www.bbc.co.uk to 1.1.1.3",
    "Nov 19 10:01:03 dnsmasq[811]: query[AAAA] www.bbc.co.uk from 10.20.6.7",
    "Nov 19 10:01:09 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7",
    "Nov 19 10:02:00 dnsmasq[811]: query[A] news.bbc.co.uk from 10.20.6.8",
]


def lookup_school(tmp_path: Path, store_url: str) -> App:
    config = init_dir(tmp_path / "site")[0]
    use_store(config, store_url)
    app = open_app(load_config(config), FixedClock(NOW))
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,display_name,role,year_group,class,email\njayden.s,Jayden Smith,pupil,6,6B,\n",
        encoding="utf-8",
    )
    devices = tmp_path / "devices.csv"
    devices.write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "Y6-LT-07,aa:00:00:00:00:07,y6-lt-07,school_single,jayden.s\n",
        encoding="utf-8",
    )
    import_people(app.engine, roster, "office", BEFORE)
    import_devices(app.engine, devices, "office", BEFORE)
    leases = tmp_path / "dnsmasq.leases"
    leases.write_text(f"{int(LEASE_END.timestamp())} aa:00:00:00:00:07 10.20.6.7 y6-lt-07 *\n")
    fresh = open_app(app.cfg, app.clock)
    ingest_files(fresh, [leases], "dnsmasq-leases", "leases")
    return fresh


def write_log(tmp_path: Path, lines: list[str], name: str = "dnsmasq.log") -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.utime(path, (NOW.timestamp(), NOW.timestamp()))
    return path


def test_clean_lookups_go_to_their_table_and_come_back_as_event_rows(
    tmp_path: Path, store_url: str
) -> None:
    app = lookup_school(tmp_path, store_url)
    path = write_log(tmp_path, LINES)
    done = ingest_files(app, [path], "dnsmasq", "resolver")
    assert (done.events, done.stored) == (4, 4)
    # The gambling lookup is an event with its alert; the three others are lookups.
    assert rows(app.engine, "SELECT domain FROM events WHERE kind = 'dns'") == [("www.bet365.com",)]
    assert row(app.engine, "SELECT count(*) FROM lookups") == (3,)
    # One block for the file's day, holding the three lookups' lines.
    assert row(app.engine, "SELECT count(*), sum(lines) FROM raw_blocks") == (1, 3)
    with app.engine.connect() as conn:
        found = lookup_events(conn)
        assert lookup_count(conn) == 3
        assert newest_lookup(conn) == datetime(2026, 11, 19, 10, 2, tzinfo=UTC)
    assert [(f["domain"], f["qtype"], f["username"], f["device_id"]) for f in found] == [
        ("www.bbc.co.uk", "A", "jayden.s", "Y6-LT-07"),
        ("www.bbc.co.uk", "AAAA", "jayden.s", "Y6-LT-07"),
        ("news.bbc.co.uk", "A", None, None),
    ]
    data = path.read_bytes()
    for f in found:
        # The exact line, at the exact offset of the file it came from.
        assert data[f["offset"] : f["offset"] + len(f["raw"])] == f["raw"]
        assert f["raw"].decode() in LINES
        assert (f["kind"], f["source"], f["fmt"], f["severity"]) == (
            "dns",
            "resolver",
            "dnsmasq",
            "none",
        )
        assert "10.20.6.7" in f["attribution"] or f["username"] is None
    # The view gives every event as an events row.
    assert rows(
        app.engine,
        "SELECT domain, username, severity FROM all_events WHERE kind = 'dns' ORDER BY ts, domain",
    ) == [
        ("www.bbc.co.uk", "jayden.s", "none"),
        ("www.bbc.co.uk", "jayden.s", "none"),
        ("www.bet365.com", "jayden.s", "medium"),
        ("news.bbc.co.uk", None, "none"),
    ]


def test_a_file_read_again_adds_nothing_not_even_a_block(tmp_path: Path, store_url: str) -> None:
    app = lookup_school(tmp_path, store_url)
    path = write_log(tmp_path, LINES)
    ingest_files(app, [path], "dnsmasq", "resolver")
    before = dump(app.engine)
    again = open_app(app.cfg, app.clock)
    done = ingest_files(again, [path], "dnsmasq", "resolver")
    assert (done.stored, done.duplicates) == (0, 4)
    assert dump(app.engine) == before


def test_a_file_read_again_with_more_lines_stores_only_those(
    tmp_path: Path, store_url: str
) -> None:
    app = lookup_school(tmp_path, store_url)
    ingest_files(app, [write_log(tmp_path, LINES[:3])], "dnsmasq", "resolver")
    gz = tmp_path / "dnsmasq.log"
    gz.write_text("".join(line + "\n" for line in LINES), encoding="utf-8")
    again = open_app(app.cfg, app.clock)
    done = ingest_files(again, [gz], "dnsmasq", "resolver")
    assert done.stored == 2
    assert row(app.engine, "SELECT count(*) FROM lookups") == (3,)
    assert row(app.engine, "SELECT count(*) FROM all_events WHERE kind = 'dns'") == (4,)
    with app.engine.connect() as conn:
        assert sorted(f["raw"] for f in lookup_events(conn)) == sorted(
            line.encode() for line in LINES if "bet365" not in line and "forwarded" not in line
        )


def test_a_lookup_blocked_by_a_later_line_moves_to_events(tmp_path: Path, store_url: str) -> None:
    """Pi-hole's block line, read in a later batch than its query: the lookup becomes an
    event with the block on it, and leaves the lookups."""
    app = lookup_school(tmp_path, store_url)
    block = "Nov 19 10:01:02 dnsmasq[811]: gravity blocked www.bbc.co.uk is 0.0.0.0"
    path = write_log(tmp_path, [LINES[0], block])
    session = load_parser("dnsmasq").session()
    records = [rec for rec, _ in iter_records(path, "resolver")]
    assert app.processor.process("dnsmasq", session, records[:1]).stored == 1
    assert row(app.engine, "SELECT count(*) FROM lookups") == (1,)
    app.processor.process("dnsmasq", session, records[1:])
    assert row(app.engine, "SELECT count(*) FROM lookups") == (0,)
    query = "SELECT domain, blocked, action, username, raw FROM events WHERE kind = 'dns'"
    assert rows(app.engine, query) == [
        ("www.bbc.co.uk", 1, "gravity blocked", "jayden.s", LINES[0].encode())
    ]
    # Read again from the start, nothing is doubled.
    again = open_app(app.cfg, app.clock)
    ingest_files(again, [path], "dnsmasq", "resolver")
    assert row(app.engine, "SELECT count(*) FROM all_events WHERE kind = 'dns'") == (1,)


def test_promote_leaves_an_unknown_id_alone(tmp_path: Path, store_url: str) -> None:
    app = lookup_school(tmp_path, store_url)
    with app.engine.begin() as conn:
        assert not promote(conn, "0" * 32, "f" * 32, "resolver")
        assert not promote(conn, "not an id", "f" * 32, "resolver")


SAFE = [
    "Nov 19 10:03:00 dnsmasq[811]: query[A] classroom.google.com from 10.20.6.7",
    "Nov 19 10:03:01 dnsmasq[811]: query[A] play.ttrockstars.com from 10.20.6.7",
]


def test_a_lookup_an_allow_list_matched_is_a_lookup_with_its_matches(
    tmp_path: Path, store_url: str
) -> None:
    app = lookup_school(tmp_path, store_url)
    path = write_log(tmp_path, [*LINES, *SAFE])
    done = ingest_files(app, [path], "dnsmasq", "resolver")
    assert (done.events, done.stored) == (6, 6)
    assert row(app.engine, "SELECT count(*) FROM lookups") == (5,)
    assert row(app.engine, "SELECT count(*) FROM events WHERE kind = 'dns'") == (1,)
    # Only the gambling event's match is a row; the allow lists' are kept with the lookups,
    # one verdict for each set of matches.
    assert rows(app.engine, "SELECT list_name FROM matches") == [("starter/gambling",)]
    verdicts = rows(app.engine, "SELECT category, severity, matches FROM lookup_verdicts")
    assert sorted(verdicts) == [
        (None, "none", '[["allow", "starter/safe", "classroom.google.com", 0, true]]'),
        (
            None,
            "none",
            '[["allow", "starter/safe", "play.ttrockstars.com", 0, true], '
            '["allow", "starter/safe", "ttrockstars.com", 0, true]]',
        ),
    ]
    query = "SELECT domain, category, severity FROM all_events WHERE kind = 'dns' ORDER BY ts"
    assert rows(app.engine, query)[-2:] == [
        ("classroom.google.com", None, "none"),
        ("play.ttrockstars.com", None, "none"),
    ]
    # Read again: nothing more, not even a verdict.
    before = dump(app.engine)
    again = ingest_files(open_app(app.cfg, app.clock), [path], "dnsmasq", "resolver")
    assert (again.stored, again.duplicates) == (0, 6)
    assert dump(app.engine) == before


def test_a_blocked_allowed_lookup_moves_to_events_with_its_matches(
    tmp_path: Path, store_url: str
) -> None:
    app = lookup_school(tmp_path, store_url)
    block = "Nov 19 10:03:02 dnsmasq[811]: gravity blocked play.ttrockstars.com is 0.0.0.0"
    path = write_log(tmp_path, [*SAFE, block])
    session = load_parser("dnsmasq").session()
    records = [rec for rec, _ in iter_records(path, "resolver")]
    assert app.processor.process("dnsmasq", session, records[:2]).stored == 2
    app.processor.process("dnsmasq", session, records[2:])
    assert rows(app.engine, "SELECT domain, blocked FROM events WHERE kind = 'dns'") == [
        ("play.ttrockstars.com", 1)
    ]
    assert rows(app.engine, "SELECT entry, allow FROM matches ORDER BY id") == [
        ("play.ttrockstars.com", 1),
        ("ttrockstars.com", 1),
    ]
    assert rows(app.engine, "SELECT count(*) FROM lookups") == [(1,)]


def _lookup(n: int) -> dict[str, object]:
    party = dict.fromkeys(PARTY)
    party.update(site_id="default", source="resolver", fmt="dnsmasq", kind="dns")
    return {
        **party,
        "attribution": "unattributed",
        "id": f"{n:032x}",
        "ts": datetime(2026, 11, 19, 9, n, tzinfo=UTC),
        "domain": "classroom.google.com",
        "qtype": "A",
        "category": None,
        "severity": "none",
        "file_id": "f" * 64,
        "offset": 100 * n,
        "raw": f"line {n}".encode(),
    }


def test_lookups_of_one_batch_share_the_verdicts_their_matches_make(store_url: str) -> None:
    """One verdict for each set of matches, made once a batch: equal sets share it, and
    sets JSON writes apart (a score of 1 and of true) do not."""
    engine = open_store(store_url)
    one = {"category": "allow", "list_name": "safe", "entry": "google.com", "allow": True}
    matches = {
        f"{1:032x}": [{**one, "score": 1}],
        f"{2:032x}": [{**one, "score": 1}],
        f"{3:032x}": [{**one, "score": True}],
        f"{4:032x}": [{**one, "score": 1}, {**one, "entry": "classroom.google.com", "score": 1}],
    }
    with engine.begin() as conn:
        assert store_lookups(conn, [_lookup(n) for n in range(1, 6)], matches) == 5
    got = rows(
        engine,
        "SELECT v.matches FROM lookups AS l LEFT JOIN lookup_verdicts AS v "
        "ON v.id = l.verdict ORDER BY l.ts",
    )
    engine.dispose()
    assert got == [
        ('[["allow", "safe", "google.com", 1, true]]',),
        ('[["allow", "safe", "google.com", 1, true]]',),
        ('[["allow", "safe", "google.com", true, true]]',),
        (
            '[["allow", "safe", "google.com", 1, true], '
            '["allow", "safe", "classroom.google.com", 1, true]]',
        ),
        (None,),
    ]


def test_a_batch_across_midnight_makes_a_block_a_utc_day(store_url: str, store_kind: str) -> None:
    engine = open_store(store_url)
    midnight = datetime(2026, 11, 20, tzinfo=UTC)
    stamps = [midnight - timedelta(microseconds=1), midnight, midnight + timedelta(hours=1)]
    batch = [{**_lookup(n), "ts": ts} for n, ts in enumerate(stamps, 1)]
    with engine.begin() as conn:
        assert store_lookups(conn, batch) == 3
    blocks = rows(engine, "SELECT day, lines, first_ts, last_ts FROM raw_blocks ORDER BY day")
    placed = rows(engine, "SELECT * FROM lookups ORDER BY ts")
    if store_kind == "postgresql":  # a partition a UTC day (schema 0024; 0027's narrow table)
        placed = rows(engine, "SELECT tableoid::regclass::text FROM lookups_narrow ORDER BY ts")
        days = ("lookups_narrow_p20261119",), ("lookups_narrow_p20261120",)
        assert placed == [days[0], days[1], days[1]]
    engine.dispose()
    assert len(placed) == 3
    assert [(str(b[0])[:10], b[1]) for b in blocks] == [("2026-11-19", 1), ("2026-11-20", 2)]
    assert [(from_micros(b[2]), from_micros(b[3])) for b in blocks] == [
        (stamps[0], stamps[0]),
        (stamps[1], stamps[2]),
    ]


def test_each_lookup_comes_back_as_stored_from_the_table_it_fits(
    store_url: str, store_kind: str
) -> None:
    """On PostgreSQL a DNS lookup goes to the narrow table unless its line lies beyond 2 GiB
    in its file or its query type is an empty text (schema 0027); every one reads back as
    it was stored, its query type ("A", none, "AAAA", empty) and offset included."""
    engine = open_store(store_url)
    kinds = [{"qtype": "A"}, {"qtype": None}, {"qtype": "AAAA"}, {"qtype": ""}]
    kinds.append({"qtype": "A", "offset": 3 << 30})
    batch = [{**_lookup(n), **k} for n, k in enumerate(kinds, 1)]
    with engine.begin() as conn:
        assert store_lookups(conn, batch) == 5
        found = lookup_events(conn)
    assert [(f["qtype"], f["offset"], f["raw"], f["id"]) for f in found] == [
        (b["qtype"], b["offset"], b["raw"], b["id"]) for b in batch
    ]
    if store_kind == "postgresql":
        counts = [row(engine, f"SELECT count(*) FROM {t}") for t in LOOKUP_KINDS]
        assert counts == [(3,), (2,)]
    engine.dispose()


def test_retention_takes_whole_days_of_lookups_and_the_cut_days_older_part(
    tmp_path: Path, store_url: str, store_kind: str
) -> None:
    app = lookup_school(tmp_path, store_url)
    later = NOW + timedelta(days=120)
    cut = period_cutoff(app.cfg.settings.retention.events, later)
    offsets = [timedelta(days=-2), timedelta(hours=-1), timedelta(hours=1), timedelta(days=1)]
    batch = [{**_lookup(n), "ts": cut + o} for n, o in enumerate(offsets, 1)]
    with app.engine.begin() as conn:
        assert store_lookups(conn, batch) == 4
    done = run_retention(app.engine, app.cfg, later, "root", pause=0)
    assert done.removed["events"] >= 2  # with the lease's event, older than the cut too
    kept = rows(app.engine, "SELECT ts FROM lookups ORDER BY ts")
    assert [from_micros(t) for (t,) in kept] == [cut + offsets[2], cut + offsets[3]]
    with app.engine.connect() as conn:
        days = [p.day for p in partitions(conn, LOOKUP_KINDS[0])]
    app.engine.dispose()
    if store_kind == "postgresql":  # the day before the cut's is dropped as a table
        assert days == sorted({(cut + o).date() for o in offsets[1:]})
        assert (cut + offsets[0]).date() not in days


def _event(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "0123456789abcdef0123456789abcdef",
        "kind": "dns",
        "severity": "none",
        "blocked": False,
        "domain": "www.bbc.co.uk",
        "url": None,
        "text": None,
        "category": None,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "clean"),
    [
        ({}, True),
        ({"kind": "http"}, True),
        ({"kind": "http", "url": "http://a.example/x", "user": "jo", "status": 200}, True),
        ({"kind": "http", "text": "typed"}, False),
        ({"kind": "http", "blocked": True}, False),
        ({"user": "jo"}, False),
        ({"kind": "logon"}, False),
        ({"severity": "low", "category": "games"}, True),
        ({"blocked": True}, False),
        ({"action": "blocked"}, False),
        ({"filter_category": "Gambling"}, False),
        ({"domain": None}, False),
        ({"id": "gap-1"}, False),
        ({"agent": "lt-07"}, False),
    ],
)
def test_which_events_are_clean_lookups(changes: dict[str, object], clean: bool) -> None:
    assert is_clean(_event(**changes)) is clean
    # An event's row as the pipeline makes it, every column there (read at once).
    every: dict[str, object] = {c.name: None for c in table_of(EventRow).columns}
    assert is_clean({**every, **_event(**changes)}) is clean


@given(
    st.dictionaries(st.integers(min_value=0, max_value=2**40), st.binary(max_size=300), max_size=60)
)
def test_a_block_gives_back_every_line_by_its_offset(lines: dict[int, bytes]) -> None:
    assert unpack_block(pack_block(lines)) == lines


@given(
    st.integers(min_value=0, max_value=2**40),
    st.lists(st.tuples(st.integers(0, 2**33), st.binary(max_size=200)), max_size=60),
)
def test_a_files_lines_with_gaps_between_them_come_back(
    first: int, spaced: list[tuple[int, bytes]]
) -> None:
    """Lines as a file holds them, in order and apart (the lines between them are in no
    lookup): placed by the gaps between them, or by their offsets where a gap is too wide."""
    lines, at = {}, first
    for gap, line in spaced:
        lines[at] = line
        at += len(line) + gap
    assert unpack_block(pack_block(lines)) == lines


def test_a_block_written_with_each_lines_offset_is_read_as_before() -> None:
    lines = {100: b"query[A] a.example", 140: b"query[A] b.example"}
    head = struct.pack("<I2q2I", 2, 100, 140, 18, 18)
    old = zstandard.ZstdCompressor(level=3).compress(head + b"".join(lines.values()))
    assert unpack_block(old) == lines
    # Written now: the count flagged, the first offset, one gap of 22 bytes, the lengths.
    body = zstandard.ZstdDecompressor().decompress(pack_block(lines))
    assert body[:24] == struct.pack("<IqI2I", 2 | 1 << 31, 100, 22, 18, 18)
    assert len(pack_block(dict.fromkeys(range(0, 40000, 40), b"x" * 40))) < 100


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
def test_times_round_trip_to_the_microsecond(at: datetime) -> None:
    aware = at.replace(tzinfo=UTC)
    assert from_micros(micros(aware)) == aware
    assert micros(at) == micros(aware)


def test_a_subject_access_request_holds_the_persons_lookups_with_their_lines(
    tmp_path: Path, store_url: str
) -> None:
    app = lookup_school(tmp_path, store_url)
    ingest_files(app, [write_log(tmp_path, LINES)], "dnsmasq", "resolver")
    with app.engine.connect() as conn:
        theirs = gather(conn, "jayden.s")["events"]
    dns = [(e["domain"], e["qtype"], e["raw"]) for e in theirs if e["kind"] == "dns"]
    assert dns == [
        ("www.bbc.co.uk", "A", LINES[0]),
        ("www.bbc.co.uk", "AAAA", LINES[2]),
        ("www.bet365.com", "A", LINES[3]),
    ]
    # In time order, as JSON-ready values, with the same keys as an event's.
    assert [e["ts"] for e in theirs] == sorted(e["ts"] for e in theirs)
    assert all(set(e) == set(theirs[0]) for e in theirs)
    assert all(isinstance(e["ts"], str) for e in theirs)


def test_status_and_retention_see_the_lookups(tmp_path: Path, store_url: str) -> None:
    app = lookup_school(tmp_path, store_url)
    late = "Nov 19 13:00:00 dnsmasq[811]: query[A] late.example from 10.20.6.9"
    ingest_files(app, [write_log(tmp_path, [*LINES, late])], "dnsmasq", "resolver")
    stored = last_stored(app.engine)
    assert stored is not None
    assert stored["newest_event"] == "2026-11-19T13:00:00Z"  # late.example, a lookup
    later = NOW + timedelta(days=120)
    dry = run_retention(app.engine, app.cfg, later, "root", dry_run=True)
    done = run_retention(app.engine, app.cfg, later, "root", pause=0)
    # The lease's event, four lookups; the gambling event stays with its open alert.
    assert dry.removed["events"] == done.removed["events"] == 5
    for table in LOOKUP_TABLES:
        assert row(app.engine, f"SELECT count(*) FROM {table}") == (0,)
    assert rows(app.engine, "SELECT domain FROM all_events") == [("www.bet365.com",)]


def test_a_store_from_schema_0019_upgrades_and_a_file_read_again_adds_nothing(
    tmp_path: Path, blank_url: str
) -> None:
    # Lookups as schema 0019 held them: made by ingesting into a store at head, less the
    # columns 0021 added, copied into a store at 0019.
    made = lookup_school(tmp_path / "made", f"sqlite:///{tmp_path}/made.db")
    path = write_log(tmp_path, LINES)
    ingest_files(made, [path], "dnsmasq", "resolver")
    config = init_dir(tmp_path / "site")[0]
    use_store(config, blank_url)
    engine = make_engine(load_config(config).database_url)
    upgrade(engine, "0019")
    old, new = MetaData(), MetaData()
    old.reflect(engine)
    new.reflect(made.engine)
    with made.engine.connect() as src, engine.begin() as dst:
        for name in LOOKUP_TABLES:
            table = old.tables[name]
            found = [dict(r._mapping) for r in src.execute(select(new.tables[name]))]
            dst.execute(table.insert(), [{c.name: r[c.name] for c in table.c} for r in found])
    upgrade(engine)
    if engine.dialect.name == "postgresql":
        # 0023, 0026: the 8-byte columns first (the block's key 4 bytes from 0026), the
        # 4-byte ones, then those of variable length.
        order = rows(
            engine,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'lookups' AND table_schema = current_schema() "
            "ORDER BY ordinal_position",
        )
        assert [c for (c,) in order] == [
            "ts", "offset", "size", "block", "name", "party", "verdict", "request", "url",
            "qtype", "id",
        ]  # fmt: skip
    end = len("".join(line + "\n" for line in LINES[:-1]))
    assert rows(engine, "SELECT first_offset, last_offset FROM raw_blocks") == [(0, end)]
    before = {name: rows(engine, f"SELECT * FROM {name}") for name in LOOKUP_TABLES}
    engine.dispose()
    app = open_app(load_config(config), FixedClock(NOW))
    done = ingest_files(app, [path], "dnsmasq", "resolver")
    # The gambling lookup was an event, not copied: it alone is stored.
    assert (done.stored, done.duplicates) == (1, 3)
    assert {name: rows(app.engine, f"SELECT * FROM {name}") for name in LOOKUP_TABLES} == before
    with app.engine.connect() as conn:
        assert [f["raw"] for f in lookup_events(conn)] == [
            LINES[0].encode(),
            LINES[2].encode(),
            LINES[4].encode(),
        ]


def test_a_block_line_in_the_next_file_finds_its_lookup_in_the_one_before(
    tmp_path: Path, store_url: str
) -> None:
    """The resolver's log rotated between a query and its block line: the lookup is looked
    for among the source's blocks of other files."""
    app = lookup_school(tmp_path, store_url)
    first = write_log(tmp_path, [LINES[0]], "dnsmasq.log.1")
    block = "Nov 19 10:01:02 dnsmasq[811]: gravity blocked www.bbc.co.uk is 0.0.0.0"
    second = write_log(tmp_path, ["Nov 19 10:01:02 dnsmasq[811]: started, version 2.90", block])
    session = load_parser("dnsmasq").session()
    before = [rec for rec, _ in iter_records(first, "resolver")]
    after = [rec for rec, _ in iter_records(second, "resolver")]
    assert before[0].origin.file_id != after[0].origin.file_id
    assert app.processor.process("dnsmasq", session, before).stored == 1
    app.processor.process("dnsmasq", session, after)
    assert rows(app.engine, "SELECT domain, blocked, raw FROM events WHERE kind = 'dns'") == [
        ("www.bbc.co.uk", 1, LINES[0].encode())
    ]
    assert row(app.engine, "SELECT count(*) FROM lookups") == (0,)


def test_a_key_retention_would_remove_is_kept_for_the_lookup_stored_with_it(
    tmp_path: Path, store_url: str, store_kind: str
) -> None:
    """Retention removes the names no lookup names any more while ingest stores: a name a
    batch has just found (its lookups all aged out) is not removed before the batch's
    lookups name it again (they would name a key that is gone, and lose their domain)."""
    app = lookup_school(tmp_path, store_url)
    ingest_files(app, [write_log(tmp_path, LINES)], "dnsmasq", "resolver")
    with app.engine.begin() as conn:  # the day's lookups aged out
        for table in lookup_tables(conn):
            conn.execute(text(f"DELETE FROM {table}"))
    run = _Run(app.engine, RetentionResult(False, {}), 1000, 0, None)
    removing = threading.Thread(target=_unnamed, args=(run, "lookup_names", "name"))
    real = lookups_module._keys

    def found_then_retention(conn: Connection, table: str, *rest: Any) -> dict[str, int]:
        found = real(conn, table, *rest)
        if table == "lookup_names" and not removing.is_alive() and removing.ident is None:
            removing.start()  # retention's transaction, from another connection
            removing.join(2.0)  # it runs now, unless the batch holds the keys until it ends
        return found

    # only clean lookups: nothing else in the batch's transaction writes before its keys
    later = [line.replace("Nov 19 10:", "Nov 19 11:") for line in LINES if "bet365" not in line]
    lookups_module._keys = found_then_retention  # type: ignore[assignment]
    try:
        ingest_files(app, [write_log(tmp_path, later, "later.log")], "dnsmasq", "resolver")
    finally:
        lookups_module._keys = real  # type: ignore[assignment]
    removing.join()
    assert rows(
        app.engine,
        "SELECT count(*) FROM lookups AS l WHERE NOT EXISTS "
        "(SELECT 1 FROM lookup_names AS n WHERE n.id = l.name)",
    ) == [(0,)]
    with app.engine.connect() as conn:
        assert sorted(f["domain"] for f in lookup_events(conn)) == [
            "news.bbc.co.uk",
            "www.bbc.co.uk",
            "www.bbc.co.uk",
        ]
