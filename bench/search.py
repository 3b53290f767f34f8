"""Search speed on a month of a large school's traffic, side by side with zgrep.

    .venv/bin/python bench/search.py [--events 50000000] [--days 30] [--devices 500]
                                     [--dir var/bench-search] [--reuse]

Builds a store of N events over D days from the given number of devices, straight into
SQLite at the current schema (every migration, so the indexes, the domain names table and
the trigram text index are the ones monitord makes), and beside it the raw logs of the same
days as the sources would have written them, gzipped as logrotate leaves them: Pi-hole's
dnsmasq log (each query with its forwarded and reply, or cached, lines), Squid's access.log
and the agents' JSON reports. Then it times the same questions both ways: with monitord's
search (the library call the command makes, and the audited command path) and with zgrep
over the raw files.

The store is filled without its secondary indexes and triggers, which are then made again
exactly as the migrations wrote them (CREATE INDEX sorts once instead of inserting 50
million times into each), the text index in one INSERT ... SELECT and the domain names
from the domain index. Rows are written in time order, as a daemon following logs writes
them; ids are sequential rather than hashes of the origin (which only the primary key sees).

``--reuse`` skips the build when the store and logs from an earlier run are there.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import numpy as np

from monitord.casework.query import Query, parse_domain
from monitord.casework.search import run_query, search
from monitord.casework.timeline import day_events
from monitord.store.database import open_store

TZ = ZoneInfo("Europe/London")
FIRST_DAY = date(2026, 11, 2)  # a Monday; the month is all GMT, so local time is UTC
PERSON_DAY = date(2026, 11, 19)  # a Thursday
PERSON = 44
SUFFIX = "*.tiktok.com"
RARE_TEXT = "how to hide"  # planted in a few hundred searches over the month
COMMON_TEXT = "minecraft"  # about one search or URL in a few hundred

POPULAR = [
    "www.google.com",
    "www.bbc.co.uk",
    "classroom.google.com",
    "teams.microsoft.com",
    "login.microsoftonline.com",
    "fonts.gstatic.com",
    "play.ttrockstars.com",
    "en.wikipedia.org",
    "app.seesaw.me",
    "ocsp.digicert.com",
    "ctldl.windowsupdate.com",
    "www.purplemash.com",
    "clients4.google.com",
    "www.youtube.com",
    "i.ytimg.com",
    "edge.microsoft.com",
    "www.bing.com",
    "outlook.office365.com",
    "graph.microsoft.com",
    "safebrowsing.googleapis.com",
]
TIKTOK = ["www.tiktok.com", "tiktok.com", "m.tiktok.com", "v16-webapp.tiktok.com", "vm.tiktok.com"]
# Look-alikes a suffix search must leave out.
NEAR_MISSES = [
    "tiktokcdn.com",
    "nottiktok.com",
    "tiktok.com.example.net",
    "p16-sign.tiktokcdn-us.com",
]
WORDS = [
    "maths",
    "homework",
    "fractions",
    "times",
    "tables",
    "spelling",
    "test",
    "science",
    "volcano",
    "rainforest",
    "romans",
    "vikings",
    "tudors",
    "egypt",
    "pyramids",
    "football",
    "score",
    "results",
    "match",
    "highlights",
    "minecraft",
    "roblox",
    "fortnite",
    "skins",
    "game",
    "free",
    "online",
    "cheats",
    "video",
    "music",
    "lyrics",
    "song",
    "dance",
    "cat",
    "dog",
    "funny",
    "memes",
    "animals",
    "space",
    "planets",
    "moon",
    "stars",
    "weather",
    "recipe",
    "pancakes",
    "birthday",
    "party",
    "ideas",
    "draw",
    "easy",
    "how",
    "to",
    "make",
    "a",
    "paper",
    "plane",
    "slime",
    "crafts",
    "story",
    "book",
    "author",
    "reading",
    "comprehension",
    "year",
    "six",
    "sats",
    "revision",
    "grammar",
    "punctuation",
    "poem",
]

COLUMNS = (
    "id, site_id, ts, source, fmt, kind, client_ip, client_mac, user, domain, url, method, "
    "qtype, action, blocked, status, size, hostname, text, username, device_id, role, "
    "year_group, attributed_by, attribution, category, severity, file_id, offset, raw"
)
INSERT = f"INSERT INTO events ({COLUMNS}) VALUES ({', '.join('?' * 30)})"


# --- the school ---------------------------------------------------------------------------


class Devices:
    def __init__(self, n: int) -> None:
        self.ip = [f"10.20.{i // 250}.{i % 250 + 2}" for i in range(n)]
        self.mac = [f"02:00:00:00:{i // 256:02x}:{i % 256:02x}" for i in range(n)]
        self.device = [f"LT-{i:04d}" for i in range(n)]
        staff = set(range(0, n, 25))
        self.user = [f"staff{i}" if i in staff else f"pupil{i}" for i in range(n)]
        self.role = ["staff" if i in staff else "pupil" for i in range(n)]
        self.year = [None if i in staff else str(1 + i % 6) for i in range(n)]
        self.why = [
            f"lease {self.ip[i]} -> {self.mac[i]} (lt-{i}); {self.device[i]} is assigned to "
            f"{self.user[i]} (school_single)"
            for i in range(n)
        ]


def domain_universe(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """About 200,000 names with a long-tailed popularity: a few popular ones take most
    lookups, a medium tier of CDN-style names, and a long tail seen a handful of times."""
    medium = [f"cdn{i % 97}.{POPULAR[i % len(POPULAR)].split('.', 1)[1]}" for i in range(2000)]
    medium += [f"www.site{i}.co.uk" for i in range(3000)]
    tail = [f"{WORDS[i % len(WORDS)]}{i}.example{i % 50}.com" for i in range(200_000)]
    names = POPULAR + TIKTOK + NEAR_MISSES + ["www.roblox.com", "www.bet365.com"] + medium + tail
    weights = np.concatenate(
        [
            np.full(len(POPULAR), 0.55 / len(POPULAR)),
            np.full(len(TIKTOK), 0.012 / len(TIKTOK)),
            np.full(len(NEAR_MISSES), 0.004 / len(NEAR_MISSES)),
            np.array([0.003, 0.001]),
            np.full(len(medium), 0.33 / len(medium)),
            np.full(len(tail), 0.1 / len(tail)),
        ]
    )
    return names, weights / weights.sum()


CATEGORY = dict.fromkeys(TIKTOK, ("social_media", "low")) | {
    "www.roblox.com": ("gaming", "low"),
    "www.bet365.com": ("gambling", "medium"),
}


# --- raw log files --------------------------------------------------------------------------


class RawLog:
    """One day's log file of one source, gzipped by a gzip process (the other core)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = path.open("wb")
        self.proc = subprocess.Popen(["gzip", "-6", "-c"], stdin=subprocess.PIPE, stdout=self.fh)
        assert self.proc.stdin is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.offset = 0
        self.file_id = ""
        self.buf: list[bytes] = []

    def write(self, data: bytes) -> int:
        """Write ``data``; return the byte offset it starts at in the uncompressed file."""
        at = self.offset
        if not self.file_id:
            self.file_id = os.urandom(8).hex()
        self.buf.append(data)
        self.offset += len(data)
        if len(self.buf) >= 4096:
            self.stdin.write(b"".join(self.buf))
            self.buf.clear()
        return at

    def close(self) -> None:
        self.stdin.write(b"".join(self.buf))
        self.stdin.close()
        self.proc.wait()
        self.fh.close()


