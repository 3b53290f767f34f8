"""A school's store with old events to remove, and the SQLite settings of its
connections: what the tests of retention's pace and of its short writes share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from monitord.service.initdir import init_dir
from monitord.settings.config import Config, load_config
from monitord.store.database import insert_ignore, open_store, table_of
from monitord.store.tables import EventRow

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
OLD = 1200


def old_events(tmp_path: Path) -> tuple[Config, Engine]:
    config = init_dir(tmp_path / "site")[0]
    cfg = load_config(config)
    engine = open_store(cfg.database_url)
    rows = [
        proxy_event(i, NOW - timedelta(days=120, minutes=i), url=f"http://www.bbc.co.uk/news/{i}")
        for i in range(OLD)
    ]
    with engine.begin() as conn:
        assert insert_ignore(conn, table_of(EventRow), rows) == OLD
    return cfg, engine


def proxy_event(i: int, ts: datetime, **more: Any) -> dict[str, Any]:
    """The ``i``th of a store's proxy events (file ``f``), at ``ts``."""
    return {
        "id": f"{i:032x}",
        "site_id": "default",
        "ts": ts,
        "source": "proxy",
        "fmt": "squid",
        "kind": "http",
        "domain": "www.bbc.co.uk",
        "blocked": False,
        "severity": "none",
        "attribution": "unattributed",
        "file_id": "f",
        "offset": i,
        "raw": b"x",
    } | more


def events_left(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())


def settings_of(conn: Connection) -> tuple[int, int]:
    """(temp_store, wal_autocheckpoint) of a connection."""
    return (
        int(conn.exec_driver_sql("PRAGMA temp_store").scalar_one()),
        int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()),
    )


def pooled_settings(engine: Engine) -> list[tuple[int, int]]:
    conns = [engine.connect() for _ in range(3)]
    try:
        return [settings_of(c) for c in conns]
    finally:
        for c in conns:
            c.close()
