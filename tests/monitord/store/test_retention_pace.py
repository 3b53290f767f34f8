"""Retention's pace on SQLite: each deletion transaction is sized to hold the write lock for
about ``budget`` (so that ingest never waits long), growing from a small first batch and
shrinking at once after a slow one, with the statement journal kept in memory meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from monitord.service.initdir import init_dir
from monitord.settings.config import Config, load_config
from monitord.store import retention
from monitord.store.database import insert_ignore, open_store, table_of
from monitord.store.retention import FIRST_BATCH, SMALLEST_BATCH, next_batch, run_retention
from monitord.store.shortwrites import CHECKPOINT_CHANGES, ShortWrites
from monitord.store.tables import EventRow

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
OLD = 1200


@pytest.mark.parametrize(
    ("rows", "took", "expected"),
    [
        (100, 0.010, 200),  # quick: at most twice as many
        (100, 0.020, 200),  # exactly half the budget: twice as many fit
        (100, 0.040, 100),  # on budget: as many again
        (100, 0.160, 25),  # four times too slow: a quarter, at once
        (100, 5.0, SMALLEST_BATCH),  # however slow, never fewer than the smallest
        (400, 0.001, 500),  # never more than batch_size
    ],
)
def test_the_next_batch_fits_the_budget(rows: int, took: float, expected: int) -> None:
    assert next_batch(rows, took, 0.04, 500) == expected


def test_a_batch_size_below_the_smallest_is_kept() -> None:
    assert next_batch(5, 10.0, 0.04, 5) == 5


def _site(tmp_path: Path) -> tuple[Config, Engine]:
    config = init_dir(tmp_path / "site")[0]
    cfg = load_config(config)
    engine = open_store(cfg.database_url)
    rows: list[dict[str, Any]] = [
        {
            "id": f"{i:032x}",
            "site_id": "default",
            "ts": NOW - timedelta(days=120, minutes=i),
            "source": "proxy",
            "fmt": "squid",
            "kind": "http",
            "domain": "www.bbc.co.uk",
            "url": f"http://www.bbc.co.uk/news/{i}",
            "blocked": False,
            "severity": "none",
            "attribution": "unattributed",
            "file_id": "f",
            "offset": i,
            "raw": b"x",
        }
        for i in range(OLD)
    ]
    with engine.begin() as conn:
        assert insert_ignore(conn, table_of(EventRow), rows) == OLD
    return cfg, engine


def _left(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())


def test_batches_grow_from_the_first_while_the_budget_allows(tmp_path: Path) -> None:
    cfg, engine = _site(tmp_path)
    result = run_retention(engine, cfg, NOW, "root", pause=0, budget=10.0)
    assert result.removed["events"] == OLD
    # 50, 100, 200, 400, then the 450 left (at most 500): nothing else was old enough.
    assert FIRST_BATCH == 50
    assert result.transactions == 5
    assert _left(engine) == 0


def test_batches_shrink_to_the_smallest_when_every_one_is_too_slow(tmp_path: Path) -> None:
    cfg, engine = _site(tmp_path)
    result = run_retention(engine, cfg, NOW, "root", pause=0, budget=1e-9)
    assert result.removed["events"] == OLD
    assert result.transactions == 1 + (OLD - FIRST_BATCH) // SMALLEST_BATCH
    assert _left(engine) == 0


def _settings(conn: Connection) -> tuple[int, int]:
    """(temp_store, wal_autocheckpoint) of a connection."""
    return (
        int(conn.exec_driver_sql("PRAGMA temp_store").scalar_one()),
        int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()),
    )


def _pooled(engine: Engine) -> list[tuple[int, int]]:
    conns = [engine.connect() for _ in range(3)]
    try:
        return [_settings(c) for c in conns]
    finally:
        for c in conns:
            c.close()


def test_deletes_keep_their_journal_in_memory_and_checkpoint_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, engine = _site(tmp_path)
    seen: list[tuple[int, int]] = []
    delete = retention._delete

    def watched(conn: Connection, table: Any, where: Any) -> int:
        seen.append(_settings(conn))
        return delete(conn, table, where)

    monkeypatch.setattr(retention, "_delete", watched)
    run_retention(engine, cfg, NOW, "root", pause=0)
    assert len(seen) >= 2  # each transaction deletes the matches, then the events
    assert set(seen) == {(2, 0)}  # temp_store MEMORY, no checkpoint inside a commit
    # Every pooled connection is back as the store sets it.
    assert _pooled(engine) == [(0, 8000)] * 3


def test_changes_are_checkpointed_once_they_add_up(tmp_path: Path) -> None:
    _, engine = _site(tmp_path)
    writes = ShortWrites(engine)

    def remove(n: int) -> Callable[[Connection], None]:
        def work(conn: Connection) -> None:
            conn.execute(
                text(f"DELETE FROM events WHERE rowid IN (SELECT rowid FROM events LIMIT {n})")
            )

        return work

    assert writes.transaction(remove(100)) > 0
    # Each event goes with its text from the index: two changes an event.
    assert writes.pending == 200
    writes.transaction(remove(CHECKPOINT_CHANGES // 2))
    assert writes.pending == 0
    assert _left(engine) == OLD - 100 - CHECKPOINT_CHANGES // 2


def test_a_failed_transaction_leaves_no_setting_behind(tmp_path: Path) -> None:
    _, engine = _site(tmp_path)

    def fail(conn: Connection) -> None:
        conn.execute(text("DELETE FROM events"))
        raise RuntimeError("stopped half way")

    with pytest.raises(RuntimeError, match="half way"):
        ShortWrites(engine).transaction(fail)
    assert _left(engine) == OLD
    assert _pooled(engine) == [(0, 8000)] * 3