# --- generating a day ---------------------------------------------------------------------


def day_times(rng: np.random.Generator, n: int, weekday: bool) -> np.ndarray:
    """Seconds (with milliseconds) into the day, sorted: school hours busy on weekdays."""
    if weekday:
        school = rng.uniform(8.5 * 3600, 15.5 * 3600, int(n * 0.8))
        rest = rng.uniform(7 * 3600, 22 * 3600, n - len(school))
        t = np.concatenate([school, rest])
    else:
        t = rng.uniform(9 * 3600, 21 * 3600, n)
    t = np.round(t, 3)
    t.sort()
    return t


def generate_day(
    day: date,
    n: int,
    devices: Devices,
    names: list[str],
    weights: np.ndarray,
    rng: np.random.Generator,
    raw_dir: Path,
    first_id: int,
    emit: Callable[[list[tuple[Any, ...]]], None],
) -> dict[str, int]:
    """Write one day's raw logs and emit its rows in batches; return counts per source."""
    weekday = day.weekday() < 5
    secs = day_times(rng, n, weekday)
    who = rng.integers(0, len(devices.ip), n)
    kind = rng.random(n)  # < 0.6 dns, < 0.99 proxy, else agent
    host = rng.choice(len(names), n, p=weights)
    extra = rng.random(n)
    size = rng.integers(300, 90_000, n)
    words = rng.integers(0, len(WORDS), (n, 4))
    stamp = f"{day:%Y-%m-%d} "
    syslog_day = f"{day:%b} {day.day:2d} "
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    logs = {
        "pihole": RawLog(raw_dir / f"pihole-{day:%Y%m%d}.log.gz"),
        "proxy": RawLog(raw_dir / f"squid-{day:%Y%m%d}.log.gz"),
        "agents": RawLog(raw_dir / f"agents-{day:%Y%m%d}.jsonl.gz"),
    }
    counts = dict.fromkeys(logs, 0)
    rows: list[tuple[Any, ...]] = []
    row: tuple[Any, ...]
    for i in range(n):
        s = float(secs[i])
        whole = int(s)
        hms = f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
        d = int(who[i])
        ip = devices.ip[d]
        name = names[int(host[i])]
        category, severity = CATEGORY.get(name, (None, "none"))
        k = float(kind[i])
        eid = f"{first_id + i:032x}"
        if k < 0.6:
            line = f"{syslog_day}{hms} dnsmasq[811]: query[A] {name} from {ip}\n"
            log = logs["pihole"]
            offset = log.write(line.encode())
            reply = (
                f"{syslog_day}{hms} dnsmasq[811]: cached {name} is 203.0.113.{d % 250 + 1}\n"
                if extra[i] < 0.4
                else f"{syslog_day}{hms} dnsmasq[811]: forwarded {name} to 1.1.1.3\n"
                f"{syslog_day}{hms} dnsmasq[811]: reply {name} is 203.0.113.{d % 250 + 1}\n"
            )
            log.write(reply.encode())
            row = (
                eid,
                "default",
                f"{stamp}{hms}+00:00",
                "pihole",
                "dnsmasq",
                "dns",
                ip,
                None,
                None,
                name,
                None,
                None,
                "A",
                "query",
                0,
                None,
                None,
                None,
                None,
            )
        elif k < 0.99:
            ms = round((s - whole) * 1000)
            x = float(extra[i])
            if x < 0.7:
                method, url = "CONNECT", f"{name}:443"
            elif x < 0.8:
                q = "+".join(WORDS[int(w)] for w in words[i][: 2 + int(x * 100) % 3])
                if x < 0.70002:
                    q = "how+to+hide+cuts"
                    category, severity = "self_harm", "high"
                method, url = "GET", f"http://www.google.com/search?q={q}"
                name = "www.google.com"
            else:
                method, url = "GET", f"http://{name}/{WORDS[int(words[i][0])]}/{int(size[i])}"
            user = devices.user[d] if d % 2 else "-"
            line = (
                f"{midnight + s:.3f}    {int(size[i]) % 900 + 5} {ip} TCP_MISS/200 {int(size[i])} "
                f"{method} {url} {user} HIER_DIRECT/203.0.113.7 text/html\n"
            )
            offset = logs["proxy"].write(line.encode())
            row = (
                eid,
                "default",
                f"{stamp}{hms}.{ms:03d}000+00:00",
                "proxy",
                "squid",
                "http",
                ip,
                None,
                None if user == "-" else user,
                name,
                url,
                method,
                None,
                "TCP_MISS",
                0,
                200,
                int(size[i]),
                None,
                None,
            )
        else:
            x = float(extra[i])
            text = " ".join(WORDS[int(w)] for w in words[i][: 2 + int(x * 100) % 3])
            if x < 0.0005:
                text = "how to hide cuts on my arm"
                category, severity = "self_harm", "high"
            else:
                category, severity = None, "none"
            agent_kind, ev_kind = ("search", "search") if x < 0.5 else ("typed_text", "text")
            data = {"engine": "google", "query": text} if x < 0.5 else {"text": text}
            line = (
                json.dumps(
                    {
                        "schema": "monitord.agent/1",
                        "agent_id": f"agent-{devices.device[d].lower()}",
                        "hostname": devices.device[d],
                        "ts": f"{day}T{hms}Z",
                        "user": devices.user[d],
                        "ip": ip,
                        "mac": devices.mac[d],
                        "kind": agent_kind,
                        "data": data,
                    }
                )
                + "\n"
            )
            offset = logs["agents"].write(line.encode())
            row = (
                eid,
                "default",
                f"{stamp}{hms}+00:00",
                "agents",
                "agent",
                ev_kind,
                ip,
                devices.mac[d],
                devices.user[d],
                None,
                None,
                None,
                None,
                None,
                0,
                None,
                None,
                devices.device[d],
                text,
            )
            name = ""
        source = row[3]
        counts[source] += 1
        rows.append(
            (
                *row,
                devices.user[d],
                devices.device[d],
                devices.role[d],
                devices.year[d],
                "assigned_device",
                devices.why[d],
                category,
                severity,
                logs[source].file_id,
                offset,
                line.encode(),
            )
        )
        if len(rows) >= 20_000:
            emit(rows)
            rows = []
    if rows:
        emit(rows)
    for log in logs.values():
        log.close()
    return counts


