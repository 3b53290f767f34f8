"""How a search is planned and its text index kept: URL encodings of a text, new events
queued for the index until a checkpoint or a search, deletes and changes followed, and an
upgrade indexing what was stored before."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, text

from collectors.files import iter_records
from collectors.parsers.base import load_parser
from monitord.casework.plan import flush_text_queue, fts_match, text_variants
from monitord.casework.query import Query, parse_domain
from monitord.casework.search import run_query, search
from monitord.core.clock import FixedClock
from monitord.core.model import Checkpoint
from monitord.service.app import ingest_files, open_app
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config
from monitord.store.database import MIGRATIONS, open_store

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
D18 = datetime(2026, 11, 18, tzinfo=UTC)
D19 = datetime(2026, 11, 19, tzinfo=UTC)
FILLER = 1500  # staff intranet pages: more than the text index's queue holds


def _epoch(day: datetime, hh: int, mm: int, ss: int = 0) -> float:
    return day.replace(hour=hh, minute=mm, second=ss).timestamp()


def indicators(events: list[Any]) -> list[str]:
    return [ev.indicator for ev in events]


def _queue_and_index(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        queued = conn.execute(text("SELECT count(*) FROM events_text_queue")).scalar_one()
        indexed = conn.execute(
            text("SELECT count(*) FROM events_text WHERE events_text MATCH :m"),
            {"m": fts_match(["example"])},
        ).scalar_one()
    return int(queued), int(indexed)


def _squid_log(path: Path, start: int, n: int) -> Path:
    """Requests the proxy denied: ``events`` rows, in the text index (a request with
    nothing to it is a ``lookups`` row, its URL in ``lookup_urls``)."""
    path.write_text(
        "".join(
            f"{_epoch(D19, 9, 0) + i:.3f} 5 10.0.0.{i % 200 + 1} TCP_DENIED/403 10 GET "
            f"http://site{i % 7}.example/item/{i} - HIER_DIRECT/1.2.3.4 text/html\n"
            for i in range(start, start + n)
        ),
        encoding="utf-8",
    )
    return path


def _integrity(engine: Engine) -> None:
    with engine.begin() as conn:
        flush_text_queue(conn)
        conn.execute(text("INSERT INTO events_text(events_text) VALUES ('integrity-check')"))


def test_text_variants_cover_url_encodings() -> None:
    assert text_variants("How To") == ["how to", "how+to", "how%20to"]
    assert text_variants("café") == ["café", "caf%c3%a9"]
    assert fts_match(["ab"]) is None
    assert fts_match(['a"bc']) == '("a""b" AND """bc")'


def test_new_events_wait_in_the_queue_until_a_checkpoint_or_a_search(tmp_path: Path) -> None:
    """Ingest only queues an event's rowid (nothing on its insert path writes to the text
    index); the follower's checkpoint moves the queue into the index once 1,024 wait, and a
    text search moves whatever waits first. Either way every event is found."""
    cfg = load_config(init_dir(tmp_path / "s")[0])
    app = open_app(cfg, FixedClock(NOW))
    ingest_files(app, [_squid_log(tmp_path / "a.log", 0, 1500)], "squid", "proxy")
    assert _queue_and_index(app.engine) == (1500, 0)
    with app.engine.connect() as conn:
        result = run_query(conn, Query(text="site6.example/item/1497"))
    assert (indicators(result.events), result.plan) == (
        ["http://site6.example/item/1497"],
        "text",
    )
    # The follower stores a batch with its read position, as `monitord run` does.
    log = _squid_log(tmp_path / "b.log", 1500, 10)
    parser = load_parser("squid")
    records = [rec for rec, _ in iter_records(log, "live", now=NOW)]
    checkpoint = Checkpoint("live", str(log), "f1", log.stat().st_ino, log.stat().st_size)
    app.processor.process("squid", parser.session(), records, checkpoint)
    assert _queue_and_index(app.engine) == (0, 1510)
    ingest_files(app, [_squid_log(tmp_path / "c.log", 2000, 20)], "squid", "proxy")
    assert _queue_and_index(app.engine) == (20, 1510)  # fewer than 1,024: they wait
    search(app.engine, Query(text="item/2019"), "dsl", "check", NOW)
    assert _queue_and_index(app.engine) == (0, 1530)
    _integrity(app.engine)


def test_text_index_follows_deletes_and_changes(tmp_path: Path) -> None:
    """Retention deletes events; a correction may change a URL: the index must follow."""
    path = init_dir(tmp_path / "s")[0]
    cfg = load_config(path)
    app = open_app(cfg, FixedClock(NOW))
    ingest_files(app, [_squid_log(tmp_path / "access.log", 0, 3000)], "squid", "proxy")
    engine = app.engine
    _integrity(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE url LIKE '%site3.example%'"))
        conn.execute(
            text("UPDATE events SET url = 'http://changed.example/x' WHERE url LIKE '%/item/5'")
        )
    _integrity(engine)
    with engine.connect() as conn:
        assert run_query(conn, Query(text="site3.example")).events == []
        assert indicators(run_query(conn, Query(text="changed.example")).events) == [
            "http://changed.example/x"
        ]
        assert len(run_query(conn, Query(text="site4.example", limit=1000)).events) == 428


def test_upgrade_indexes_the_events_already_stored(tmp_path: Path) -> None:
    """A store at the schema before search gains its names and text index on upgrade."""
    db = tmp_path / "m.db"
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{db}")
    command.upgrade(cfg, "0006")
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO events (id, site_id, ts, source, fmt, kind, domain, url, blocked, "
            "attribution, severity, file_id, offset, raw) VALUES "
            "(?, 'default', '2026-11-19 10:00:00.000000', 'p', 'squid', 'http', ?, ?, 0, "
            "'unattributed', 'none', 'f', 0, x'00')",
            [
                ("a" * 32, "www.tiktok.com", "http://www.tiktok.com/@x"),
                ("b" * 32, "bbc.co.uk", None),
            ],
        )
    command.upgrade(cfg, "head")
    engine = open_store(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert indicators(run_query(conn, Query(text="TIKTOK.com/@")).events) == [
            "http://www.tiktok.com/@x"
        ]
        assert {
            ev.domain for ev in run_query(conn, Query(domain=parse_domain("*.co.uk"))).events
        } == {"bbc.co.uk"}
