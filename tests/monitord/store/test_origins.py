"""An event is what was read: the same line read under two source names, or followed and then
backfilled, is stored once and counted once; stores made before ids were made this way keep
their ids."""

from __future__ import annotations

import gzip
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.files import identify
from collectors.follow import FileCollector
from collectors.parsers.base import load_parser
from monitord.core.clock import FixedClock
from monitord.core.model import Origin, RawRecord, content_digest
from monitord.service.app import App, ingest_files, open_app
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config
from monitord.store.database import insert_ignore, make_engine, table_of, upgrade
from monitord.store.origins import Scopes
from monitord.store.tables import EventRow
from tests.monitord.service.test_pipeline import DAY, log, school
from tests.stores import dump, rows, use_store

pytestmark = pytest.mark.stores

QUERY = "Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7"
LINES = [
    QUERY,
    "Nov 19 10:01:09 dnsmasq[811]: query[A] www.pornhub.com from 10.20.6.7",
    "Nov 19 10:02:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7",
    "Nov 19 10:02:01 dnsmasq[811]: this line is not one dnsmasq writes",
]


def _alerts(app: App) -> list[tuple[str, int]]:
    return rows(app.engine, "SELECT category, count FROM alerts ORDER BY category")


def test_a_file_ingested_under_two_source_names_is_stored_once(app: App, tmp_path: Path) -> None:
    # `ingest --source pihole` and then `ingest` (whose source is the format's name).
    app = school(app, tmp_path)
    path = log(tmp_path, LINES)
    first = ingest_files(app, [path], "dnsmasq", "pihole")
    assert (first.stored, first.rejected, first.alerts_opened) == (3, 1, 2)
    before = dump(app.engine)
    second = ingest_files(open_app(app.cfg, app.clock), [path], "dnsmasq", "dnsmasq")
    assert (second.stored, second.duplicates, second.alerts_opened, second.alerts_updated) == (
        0,
        3,
        0,
        0,
    )
    assert dump(app.engine) == before
    assert _alerts(app) == [("gambling", 1), ("pornography", 1)]


def test_a_followed_log_backfilled_under_another_name_adds_nothing(
    app: App, tmp_path: Path
) -> None:
    app = school(app, tmp_path)
    path = log(tmp_path, LINES)
    collector = FileCollector("pihole", path, app.engine, app.clock, use_inotify=False)
    session = load_parser("dnsmasq").session()
    for batch in collector.poll():
        app.processor.process("dnsmasq", session, batch.records, batch.checkpoint)
    collector.close()
    before = dump(app.engine)
    rotated = tmp_path / "pihole.log.1.gz"
    rotated.write_bytes(gzip.compress(path.read_bytes()))
    again = ingest_files(app, [rotated], "dnsmasq", "backfill")
    assert (again.stored, again.alerts_updated) == (0, 0)
    assert dump(app.engine) == before


def test_a_leases_file_read_under_two_names_is_one_set_of_leases(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)  # has read its leases file as "leases"
    before = dump(app.engine)
    again = ingest_files(app, [tmp_path / "dnsmasq.leases"], "dnsmasq-leases", "dhcp")
    assert again.stored == 0
    assert dump(app.engine) == before