# --- building the store ---------------------------------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1048576")  # 1 GiB while building
    db.execute("PRAGMA threads=2")
    db.execute("PRAGMA temp_store=FILE")
    return db


def build(
    root: Path, n_events: int, n_days: int, n_devices: int, generated: int | None = None
) -> None:
    """Build the store; with ``generated``, only that many days are made and the rest are
    copies (see ``copy_days``)."""
    raw_dir = root / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    db_path = root / "monitord.db"
    for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        p.unlink(missing_ok=True)
    open_store(f"sqlite:///{db_path}").dispose()  # every migration: the real schema
    db = _connect(db_path)
    # Keep the schema's indexes and triggers on events, drop them, load, make them again.
    kept = secondary(db)
    for kind, name, _ in kept:
        db.execute(f"DROP {kind.upper()} {name}")
    rng = np.random.default_rng(8)
    devices = Devices(n_devices)
    names, weights = domain_universe(rng)
    days, per_day = plan(n_events, n_days)
    made = n_days if generated is None else min(generated, n_days)

    batches: queue.Queue[list[tuple[Any, ...]] | None] = queue.Queue(maxsize=8)
    stored = [0]

    def writer() -> None:
        db.execute("BEGIN")
        since_commit = 0
        while (rows := batches.get()) is not None:
            db.executemany(INSERT, rows)
            stored[0] += len(rows)
            since_commit += len(rows)
            if since_commit >= 500_000:
                db.execute("COMMIT")
                db.execute("BEGIN")
                since_commit = 0
        db.execute("COMMIT")

    thread = threading.Thread(target=writer)
    thread.start()
    start = time.perf_counter()
    first_id = 0
    totals: dict[str, int] = {}
    for day, n in zip(days[:made], per_day[:made], strict=True):
        counts = generate_day(
            day, int(n), devices, names, weights, rng, raw_dir, first_id, batches.put
        )
        first_id += int(n)
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
        rate = first_id / (time.perf_counter() - start)
        print(f"  {day}: {n:,} events ({first_id:,} so far, {rate:,.0f}/s)", flush=True)
    batches.put(None)
    thread.join()
    print(f"loaded {stored[0]:,} rows in {time.perf_counter() - start:,.0f} s: {totals}")
    if made < n_days:
        copy_days(db, days, per_day, made)
    finish(db, kept, start)


