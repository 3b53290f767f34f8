"""``monitord status`` on a real store: a June and a November day through the pipeline, a
followed source, a digest queued and a retention run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from collectors.follow import FileCollector
from collectors.parsers.base import load_parser
from monitord.core.clock import FixedClock
from monitord.service.app import open_app
from monitord.service.initdir import init_dir
from monitord.service.status import collect_status, render, store_size
from monitord.settings.config import load_config
from monitord.store.database import head_revision, table_of
from monitord.store.retention import run_retention
from monitord.store.tables import DigestRow
from tests.monitord.store.test_retention import _school

LINE = "Nov 20 10:00:{:02d} dnsmasq[811]: query[A] n{}.example from 10.0.0.1\n"


@pytest.mark.stores
def test_status_shows_sources_mail_alerts_digest_retention_and_store(
    tmp_path: Path, store_url: str
) -> None:
    cfg, clock, app = _school(tmp_path, store_url)
    followed = tmp_path / "resolver.log"
    followed.write_text("".join(LINE.format(i, i) for i in range(3)) + "garbage line\n")
    assert cfg.path is not None
    with cfg.path.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[[sources]]\nname = "resolver"\nformat = "dnsmasq"\npath = "{followed}"\n')
    cfg = load_config(cfg.path)
    app = open_app(cfg, clock)
    collector = FileCollector("resolver", followed, app.engine, clock, use_inotify=False)
    session = load_parser("dnsmasq").session()
    for batch in collector.poll():
        app.processor.process("dnsmasq", session, batch.records, batch.checkpoint)
    collector.close()
    with followed.open("a") as fh:
        fh.write(LINE.format(9, 9))  # written, not read yet
    with app.engine.begin() as conn:
        conn.execute(
            insert(table_of(DigestRow)).values(
                site_id="default",
                week="2026-W46",
                edition="group",
                queued_at=datetime(2026, 11, 16, 7, 0, tzinfo=UTC),
                queued_by="scheduler",
                outbox_id=None,
                recipients="[]",
            )
        )
        conn.execute(text("UPDATE outbox SET status = 'failed' WHERE alert_id = 1"))
        queued = conn.execute(text("SELECT count(*) FROM outbox WHERE status = 'queued'"))
        queued_n = int(queued.scalar_one())
    run_retention(app.engine, cfg, clock.now(), "scheduler", pause=0)

    status = collect_status(cfg, app.engine)

    [source] = status["sources"]
    assert source["name"] == "resolver"
    # The followed file's garbage line, and November's from the backfill under the same name.
    assert (source["events"], source["rejected"]) == (3, 2)
    assert source["lag_bytes"] == len(LINE.format(9, 9))
    assert source["last_event_at"] == "2026-11-20T10:00:02Z"
    assert status["outbox"] == {
        "queued": queued_n,
        "failed": 1,
        "oldest_queued": "2026-06-01T16:00:00Z",  # the June pornography alert's mail
    }
    # June: gambling (closed), pornography (open); November: pornography (open).
    assert status["open_alerts"] == {"critical": 0, "high": 2, "medium": 0, "low": 0}
    assert status["last_digest"] == {
        "week": "2026-W46",
        "edition": "group",
        "queued_at": "2026-11-16T07:00:00Z",
        "queued_by": "scheduler",
        "mail": "removed",
        "sent_at": None,
    }
    retention = status["last_retention"]
    assert retention["at"] == "2026-11-20T16:00:00Z"
    assert retention["removed"]["events"] == 3
    size = status["store"]["size_bytes"]
    if cfg.database_url.startswith("sqlite:///"):
        db = Path(cfg.database_url.removeprefix("sqlite:///"))
        wal = db.with_name(db.name + "-wal")
        assert size == db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        assert size == store_size(cfg, app.engine)
    assert size > 0
    assert status["store"]["schema_revision"] == head_revision()
    assert status["store"]["schema_current"] is True

    # Checkpoints are written with the events: when they were last stored, and from where.
    stored = status["last_stored"]
    assert stored["at"] == "2026-11-20T16:00:00Z"
    assert stored["source"] is not None
    assert stored["newest_event"] >= "2026-11-20T10:00:02Z"
    lines = render(status)
    assert any(line.startswith("  resolver (dnsmasq): at ") for line in lines)
    assert f"events last stored 2026-11-20T16:00:00Z from {stored['source']}; " in "\n".join(lines)
    assert f"outbox: {queued_n} queued, 1 failed, oldest queued 2026-06-01T16:00:00Z" in lines
    assert "open alerts: 2 (0 critical, 2 high, 0 medium, 0 low)" in lines
    assert any(
        line.startswith("last retention run: 2026-11-20T16:00:00Z by scheduler") for line in lines
    )


def test_status_of_a_fresh_store(tmp_path: Path) -> None:
    cfg = load_config(init_dir(tmp_path / "site")[0])
    clock = FixedClock(datetime(2026, 11, 20, 16, 0, tzinfo=UTC))
    status = collect_status(cfg, open_app(cfg, clock).engine)
    assert status["sources"] == []
    assert status["outbox"] == {"queued": 0, "failed": 0, "oldest_queued": None}
    assert sum(status["open_alerts"].values()) == 0
    assert status["last_digest"] is None
    assert status["last_retention"] is None
    assert status["last_stored"] is None
    assert "events stored: none yet" in render(status)
    assert "last digest: none" in render(status)
    assert "last retention run: none" in render(status)
