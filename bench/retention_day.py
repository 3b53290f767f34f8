"""Retention of one whole day on PostgreSQL: how long its longest transaction holds the store.

    .venv/bin/python bench/retention_day.py [--events N] [--runs R]

Starts a throwaway PostgreSQL server (tests/pgserver.py's), fills one day 120 days old with N
events (every third with a category match, every five-hundredth held by an alert), then
removes it with retention R times from copies of that database, alternating the code before
(the day's matches deleted inside the transaction that detaches the partition) and now (the
unheld matches first, in paced transactions): ABBA. Prints, for each run, the longest
transaction, the detaching one, the matches its own DELETE removed, the whole run's wall and
CPU time, and checks both leave the same store (held events and their matches only).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from monitord.service.initdir import init_dir
from monitord.settings.config import load_config
from monitord.store import retention
from monitord.store.database import insert_ignore, open_store, table_of
from monitord.store.partitions import Partition
from monitord.store.tables import AlertEventRow, EventRow, MatchRow

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
DAY = datetime(2026, 7, 20, tzinfo=UTC)
CHUNK = 20_000


def _fill(url: str, n: int) -> None:
    engine = open_store(url)
    for start in range(0, n, CHUNK):
        ids = [f"{i:032x}" for i in range(start, min(n, start + CHUNK))]
        events: list[dict[str, Any]] = [
            {
                "id": e,
                "site_id": "default",
                "ts": DAY + timedelta(microseconds=int(e, 16) * 86_400_000_000 // n),
                "source": "proxy",
                "fmt": "squid",
                "kind": "http",
                "domain": "www.bet365.com",
                "category": "gambling" if int(e, 16) % 3 == 0 else None,
                "blocked": False,
                "severity": "none",
                "attribution": "unattributed",
                "file_id": "f",
                "offset": int(e, 16),
                "raw": b"x" * 120,
            }
            for e in ids
        ]
        matched = [e for e in ids if int(e, 16) % 3 == 0]
        with engine.begin() as conn:
            insert_ignore(conn, table_of(EventRow), events)
            conn.execute(
                table_of(MatchRow).insert(),
                [
                    {"event_id": e, "category": "gambling", "list_name": "l", "entry": "b.com"}
                    for e in matched
                ],
            )
            held = [{"alert_id": 1, "event_id": e} for e in ids if int(e, 16) % 500 == 0]
            conn.execute(table_of(AlertEventRow).insert(), held)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def _left(url: str) -> tuple[int, int, int]:
    engine = open_store(url)
    with engine.connect() as conn:
        found = tuple(
            int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("events", "matches", "alert_events")
        )
    engine.dispose()
    return found  # type: ignore[return-value]


def _run(url: str, site: Path, before: bool) -> dict[str, Any]:
    config = site / "monitord.toml"
    body = config.read_text(encoding="utf-8")
    config.write_text(body.replace('url = "sqlite:///var/monitord.db"', f'url = "{url}"'))
    cfg = load_config(config)
    engine = open_store(url)
    seen: dict[str, Any] = {}
    drop_day = retention._drop_day
    unmatch = retention._unmatch_day

    def watched(run: Any, conn: Connection, part: Partition) -> None:
        had = run.result.removed["matches"]
        started = time.perf_counter()
        drop_day(run, conn, part)
        seen["drop_body"] = time.perf_counter() - started
        seen["left"] = run.result.removed["matches"] - had

    retention._drop_day = watched  # type: ignore[assignment]
    if before:
        retention._unmatch_day = lambda run, part: None  # type: ignore[assignment]
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        result = retention.run_retention(engine, cfg, NOW, "root", pause=retention.PAUSE)
        seen["wall"] = time.perf_counter() - wall
        seen["cpu"] = time.process_time() - cpu
    finally:
        retention._drop_day, retention._unmatch_day = drop_day, unmatch
    engine.dispose()
    seen["longest"] = result.longest_transaction
    seen["transactions"] = result.transactions
    seen["removed"] = (result.removed["events"], result.removed["matches"])
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pgserver import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        print(f"load average at start: {os.getloadavg()[0]:.1f}", flush=True)
        built = server.new_database()
        started = time.perf_counter()
        _fill(server.url(built), args.events)
        print(f"built {args.events:,} events in {time.perf_counter() - started:.1f} s", flush=True)
        print(f"stored (events, matches, alert_events): {_left(server.url(built))}")
        with server._admin() as conn:
            conn.execute(f"UPDATE pg_database SET datallowconn = true WHERE datname = '{built}'")
        for i in range(args.runs):
            before = i % 4 in (0, 3)
            name = f"run{i}"
            with server._admin() as conn:
                conn.execute(f"CREATE DATABASE {name} TEMPLATE {built} STRATEGY FILE_COPY")
            with tempfile.TemporaryDirectory() as tmp:
                site = Path(tmp) / "site"
                init_dir(site)
                seen = _run(server.url(name), site, before)
            print(
                f"{'before' if before else 'now   '} load {os.getloadavg()[0]:4.1f}: "
                f"longest {seen['longest'] * 1000:7.1f} ms, detaching transaction's body "
                f"{seen['drop_body'] * 1000:7.1f} ms, its DELETE removed {seen['left']:,} matches; "
                f"{seen['transactions']} transactions, {seen['wall']:.1f} s wall, "
                f"{seen['cpu']:.1f} s CPU; removed (events, matches) {seen['removed']}; "
                f"left {_left(server.url(name))}",
                flush=True,
            )
            server.drop_database(name)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