def plan(n_events: int, n_days: int) -> tuple[list[date], Any]:
    """The days and how many events each holds (a weekend day 15% of a weekday)."""
    days = [FIRST_DAY + timedelta(days=i) for i in range(n_days)]
    share = np.array([1.0 if d.weekday() < 5 else 0.15 for d in days])
    per_day = np.floor(share / share.sum() * n_events).astype(int)
    per_day[0] += n_events - per_day.sum()
    return days, per_day


def secondary(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """The events table's indexes and triggers as the migrations made them."""
    return db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'events' "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL"
    ).fetchall()


def copy_days(db: sqlite3.Connection, days: list[date], per_day: Any, made: int) -> None:
    """Fill every day after the first ``made`` with a copy of the made day of the same weekday
    (``made`` is at least 7): its rows with the date of their time changed and ids of their
    own, in SQLite's own loop rather than Python's, about ten times quicker. The copies keep
    the raw line and origin of the day they copy (no raw logs are written for them), so
    this store serves the benchmarks that read people's days and alerts (bench/web.py), not
    this one's counts of planted names or its zgrep."""
    if made < 7:
        raise SystemExit("copying days needs a whole week made first")
    first = np.concatenate([[0], np.cumsum(per_day)]).astype(int).tolist()
    select = COLUMNS.replace("id, ", "printf('%032x', ? + rowid - ?), ", 1)
    select = select.replace(" ts,", " ? || substr(ts, 11),", 1)
    t = time.perf_counter()
    for j in range(made, len(days)):
        src = j % 7
        row = db.execute("SELECT rowid FROM events WHERE id = ?", (f"{first[src]:032x}",))
        start = int(row.fetchone()[0])
        db.execute(
            f"INSERT INTO events ({COLUMNS}) SELECT {select} FROM events "
            "WHERE rowid >= ? AND rowid < ?",
            (first[j], start, f"{days[j]:%Y-%m-%d}", start, start + int(per_day[j])),
        )
        print(f"  {days[j]}: {int(per_day[j]):,} events copied from {days[src]}", flush=True)
    print(f"copied {first[-1] - first[made]:,} rows in {time.perf_counter() - t:,.0f} s")


