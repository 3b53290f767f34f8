"""How search reads its rows: every column of every event comes back exactly as stored (the
repeating columns travel as one JSON array on SQLite), the garbage collector is left as it
was found, and the command line imports only what the command it runs needs."""

from __future__ import annotations

import gc
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine

from monitord.casework.found import EVENT_COLUMNS, event_columns, fetch_events
from monitord.casework.query import Query
from monitord.casework.search import run_query
from monitord.casework.timeline import day_events
from monitord.store.database import insert_ignore, open_store, table_of
from monitord.store.tables import EventRow

DAY = datetime(2026, 11, 19, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
# Values a JSON array has to carry without change: quotes, backslashes, control
# characters, text outside ASCII, NULLs, and both values of a boolean.
AWKWARD: list[dict[str, Any]] = [
    {"source": 'proxy "main"', "role": "pupil", "year_group": "6", "device_id": "LT\\01"},
    {"source": "agents", "role": None, "year_group": None, "device_id": "caf\u00e9\x1f\x01"},
    {"source": "pihole", "role": "staff", "year_group": "", "device_id": None},
    {"source": "\u2603 snow", "role": "pupil", "year_group": "R", "device_id": "LT-02"},
]


def _event(i: int) -> dict[str, Any]:
    odd = AWKWARD[i % len(AWKWARD)]
    return {
        "id": f"{i:032x}",
        "site_id": "default",
        "ts": DAY + timedelta(minutes=i),
        "fmt": ["squid", "agent", "dnsmasq"][i % 3],
        "kind": ["http", "text", "dns"][i % 3],
        "client_ip": None if i % 5 == 0 else f"10.20.0.{i % 7}",
        "username": "alice.b",
        "domain": None if i % 3 == 1 else f"n{i % 4}.example",
        "url": f"http://n{i}.example/?q=\u00e9" if i % 3 == 0 else None,
        "text": 'typed "x" \\ \n' if i % 3 == 1 else None,
        "category": "gambling" if i % 6 == 0 else None,
        "severity": "medium" if i % 6 == 0 else "none",
        "blocked": i % 4 == 0,
        "attribution": "assigned_device",
        "file_id": "f",
        "offset": i,
        "raw": b"x",
        **odd,
    }


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as conn:
        insert_ignore(conn, table_of(EventRow), [_event(i) for i in range(40)])
    return engine


def _as_stored(engine: Engine) -> list[tuple[Any, ...]]:
    """Each event's columns as the driver gives them one by one, in ``Found``'s order."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT {EVENT_COLUMNS} FROM events AS e ORDER BY e.ts")
        return [tuple(r) for r in rows]


def test_every_column_comes_back_as_stored(engine: Engine) -> None:
    stored = _as_stored(engine)
    with engine.connect() as conn:
        found = run_query(conn, Query(user="alice.b", limit=1000)).events
    assert [tuple(f)[: len(stored[0])] for f in found] == stored
    assert {f.blocked for f in found} == {0, 1}
    assert all(f.match is True and f.group is None and f.alerts is None for f in found)


def test_timeline_and_context_rows_are_the_same(engine: Engine) -> None:
    stored = _as_stored(engine)
    with engine.connect() as conn:
        day = day_events(conn, date(2026, 11, 19), ZoneInfo("UTC"), user="alice.b")
        middle = Query(device="LT-02", until=DAY + timedelta(minutes=30), limit=1, context=2)
        around = run_query(conn, middle).events
    assert [tuple(f)[: len(stored[0])] for f in day] == stored
    assert [f.match for f in around] == [False, False, True, False, False]
    width = len(stored[0])
    assert all(tuple(f)[:width] in stored for f in around)


def _plans(engine: Engine, read: Callable[[Connection], object]) -> list[str]:
    """How SQLite ran each statement on ``events`` that ``read`` made."""
    with engine.connect() as conn:
        seen: list[str] = []
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.set_trace_callback(seen.append)
        read(conn)
        driver.set_trace_callback(None)
        return [
            " / ".join(str(r[3]) for r in driver.execute(f"EXPLAIN QUERY PLAN {sql}"))
            for sql in seen
            if sql.startswith("SELECT") and "ix_events_user_ts" in sql
        ]


def test_a_persons_day_is_read_from_their_index_alone(engine: Engine) -> None:
    """No row is fetched and nothing sorted: the index holds every column shown, and the
    event id that breaks ties in time."""
    day = Query(user="alice.b", since=DAY, until=DAY + timedelta(days=1), limit=1000)
    plans = _plans(engine, lambda conn: run_query(conn, day))
    plans += _plans(engine, lambda conn: day_events(conn, DAY.date(), UTC_ZONE, user="alice.b"))
    assert len(plans) == 3  # the search; the timeline's events and the alerts holding them
    assert all("USING COVERING INDEX ix_events_user_ts" in plan for plan in plans)
    assert not any("TEMP B-TREE" in plan for plan in plans[:2])  # the alerts are sorted


def test_events_at_the_same_instant_come_in_the_order_of_their_ids(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    same = [_event(0) | {"id": eid, "device_id": "LT-01"} for eid in ("c" * 32, "a" * 32, "b" * 32)]
    with engine.begin() as conn:
        insert_ignore(conn, table_of(EventRow), same)
    with engine.connect() as conn:
        by_user = run_query(conn, Query(user="alice.b")).events
        by_device = run_query(conn, Query(device="LT-01")).events
        day = day_events(conn, DAY.date(), UTC_ZONE, user="alice.b")
    assert [ev.id[0] for ev in by_user] == [ev.id[0] for ev in day] == ["a", "b", "c"]
    assert sorted(ev.id for ev in by_device) == [ev.id for ev in by_user]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_it_was(engine: Engine, enabled: bool) -> None:
    (gc.enable if enabled else gc.disable)()
    try:
        with engine.connect() as conn:
            rows = fetch_events(conn, f"SELECT {event_columns(conn)} FROM events AS e", {})
        assert len(rows) == 40
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_a_failed_fetch_turns_the_collector_back_on(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(Exception, match="no such column"):
        fetch_events(conn, "SELECT nonsense FROM events AS e", {})
    assert gc.isenabled()


def test_the_command_line_imports_what_a_command_needs() -> None:
    """``monitord search`` does not pay for the mail delivery, the pipeline or the lists
    (numpy) that other commands use."""
    probe = (
        "import sys, monitord.cli.main\n"
        "heavy = ['alerting.delivery', 'monitord.service.app',"
        " 'monitord.classify.lists', 'numpy']\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""
