"""Where ingest's CPU goes: each stage of judging timed alone, then storing, on one thread.

    .venv/bin/python bench/ingest_parts.py DIR [--format dnsmasq[,squid,agent]]

DIR is a folder ``bench/ingest.py --dir DIR`` made (its roster, log and site for each
format); several formats are measured one after another. For agent reports the JSON
decoding is also timed on its own (it is part of the parse).

Each stage runs over every line (or every event) of the log on its own, in the order
ingest runs them, and prints CPU microseconds a line or an event; then the judged
batches are stored one after another (alerts, their mail and the checkpoint included) into
a copy of the site's store emptied of events, and storing prints its CPU time a line and an
event too. CPU time rather than wall time, so that the figures hold on a machine others
share (the load average is printed with them). All of it with the garbage collector as
``ingest_files`` sets it (``fewer_collections``), so that its pauses fall where they would.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from ingest import DAY

from collectors.files import iter_records
from collectors.parsers.base import ParseContext, load_parser
from monitord.core.clock import FixedClock
from monitord.core.model import Judged
from monitord.core.storable import storable
from monitord.service.app import backfill_batch, batched, fewer_collections, open_app
from monitord.service.batchrows import event_row
from monitord.settings.config import load_config

T = TypeVar("T")


def timed(label: str, fn: Callable[[], T], n: int, unit: str) -> T:
    start = time.process_time()
    result = fn()
    spent = time.process_time() - start
    article = "an" if unit[0] in "aeiou" else "a"
    print(f"  {label:34s} {spent / n * 1e6:7.2f} µs {article} {unit}", flush=True)
    return result


def emptied(site: Path) -> None:
    """Take the events (and what hangs on them) out of the site's store, keeping its roster,
    devices, leases and lists."""
    db = sqlite3.connect(site / "var" / "monitord.db")
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for table in ("alert_events", "matches", "outbox", "alerts", "events", "checkpoints"):
        db.execute(f"DELETE FROM {table}")
    for table in sorted(t for t in tables if t.startswith("lookup") or t == "raw_blocks"):
        db.execute(f"DELETE FROM {table}")  # the lean lookups (schema 0019 on)
    db.commit()
    db.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--format", default="dnsmasq", help="one format, or several by commas")
    args = ap.parse_args()
    for fmt in args.format.split(","):
        with fewer_collections():  # as ingest_files runs
            measure(args.dir, fmt)
    return 0


def measure(folder: Path, fmt: str) -> None:
    site = folder / f"site-{fmt}-parts"
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(folder / f"site-{fmt}", site)
    emptied(site)
    cfg = load_config(site / "monitord.toml")
    clock = FixedClock(DAY + timedelta(hours=12))
    app = open_app(cfg, clock)
    proc = app.processor
    log = folder / f"{fmt}.log"
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    start = time.process_time()
    records = [r for r, _ in iter_records(log, fmt, now=clock.now())]
    n = len(records)
    spent = time.process_time() - start
    print(f"{fmt}: {n:,} lines")
    print(f"  {'read (lines to records)':34s} {spent / n * 1e6:7.2f} µs a line")
    records = timed(
        "origin (scope, content digest)",
        lambda: [proc.scopes.record(r) for r in records],
        n,
        "line",
    )
    session = load_parser(fmt).session()
    tz = proc.policy.tz
    contexts = timed(
        "parse context",
        lambda: [ParseContext(tz, r.file_mtime or r.read_at, r.origin, None) for r in records],
        n,
        "line",
    )
    texts = [r.data.decode("utf-8", "replace") for r in records]
    parsed = timed(
        "parse",
        lambda: [session.parse(t, c) for t, c in zip(texts, contexts, strict=True)],
        n,
        "line",
    )
    if fmt == "agent":
        timed("  of it, JSON decoding", lambda: [json.loads(t) for t in texts], n, "line")
    now = clock.now()
    parsed = timed(
        "storable (normalise, check)", lambda: [storable(p, now) for p in parsed], n, "line"
    )
    events = [(r, e) for r, p in zip(records, parsed, strict=True) for e in p.events]
    e = len(events)
    print(f"{e:,} events ({e / n:.2f} a line)")
    timed("event id (digest)", lambda: [r.origin.event_id(0) for r, _ in events], e, "event")
    who = timed("identity", lambda: [proc.identity.resolve(ev) for _, ev in events], e, "event")
    what = timed(
        "classify (lists)", lambda: [proc.classifier.classify(ev) for _, ev in events], e, "event"
    )
    content = proc.content
    if content is not None:
        timed(
            "classify (text)",
            lambda: [
                content.classify(ev, a.person) for (_, ev), a in zip(events, who, strict=True)
            ],
            e,
            "event",
        )
    timed(
        "policy",
        lambda: [
            [proc.policy.decide(c, a.person, a.device, ev.ts) for c in k.categories]
            for (_, ev), a, k in zip(events, who, what, strict=True)
        ],
        e,
        "event",
    )
    judged = timed(
        "judged event",
        lambda: [
            Judged(r.origin.event_id(0), r.origin, r.data, ev, fmt, a, k.matches, ())
            for (r, ev), a, k in zip(events, who, what, strict=True)
        ],
        e,
        "event",
    )
    timed("row to store", lambda: [event_row(j, proc.site_id) for j in judged], e, "event")
    # The whole of judging, as ingest runs it, then storing the batches it made.
    app = open_app(cfg, clock)
    proc = app.processor
    session = load_parser(fmt).session()
    size = backfill_batch(app)
    batches: list[Any] = []
    start = time.process_time()
    for batch in batched(iter(r for r, _ in iter_records(log, fmt, now=clock.now())), size):
        batches.append(proc.judge(fmt, session, batch))
    spent = time.process_time() - start
    print(f"  {'whole judging (read included)':34s} {spent / n * 1e6:7.2f} µs a line")
    start = time.process_time()
    for pending, counts in batches:
        proc.store(pending, counts)
    spent = time.process_time() - start
    print(
        f"  {'storing (alerts, commits included)':34s} {spent / n * 1e6:7.2f} µs a line, "
        f"{spent / e * 1e6:.1f} µs an event"
    )
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    shutil.rmtree(site)


if __name__ == "__main__":
    raise SystemExit(main())