def finish(db: sqlite3.Connection, kept: list[tuple[str, str, str]], start: float) -> None:
    """Make the indexes, the text index, the domain names and the triggers again."""
    for kind, name, sql in kept:
        if kind == "index":
            t = time.perf_counter()
            db.execute(sql)
            print(f"  index {name}: {time.perf_counter() - t:,.0f} s", flush=True)
    t = time.perf_counter()
    db.execute(
        "INSERT INTO events_text(rowid, url, text) SELECT rowid, url, text FROM events "
        "WHERE url IS NOT NULL OR text IS NOT NULL"
    )
    print(f"  text index: {time.perf_counter() - t:,.0f} s", flush=True)
    t = time.perf_counter()
    db.execute(
        "INSERT OR IGNORE INTO domain_names(domain) SELECT DISTINCT domain FROM events "
        "WHERE domain IS NOT NULL"
    )
    print(f"  domain names: {time.perf_counter() - t:,.0f} s", flush=True)
    for kind, _name, sql in kept:
        if kind == "trigger":
            db.execute(sql)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    print(f"built in {time.perf_counter() - start:,.0f} s", flush=True)


# --- timing ---------------------------------------------------------------------------------


# A person's day takes milliseconds: more runs, so that a moment of other work on a shared
# machine does not decide the median.
DAY_RUNS = 21


def timed(fn: Callable[[], Any], runs: int = 5) -> tuple[float, float, Any]:
    """(first run in ms, median of the next ``runs`` in ms, the answer)."""
    t = time.perf_counter()
    answer = fn()
    first = (time.perf_counter() - t) * 1000
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return first, statistics.median(times), answer


