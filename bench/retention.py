"""Retention against ingest: how long the store is held by each deletion transaction, and what
a writer waiting for it sees.

    .venv/bin/python bench/retention.py [--old N] [--batch-size B] [--pause S] [--budget MS]
                                        [--dns-only]

Fills a fresh SQLite store (the current schema, through the store's own bulk insert) with N
events from 100 to 130 days ago, one in twenty with a category match, two in five proxy
requests with a URL and one in a hundred an agent's text (these are in the text index, which
deleting them updates), and 200 alerts holding some of them (half closed, half open), then
runs retention (events older than 90 days) while
a writer thread stores a batch of 2,000 new events every 100 ms, as ingest does, and times
each of its transactions and how long it waited for the write lock. Prints the longest
deletion transaction (from taking the lock to the end of the commit; the WAL checkpoint
retention takes after it is not included), and the writer's batches and lock waits before
and during the run, with how many waits came to 100 ms or more.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from monitord.casework.plan import flush_text_queue
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config
from monitord.store.database import current_revision, insert_ignore, open_store, table_of
from monitord.store.retention import BUDGET, run_retention
from monitord.store.tables import AlertEventRow, AlertRow, EventRow, MatchRow

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
DOMAINS = ["www.bbc.co.uk", "classroom.google.com", "www.google.com", "play.ttrockstars.com"]


# Which events carry a URL or typed text (and so are in the text index): as in a school's
# traffic, two in five are proxy requests and one in a hundred an agent's text; with
# --dns-only none are, as in the first figures.
TEXTS = True


def _event(i: int, ts: datetime, source: str) -> dict[str, Any]:
    eid = hashlib.blake2b(f"{source}:{i}".encode(), digest_size=16).hexdigest()
    domain = DOMAINS[i % len(DOMAINS)] if i % 20 else f"n{i}.bet365.com"
    fmt, kind, url, typed = "dnsmasq", "dns", None, None
    if TEXTS and i % 5 in (1, 2):
        fmt, kind, url = "squid", "http", f"http://{domain}/search?q=page+{i}&lang=en"
    elif TEXTS and i % 100 == 3:
        fmt, kind, typed = "agent", "text", f"homework for {i % 37} fractions and decimals"
    return {
        "id": eid,
        "site_id": "default",
        "ts": ts,
        "source": source,
        "fmt": fmt,
        "kind": kind,
        "url": url,
        "text": typed,
        "client_ip": f"10.20.{i % 250}.{i % 200 + 1}",
        "domain": domain,
        "username": f"pupil{i % 500}",
        "device_id": f"LT-{i % 500}",
        "blocked": False,
        "attribution": "assigned_device",
        "category": None if i % 20 else "gambling",
        "severity": "none" if i % 20 else "medium",
        "file_id": source,
        "offset": i * 80,
        "raw": f"Nov 19 10:00:00 dnsmasq[811]: query[A] {domain} from 10.20.0.1".encode(),
    }


def fill(engine: Engine, old: int) -> None:
    et, mt, at, ae = (
        table_of(EventRow),
        table_of(MatchRow),
        table_of(AlertRow),
        table_of(AlertEventRow),
    )
    start = NOW - timedelta(days=130)
    step = timedelta(days=30) / old
    for first in range(0, old, 20_000):
        events = [
            _event(i, start + i * step, "old") for i in range(first, min(first + 20_000, old))
        ]
        matches = [
            {
                "event_id": e["id"],
                "category": "gambling",
                "list_name": "ut1/gambling",
                "entry": "bet365.com",
                "score": 0,
                "allow": False,
            }
            for e in events
            if e["category"]
        ]
        with engine.begin() as conn:
            insert_ignore(conn, et, events)
            insert_ignore(conn, mt, matches)
            flush_text_queue(conn)  # into the text index, as the follower's commits do
    with engine.begin() as conn:
        for n in range(200):
            i = n * 20 * (old // 4000 or 1)
            ev = _event(i, start + i * step, "old")
            ts = ev["ts"]
            alert = {
                "group_key": f"pupil{n}:gambling",
                "created_at": ts,
                "updated_at": ts if n % 2 else NOW,
                "severity": "medium",
                "category": "gambling",
                "status": "closed" if n % 2 else "open",
                "indicator": ev["domain"],
                "first_seen": ts,
                "last_seen": ts,
                "sources": '["dnsmasq"]',
                "recipients": "[]",
                "rule": "",
            }
            alert_id = conn.execute(at.insert().values(**alert)).inserted_primary_key
            assert alert_id is not None
            conn.execute(ae.insert().values(alert_id=alert_id[0], event_id=ev["id"]))


class Writer(threading.Thread):
    """Ingest's part: a batch of 2,000 new events every 100 ms, each batch timed."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.times: list[float] = []
        self.waits: list[float] = []  # how long each batch waited for the write lock
        self.stop = threading.Event()
        self.n = 0

    def run(self) -> None:
        et = table_of(EventRow)
        while not self.stop.is_set():
            rows = [_event(self.n + i, NOW, "new") for i in range(2000)]
            self.n += 2000
            with self.engine.begin() as conn:
                began = time.perf_counter()
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits while retention holds the lock
                self.waits.append(time.perf_counter() - began)
                insert_ignore(conn, et, rows)
            self.times.append(time.perf_counter() - began)
            self.stop.wait(0.1)


