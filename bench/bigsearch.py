"""Search, timeline, retention and evidence on a large store (``bench/bigstore.py
--replicate`` makes one of 50 million events from a generated day or a few).

    .venv/bin/python bench/bigsearch.py STORE [--people 8] [--sample 300]
                                        [--evict [--pg-data DIR]]
                                        [--retention] [--retention-limit S]

STORE is a SQLite file or a PostgreSQL URL. Each question is asked through the code the
command and the console run (``run_query`` for ``monitord search``, ``day_events`` for
``timeline`` and the console's person's day):

- a person's day for several people, each on a different day: *cold*, the first query of a
  new connection on a person and day not asked before in the run (the store's own cache
  empty; the OS's may hold some of it; with ``--evict`` the store's files are dropped from
  the OS's page cache first and PostgreSQL's server restarted, ``bench/coldcache.py``), and
  *warm*, the median of the next runs; the median and the worst over the people, wall time
  and this thread's CPU time;
- a domain suffix (``*.tiktok.com``), a name (``www.tiktok.com``) and text over the whole
  store, newest 100 and every match;
- the raw line of a sample of events and lookups from every day, read as evidence is (a
  lookup's from its block), checked against the event: its day and time in the line, its
  name or URL;
- with ``--retention``, the daily retention job run so that the store's first day goes, with
  its time and longest transaction (the longest any write waits).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bigcopy import syslog_day
from coldcache import make_cold
from search import FIRST_DAY, retention
from sqlalchemy import Connection, Engine

from monitord.casework.query import Query, parse_domain
from monitord.casework.search import run_query
from monitord.casework.timeline import day_events
from monitord.store.database import open_store
from monitord.store.lookups import lookup_events, micros

TZ = ZoneInfo("Europe/London")
WARM_RUNS = 11
MINUTES_2 = 120_000_000  # µs


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def store_days(conn: Connection) -> list[date]:
    """The days holding lookups (their blocks'), oldest first."""
    rows = conn.exec_driver_sql("SELECT DISTINCT day FROM raw_blocks ORDER BY 1").all()
    return [d if isinstance(d, date) else date.fromisoformat(str(d)) for (d,) in rows]


def clocked(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall ms, this thread's CPU ms, answer) of one call."""
    t, c = time.perf_counter(), time.thread_time()
    answer = fn()
    return (time.perf_counter() - t) * 1000, (time.thread_time() - c) * 1000, answer


def people_days(engine: Engine, days: list[date], n: int) -> list[tuple[str, date]]:
    """``n`` people with the most events on the store's first day, spread over its days."""
    with engine.connect() as conn:
        users = [
            str(u)
            for (u,) in conn.exec_driver_sql(
                "SELECT username FROM events WHERE username IS NOT NULL "
                "GROUP BY username ORDER BY count(*) DESC, username LIMIT 200"
            )
        ]
    picked = users[:: max(len(users) // n, 1)][:n]
    return [(u, days[(i * 7 + 3) % len(days)]) for i, u in enumerate(picked)]


def persons_days(
    engine: Engine, url: str, days: list[date], n: int, cold_from: Path | bool | None
) -> None:
    """``cold_from``: make the store cold before each first query (True for SQLite, the
    server's data folder for PostgreSQL); None leaves the caches as they are."""
    print(f"a person's day, {n} people each on a day of their own ({load()}):", flush=True)
    asked = people_days(engine, days, n)
    engine.dispose()
    for label, ask in (
        ("search --user (run_query)", _search_day),
        ("timeline / the console's day (day_events)", _timeline_day),
    ):
        cold, warm, cold_cpu, warm_cpu = [], [], [], []
        for user, day in asked:
            if cold_from is not None:
                make_cold(url, cold_from if isinstance(cold_from, Path) else None)
            fresh = open_store(url)  # a new connection: the store's cache empty
            with fresh.connect() as conn:
                ms, cpu, hits = clocked(lambda: ask(conn, user, day))  # noqa: B023
                runs = [clocked(lambda: ask(conn, user, day)) for _ in range(WARM_RUNS)]  # noqa: B023
            fresh.dispose()
            cold.append(ms)
            cold_cpu.append(cpu)
            warm.append(statistics.median(r[0] for r in runs))
            warm_cpu.append(statistics.median(r[1] for r in runs))
            print(
                f"    {user} {day}: {hits:,} events; cold {ms:,.1f} ms ({cpu:,.1f} CPU), "
                f"warm {warm[-1]:,.1f} ms ({warm_cpu[-1]:,.1f} CPU)",
                flush=True,
            )
        print(
            f"  {label}: cold median {statistics.median(cold):,.1f} ms, worst "
            f"{max(cold):,.1f} ms (CPU {statistics.median(cold_cpu):,.1f}, worst "
            f"{max(cold_cpu):,.1f}); warm median {statistics.median(warm):,.1f} ms, worst "
            f"{max(warm):,.1f} ms (CPU {statistics.median(warm_cpu):,.1f}, worst "
            f"{max(warm_cpu):,.1f}); {load()}",
            flush=True,
        )


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _search_day(conn: Connection, user: str, day: date) -> int:
    start = _utc(day)
    q = Query(user=user, since=start, until=start + timedelta(days=1), limit=100_000)
    return run_query(conn, q).hits


def _timeline_day(conn: Connection, user: str, day: date) -> int:
    return len(day_events(conn, day, TZ, user=user))


def searches(engine: Engine, days: list[date]) -> None:
    since, until = _utc(days[0]), _utc(days[-1]) + timedelta(days=1)
    print(f"searches over {len(days)} days ({load()}):", flush=True)
    asked = [
        ("--domain '*.tiktok.com', newest 100", {"domain": parse_domain("*.tiktok.com")}),
        (
            "--domain '*.tiktok.com', every match",
            {"domain": parse_domain("*.tiktok.com"), "limit": 1_000_000},
        ),
        ("--domain '*.google.com', newest 100", {"domain": parse_domain("*.google.com")}),
        ("--domain www.tiktok.com, newest 100", {"domain": parse_domain("www.tiktok.com")}),
        ("--text 'how to hide', every match", {"text": "how to hide", "limit": 100_000}),
        ("--text minecraft, newest 100", {"text": "minecraft"}),
    ]
    for label, filters in asked:
        q = Query(since=since, until=until, **filters)
        with engine.connect() as conn:
            first_ms, first_cpu, result = clocked(lambda: run_query(conn, q))  # noqa: B023
            runs = [clocked(lambda: run_query(conn, q)) for _ in range(5)]  # noqa: B023
        print(
            f"  {label}: first {first_ms:,.1f} ms ({first_cpu:,.1f} CPU), then "
            f"{statistics.median(r[0] for r in runs):,.1f} ms "
            f"({statistics.median(r[1] for r in runs):,.1f} CPU), worst "
            f"{max(r[0] for r in runs):,.1f} ms; {result.hits:,} hits by {result.plan}",
            flush=True,
        )


def evidence(engine: Engine, days: list[date], sample: int) -> int:
    """Check the raw lines of ``sample`` lookups and events a day; return the faults."""
    rng = random.Random(18)
    faults = checked = 0
    with engine.connect() as conn:
        for day in days:
            # Two minutes of the school day (08:00-15:00), some 9,000 lookups (fewer on a last
            # day in part): each is read with its line, the rest of a day would take minutes.
            lo = micros(_utc(day)) + 8 * 3_600_000_000 + rng.randrange(0, 420) * 60_000_000
            found = lookup_events(
                conn, "l.ts >= :lo AND l.ts < :hi", {"lo": lo, "hi": lo + MINUTES_2}
            )
            for r in rng.sample(found, k=min(sample, len(found))):
                line = bytes(r["raw"]).decode()
                if r["fmt"] == "squid":  # a proxy request kept as a lookup (schema 0025)
                    ok = line.startswith(f"{int(r['ts'].timestamp())}.") and r["url"] in line
                else:
                    ok = line.startswith(syslog_day(r["ts"].date()))
                    ok = ok and f" {r['domain']} " in line and f"{r['ts']:%H:%M:%S}" in line
                faults += not ok
                checked += 1
            start = _utc(day)
            rows = conn.exec_driver_sql(
                "SELECT fmt, ts, raw, domain, url FROM events WHERE ts >= ? AND ts < ? "
                "ORDER BY ts LIMIT 20000"
                if conn.dialect.name == "sqlite"
                else "SELECT fmt, ts, raw, domain, url FROM events WHERE ts >= %s AND ts < %s "
                "ORDER BY ts LIMIT 20000",
                (
                    (start.isoformat(" "), (start + timedelta(days=1)).isoformat(" "))
                    if conn.dialect.name == "sqlite"
                    else (start, start + timedelta(days=1))
                ),
            ).all()
            for fmt, ts, raw, domain, url in rng.sample(rows, k=min(sample, len(rows))):
                when = ts if isinstance(ts, datetime) else datetime.fromisoformat(ts)
                line = bytes(raw).decode()
                if fmt == "squid":
                    ok = line.startswith(f"{int(when.timestamp())}.") and (
                        url is None or url.split("/")[-1][:20] in line
                    )
                elif fmt == "agent":
                    ok = f'"{when:%Y-%m-%dT%H:%M:%S}' in line
                else:
                    ok = line.startswith(syslog_day(when.date())) and (domain or "") in line
                faults += not ok
                checked += 1
    print(f"raw lines checked: {checked:,} from {len(days)} days, {faults} wrong", flush=True)
    return faults


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("--people", type=int, default=8)
    ap.add_argument("--sample", type=int, default=300, help="raw lines checked a day and table")
    ap.add_argument("--skip", default="", help="comma-separated: days, searches, evidence")
    ap.add_argument("--evict", action="store_true", help="a truly cold first query a day")
    ap.add_argument("--pg-data", type=Path, help="PostgreSQL's data folder (for --evict)")
    ap.add_argument("--retention", action="store_true", help="then remove the first day")
    ap.add_argument("--retention-limit", type=float, help="stop retention after so many s")
    args = ap.parse_args()
    url = args.store
    if not url.startswith("postgresql"):
        url = f"sqlite:///{Path(url).resolve()}"
    engine = open_store(url)
    with engine.connect() as conn:
        days = store_days(conn)
        n = conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM lookups)"
        ).scalar_one()
    print(f"{engine.dialect.name}: {n:,} events over {len(days)} days, {days[0]} to {days[-1]}")
    skip = set(args.skip.split(","))
    if "days" not in skip:
        cold = (args.pg_data or True) if args.evict else None
        persons_days(engine, url, days, args.people, cold)
    if "searches" not in skip:
        searches(engine, days)
    faults = 0 if "evidence" in skip else evidence(engine, days, args.sample)
    engine.dispose()
    if args.retention:  # the job the day after the last, so that the first day goes
        if days[0] != FIRST_DAY:
            raise SystemExit(f"--retention: the store's first day is not {FIRST_DAY}")
        root = Path(url.removeprefix("sqlite:///")).parent if "sqlite" in url else Path(".")
        retention(root, url, (days[-1] - days[0]).days + 1, args.retention_limit)
    return 1 if faults else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
