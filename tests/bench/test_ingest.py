"""bench/ingest.py: a generated day ingested into a store that already holds events (a
large store's next day), on both stores: the day's events join those the store held, on
the day asked for, which are kept."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from monitord.store.database import open_store
from monitord.store.lookups import micros
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from search import FIRST_DAY, build

SEED = 2_000
LINES = 3_000


def _count(url: str, start: datetime | None = None, end: datetime | None = None) -> int:
    """The events and lookups the store holds (from ``start`` to ``end``, if given), of
    every site."""
    span: dict[str, Any] = {"start": start or datetime(1970, 1, 2, tzinfo=UTC)}
    span["end"] = end or datetime(2100, 1, 1, tzinfo=UTC)
    micro = {k: micros(v) for k, v in span.items()}
    engine = open_store(url)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":  # times as the store writes them, compared as text
            span = {k: v.isoformat(" ") for k, v in span.items()}
        n = conn.execute(
            text("SELECT count(*) FROM events WHERE ts >= :start AND ts < :end"), span
        ).scalar_one()
        n += conn.execute(
            text("SELECT count(*) FROM lookups WHERE ts >= :start AND ts < :end"), micro
        ).scalar_one()
    engine.dispose()
    return int(n)


@pytest.mark.stores
def test_a_day_ingested_into_a_store_that_holds_events(store_url: str, tmp_path: Path) -> None:
    build(tmp_path / "built", store_url, SEED, 1, 30)
    held = _count(store_url)
    assert held == SEED
    store = (
        store_url if store_url.startswith("postgresql") else store_url.removeprefix("sqlite:///")
    )
    day = FIRST_DAY + timedelta(days=1)
    argv = [sys.executable, str(ROOT / "bench" / "ingest.py"), "--formats", "dnsmasq"]
    argv += ["--lines", str(LINES), "--devices", "40", "--store", store, "--day", str(day)]
    argv += ["--dir", str(tmp_path / "sites")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^dnsmasq +3,00\d lines in .* lines/s", out, re.M), out
    # No store of its own was made: the day went into the one named.
    assert not (tmp_path / "sites" / "site-dnsmasq" / "var" / "monitord.db").exists()
    added = _count(store_url) - held
    assert 0 < added < LINES  # a lookup in about three lines (with its forwarded and reply)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert _count(store_url, start, start + timedelta(days=1)) == added  # each on its day
    assert _count(store_url, start - timedelta(days=1), start) == SEED  # the store's, kept