def _writer_for(engine: Engine, seconds: float) -> Writer:
    w = Writer(engine)
    w.start()
    time.sleep(seconds)
    w.stop.set()
    w.join()
    return w


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", type=int, default=300_000, help="events past their period")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--pause", type=float, default=0.05)
    ap.add_argument(
        "--budget",
        type=float,
        default=BUDGET * 1000,
        help="ms each deletion transaction aims to hold the write lock",
    )
    ap.add_argument(
        "--dns-only", action="store_true", help="no URLs or texts: the text index is not touched"
    )
    args = ap.parse_args(argv)
    global TEXTS
    TEXTS = not args.dns_only
    with tempfile.TemporaryDirectory(prefix="monitord-bench-") as tmp:
        config = init_dir(Path(tmp) / "site")[0]
        with config.open("a", encoding="utf-8") as fh:
            fh.write(f"\n[retention]\nbatch_size = {args.batch_size}\n")
        cfg = load_config(config)
        engine = open_store(cfg.database_url)
        began = time.perf_counter()
        fill(engine, args.old)
        print(f"filled {args.old:,} old events in {time.perf_counter() - began:.1f} s")
        before = _writer_for(engine, 3.0)

        writer = Writer(engine)
        writer.start()
        began = time.perf_counter()
        result = run_retention(
            engine, cfg, NOW, "bench", pause=args.pause, budget=args.budget / 1000
        )
        took = time.perf_counter() - began
        writer.stop.set()
        writer.join()
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM events WHERE source = 'old'")).scalar()
        removed = result.removed
        mix = "dns only" if args.dns_only else "2 in 5 with a URL, 1 in 100 a text"
        print(
            f"schema {current_revision(engine)}, batch at most {args.batch_size}, budget "
            f"{args.budget:.0f} ms, pause {args.pause}s, events: {mix}; load average "
            f"{os.getloadavg()[0]:.2f}"
        )
        print(
            f"retention: {removed['events']:,} events and {removed['matches']:,} matches "
            f"removed in {took:.1f} s ({removed['events'] / took:,.0f} events/s), "
            f"{result.transactions} transactions, longest {result.longest_transaction * 1000:.1f}"
            f" ms; {left:,} old events kept (held by alerts)"
        )
        for label, w in (("before", before), ("during", writer)):
            ms = sorted(t * 1000 for t in w.times)
            wait = sorted(t * 1000 for t in w.waits)
            print(
                f"writer {label}: {len(ms)} batches of 2,000, median {statistics.median(ms):.1f}"
                f" ms, max {ms[-1]:.1f} ms; waited for the lock: median "
                f"{statistics.median(wait):.1f} ms, max {wait[-1]:.1f} ms, "
                f"{sum(1 for x in wait if x >= 100)} of 100 ms or more"
            )
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
