"""Retention's pace on SQLite: each deletion transaction is sized to hold the write lock for
about ``budget`` (so that ingest never waits long), growing from a small first batch and
shrinking at once after a slow one, with the statement journal kept in memory meanwhile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from monitord.store import retention
from monitord.store.retention import FIRST_BATCH, SMALLEST_BATCH, next_batch, run_retention
from tests.monitord.store.oldevents import (
    NOW,
    OLD,
    events_left,
    old_events,
    pooled_settings,
    settings_of,
)


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


def test_batches_grow_from_the_first_while_the_budget_allows(tmp_path: Path) -> None:
    cfg, engine = old_events(tmp_path)
    result = run_retention(engine, cfg, NOW, "root", pause=0, budget=10.0)
    assert result.removed["events"] == OLD
    # 50, 100, 200, 400, then the 450 left (at most 500): nothing else was old enough.
    assert FIRST_BATCH == 50
    assert result.transactions == 5
    assert events_left(engine) == 0


def test_batches_shrink_to_the_smallest_when_every_one_is_too_slow(tmp_path: Path) -> None:
    cfg, engine = old_events(tmp_path)
    result = run_retention(engine, cfg, NOW, "root", pause=0, budget=1e-9)
    assert result.removed["events"] == OLD
    assert result.transactions == 1 + (OLD - FIRST_BATCH) // SMALLEST_BATCH
    assert events_left(engine) == 0


def test_deletes_keep_their_journal_in_memory_and_checkpoint_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, engine = old_events(tmp_path)
    seen: list[tuple[int, int]] = []
    delete = retention._delete

    def watched(conn: Connection, table: Any, where: Any) -> int:
        seen.append(settings_of(conn))
        return delete(conn, table, where)

    monkeypatch.setattr(retention, "_delete", watched)
    run_retention(engine, cfg, NOW, "root", pause=0)
    assert len(seen) >= 2  # each transaction deletes the matches, then the events
    assert set(seen) == {(2, 0)}  # temp_store MEMORY, no checkpoint inside a commit
    # Every pooled connection is back as the store sets it.
    assert pooled_settings(engine) == [(0, 8000)] * 3