def zgrep(args: list[str], files: list[Path], runs: int) -> tuple[float, int]:
    """The median wall time in ms of ``runs`` runs of ``zgrep -h ARGS FILES``, and the
    lines it matched."""
    times, lines = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(
            ["zgrep", "-h", *args, *map(str, files)], capture_output=True, check=False
        )
        times.append((time.perf_counter() - t) * 1000)
        lines = proc.stdout.count(b"\n")
    return statistics.median(times), lines


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(root: Path, n_days: int) -> None:
    db_path = root / "monitord.db"
    engine = open_store(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        n = conn.exec_driver_sql("SELECT max(rowid) FROM events").scalar_one()
        names = conn.exec_driver_sql("SELECT count(*) FROM domain_names").scalar_one()
    raw = root / "raw"
    print(
        f"store: {n:,} events, {names:,} distinct domain names, "
        f"{db_path.stat().st_size / 1e9:.1f} GB; raw logs {du(raw) / 1e9:.2f} GB gzipped"
    )
    last = FIRST_DAY + timedelta(days=n_days)
    month_start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
    month_end = datetime(last.year, last.month, last.day, tzinfo=UTC)
    day_start = datetime(PERSON_DAY.year, PERSON_DAY.month, PERSON_DAY.day, tzinfo=UTC)
    devices = Devices(PERSON + 1)
    user, ip = devices.user[PERSON], devices.ip[PERSON]
    day_files = sorted(raw.glob(f"*-{PERSON_DAY:%Y%m%d}.*"))
    all_files = sorted(raw.glob("*.gz"))
    text_files = sorted(raw.glob("squid-*.gz")) + sorted(raw.glob("agents-*.gz"))
    now = month_end + timedelta(hours=1)
    rows: list[tuple[str, float, float, int, str]] = []

    def run(label: str, q: Query, runs: int = 5) -> None:
        with engine.connect() as conn:
            first, median, result = timed(lambda: run_query(conn, q), runs)
        rows.append((label, first, median, result.hits, result.plan))
        print(
            f"  {label}: first {first:,.1f} ms, then {median:,.1f} ms; {result.hits:,} "
            f"hits{' (more)' if result.more else ''}, by {result.plan}",
            flush=True,
        )

    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print("monitord search (the query the command runs):")
    run(
        f"one person's day (--user {user}, one day, every event)",
        Query(user=user, since=day_start, until=day_start + timedelta(days=1), limit=100_000),
        DAY_RUNS,
    )
    with engine.connect() as conn:
        first, median, events = timed(lambda: day_events(conn, PERSON_DAY, TZ, user=user), DAY_RUNS)
    rows.append((f"timeline --user {user} --date {PERSON_DAY}", first, median, len(events), "user"))
    print(f"  timeline: first {first:,.1f} ms, then {median:,.1f} ms; {len(events):,} events")
    run(
        f"domain suffix over {n_days} days (--domain '{SUFFIX}', newest 100)",
        Query(domain=parse_domain(SUFFIX), since=month_start, until=month_end),
    )
    run(
        f"domain suffix over {n_days} days, every match",
        Query(domain=parse_domain(SUFFIX), since=month_start, until=month_end, limit=1_000_000),
    )
    run(
        f"rare text over {n_days} days (--text '{RARE_TEXT}', every match)",
        Query(text=RARE_TEXT, since=month_start, until=month_end, limit=100_000),
    )
    run(
        f"common text over {n_days} days (--text '{COMMON_TEXT}', newest 100)",
        Query(text=COMMON_TEXT, since=month_start, until=month_end),
    )
    run(
        f"one person's month of one domain (--user {user} --domain '{SUFFIX}')",
        Query(user=user, domain=parse_domain(SUFFIX), since=month_start, until=month_end),
    )
    first, median, result = timed(
        lambda: search(
            engine,
            Query(user=user, since=day_start, until=day_start + timedelta(days=1), limit=100_000),
            "bench",
            "benchmark",
            now,
        ),
        DAY_RUNS,
    )
    rows.append(
        (
            "the person's day, audited (search() as the command calls it)",
            first,
            median,
            result.hits,
            result.plan,
        )
    )
    print(f"  audited person's day: first {first:,.1f} ms, then {median:,.1f} ms")

    # The commands end to end, each a new process as an operator runs it: Python's imports,
    # the store's schema check, the query, the audit record and the output.
    config = root / "bench-monitord.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{db_path.resolve()}"\n', encoding="utf-8")
    commands = [
        (
            f"monitord search --user {user} --since {PERSON_DAY} --until {PERSON_DAY} "
            "--limit 100000 --json",
            [
                "search",
                "--user",
                user,
                "--since",
                str(PERSON_DAY),
                "--until",
                str(PERSON_DAY),
                "--limit",
                "100000",
                "--json",
            ],
        ),
        (
            f"monitord timeline --user {user} --date {PERSON_DAY}",
            ["timeline", "--user", user, "--date", str(PERSON_DAY)],
        ),
        (
            f"monitord search --domain '{SUFFIX}' --since {FIRST_DAY}",
            ["search", "--domain", SUFFIX, "--since", str(FIRST_DAY)],
        ),
        (
            f"monitord search --text '{RARE_TEXT}' --since {FIRST_DAY} --limit 1000",
            ["search", "--text", RARE_TEXT, "--since", str(FIRST_DAY), "--limit", "1000"],
        ),
    ]
    cli_rows = []
    print("the commands, end to end:")
    for label, argv in commands:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "monitord",
                    "--config",
                    str(config),
                    *argv,
                    "--reason",
                    "benchmark",
                ],
                capture_output=True,
                check=True,
            )
            times.append((time.perf_counter() - t) * 1000)
        cli_rows.append((label, statistics.median(times)))
        print(f"  {label}: {statistics.median(times) / 1000:,.2f} s (median of 3)", flush=True)

    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print("zgrep over the raw logs:")
    rare = [RARE_TEXT, RARE_TEXT.replace(" ", "+"), RARE_TEXT.replace(" ", "%20")]
    greps = [
        (
            f"one person's day ({ip} or {user}), that day's files",
            ["-w", "-F", "-e", ip, "-e", user],
            day_files,
            5,
        ),
        (f"domain suffix over {n_days} days", ["-E", r"[ /.]tiktok\.com([ :/]|$)"], all_files, 2),
        (
            f"rare text over {n_days} days (proxy and agent logs)",
            ["-i", "-F", *(x for v in rare for x in ("-e", v))],
            text_files,
            2,
        ),
        (
            f"common text over {n_days} days (proxy and agent logs)",
            ["-i", "-F", "-e", COMMON_TEXT],
            text_files,
            2,
        ),
    ]
    zrows = []
    for label, args, files, runs in greps:
        ms, lines = zgrep(args, files, runs)
        zrows.append((label, ms, lines))
        print(f"  {label}: {ms / 1000:,.2f} s (median of {runs}), {lines:,} lines", flush=True)

    print("\n| question | monitord: first | monitord: again | hits | driven by |")
    print("|---|---:|---:|---:|---|")
    for label, first, median, hits, plan in rows:
        print(f"| {label} | {first:,.1f} ms | {median:,.1f} ms | {hits:,} | {plan} |")
    print("\n| the same with zgrep | time | lines |")
    print("|---|---:|---:|")
    for label, ms, lines in zrows:
        print(f"| {label} | {ms / 1000:,.2f} s | {lines:,} |")
    print("\n| the command, end to end | time |")
    print("|---|---:|")
    for label, ms in cli_rows:
        print(f"| `{label}` | {ms / 1000:,.2f} s |")
    day_ms = rows[0][2]
    print(
        f"\nthe person's day: zgrep {zrows[0][1]:,.0f} ms / monitord {day_ms:,.1f} ms = "
        f"{zrows[0][1] / day_ms:,.0f}x (first run: {zrows[0][1] / rows[0][1]:,.0f}x); "
        f"end to end, `monitord search` {cli_rows[0][1] / 1000:,.2f} s = "
        f"{zrows[0][1] / cli_rows[0][1]:,.1f}x"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--dir", default="var/bench-search")
    ap.add_argument("--reuse", action="store_true", help="use the store an earlier run built")
    ap.add_argument("--clean", action="store_true", help="remove the store and logs at the end")
    args = ap.parse_args()
    root = Path(args.dir)
    if not (args.reuse and (root / "monitord.db").is_file()):
        build(root, args.events, args.days, args.devices)
    measure(root, args.days)
    if args.clean:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