def _old_id(source: str, file_id: str, offset: int) -> str:
    """An event's id as monitord made it before schema 0014: with the source's name."""
    key = f"{source}\x1f{file_id}\x1f{offset}\x1f0"
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def test_a_store_from_before_keeps_its_ids(tmp_path: Path, blank_url: str) -> None:
    # A store at schema 0013 holds the first query of a log, read as "pihole".
    folder = tmp_path / "site"
    config = init_dir(folder)[0]
    use_store(config, blank_url)
    cfg = load_config(config)
    engine = make_engine(cfg.database_url)
    upgrade(engine, "0013")
    path = log(tmp_path, [QUERY])
    file_id = identify(path)
    old = {
        "id": _old_id("pihole", file_id, 0),
        "site_id": "default",
        "ts": datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC),
        "source": "pihole",
        "fmt": "dnsmasq",
        "kind": "dns",
        "client_ip": "10.20.6.7",
        "domain": "www.bet365.com",
        "attribution": "unattributed",
        "severity": "none",
        "file_id": file_id,
        "offset": 0,
        "raw": QUERY.encode(),
    }
    with engine.begin() as conn:
        insert_ignore(conn, table_of(EventRow), [old])
    engine.dispose()
    # After the upgrade the log grows.
    with path.open("a", encoding="utf-8") as fh:
        fh.write("Nov 19 10:03:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7\n")
    os.utime(path, (DAY.timestamp(), DAY.timestamp()))
    engine = make_engine(cfg.database_url)
    upgrade(engine)  # monitord db upgrade
    engine.dispose()
    app = open_app(cfg, FixedClock(DAY))
    assert Scopes.load(app.engine, "default").legacy == {file_id: "pihole"}
    result = ingest_files(app, [path], "dnsmasq", "dnsmasq")
    # The old query is the same event; the new one is added with an id made as that file's
    # always were (so that a later line about it, a block, finds it by that id).
    assert (result.stored, result.duplicates) == (1, 1)
    found = rows(app.engine, "SELECT id, domain FROM all_events ORDER BY ts")
    bbc = path.read_bytes().index(b"Nov 19 10:03")
    assert found == [
        (old["id"], "www.bet365.com"),
        (_old_id("pihole", file_id, bbc), "www.bbc.co.uk"),
    ]


def test_two_schools_reading_one_file_each_keep_their_events(tmp_path: Path) -> None:
    record = RawRecord(Origin("pihole", "f" * 32, 120, "/var/log/pihole.log"), b"x", DAY)
    plain = Scopes("default", {}).record(record)
    north = Scopes("north", {}).record(record)
    south = Scopes("south", {}).record(record)
    assert plain.origin.scope == ""
    assert len({plain.origin.event_id(), north.origin.event_id(), south.origin.event_id()}) == 3
    # Two files that begin alike (a spool file sent again with more reports, a log whose
    # first line is a banner): different records at one offset are two events.
    other = RawRecord(Origin("pihole", "f" * 32, 120, "/var/log/pihole.log"), b"y", DAY)
    assert Scopes("default", {}).record(other).origin.event_id() != plain.origin.event_id()
    # A file read before schema 0014 keeps its ids, which held no content.
    legacy = Scopes("default", {"f" * 32: "pihole"}).record(record).origin
    assert legacy.event_id() == _old_id("pihole", "f" * 32, 120)
    # A record that names its own scope (a monitoring gap) keeps it.
    gap = RawRecord(Origin("pihole", "monitoring_gap", 1, "", scope="pihole"), b"{}", DAY)
    assert Scopes("north", {"monitoring_gap": "other"}).record(gap) is gap
    # The source's name is no part of a file's record's id.
    renamed = RawRecord(Origin("dnsmasq", "f" * 32, 120, "/tmp/copy.log"), b"x", DAY)
    assert Scopes("north", {}).record(renamed).origin.event_id() == north.origin.event_id()


def test_a_record_read_with_its_content_digest_has_the_same_ids(tmp_path: Path) -> None:
    # A file's reader gives each record its content's digest; scoping it then makes the ids
    # a record read without it is given, in a store of one school or of several, and a file
    # read before schema 0014 still keeps ids that held no content.
    bare = Origin("pihole", "f" * 32, 120, "/var/log/pihole.log")
    digested = Origin("pihole", "f" * 32, 120, "/var/log/pihole.log", "", content_digest(b"x"))
    for scopes in (Scopes("default", {}), Scopes("north", {}), Scopes("default", {"f" * 32: "p"})):
        made = scopes.record(RawRecord(bare, b"x", DAY)).origin
        given = scopes.record(RawRecord(digested, b"x", DAY)).origin
        assert given == made
        assert given.event_id(1) == made.event_id(1)
    # In a store of one school such a record is not made again.
    record = RawRecord(digested, b"x", DAY)
    assert Scopes("default", {}).record(record) is record
