"""Short write transactions beside a busy writer: timed while they hold the lock, with the
WAL checkpointed once the changes add up, and the connection's settings put back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from monitord.store import shortwrites
from monitord.store.shortwrites import ShortWrites
from tests.monitord.store.oldevents import OLD, events_left, old_events, pooled_settings


def test_changes_are_checkpointed_once_they_add_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shortwrites, "CHECKPOINT_CHANGES", 1000)
    _, engine = old_events(tmp_path)
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
    writes.transaction(remove(500))
    assert writes.pending == 0
    assert events_left(engine) == OLD - 100 - 500


def test_a_failed_transaction_leaves_no_setting_behind(tmp_path: Path) -> None:
    _, engine = old_events(tmp_path)

    def fail(conn: Connection) -> None:
        conn.execute(text("DELETE FROM events"))
        raise RuntimeError("stopped half way")

    with pytest.raises(RuntimeError, match="half way"):
        ShortWrites(engine).transaction(fail)
    assert events_left(engine) == OLD
    assert pooled_settings(engine) == [(0, 8000)] * 3


@pytest.mark.stores
def test_a_transaction_commits_its_work_on_either_store(store_url: str) -> None:
    from monitord.store.database import open_store

    engine = open_store(store_url)
    writes = ShortWrites(engine)

    def note(conn: Connection) -> None:
        conn.execute(text("CREATE TABLE IF NOT EXISTS shortwrite_probe (n integer)"))
        conn.execute(text("INSERT INTO shortwrite_probe VALUES (1), (2)"))

    held = writes.transaction(note)
    assert held >= 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM shortwrite_probe")).scalar_one() == 2
    engine.dispose()
