"""Search speed on a month of a large school's traffic, side by side with zgrep.

    .venv/bin/python bench/search.py [--events 50000000] [--days 30] [--devices 500]
                                     [--dir var/bench-search] [--store URL] [--reuse]
                                     [--retention]

Builds a store of N events over D days from the given number of devices, written as ingest
writes it (``bench/bigstore.py``: the pipeline's rows, each name classified by the starter
lists, stored through the store's own bulk writes at the current schema, so lookups with
nothing more to them go to ``lookups`` with their lines in zstandard blocks and every table,
index and trigger is the migrations' own), and beside it the raw logs of the same days as
the sources would have written them, gzipped as logrotate leaves them: Pi-hole's dnsmasq log
(each query with its forwarded and reply, or cached, lines), Squid's access.log and the
agents' JSON reports. Then it times the same questions both ways: with monitord's search
(the library call the command makes, and the audited command path) and with zgrep over the
raw files.

The store is SQLite's DIR/monitord.db unless ``--store`` names a PostgreSQL database (empty,
or ``--reuse``d); ``bench/bigstore.py --pg DIR`` starts a server for it. ``--reuse`` skips
the build when the store and logs from an earlier run are there. ``--retention`` then runs
retention as the daily job would the day after the store's last, with the events kept as
many days as the store holds, which removes the first day, and prints what it removed and
how long its longest transaction held the store.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import shutil
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
from bigstore import (
    BATCH_LINES,
    Judge,
    drop_indexes,
    make_indexes,
    store_batch,
    writer_connection,
)

from monitord.casework.plan import flush_text_queue
from monitord.casework.query import Query, parse_domain
from monitord.casework.search import run_query, search
from monitord.casework.timeline import day_events
from monitord.settings.config import load_config
from monitord.store.database import current_revision, open_store, sqlite_file, table_of
from monitord.store.retention import run_retention
from monitord.store.tables import EventRow

TZ = ZoneInfo("Europe/London")
FIRST_DAY = date(2026, 11, 2)  # a Monday; the month is all GMT, so local time is UTC
PERSON_DAY = date(2026, 11, 19)  # a Thursday


def person_day(n_days: int) -> date:
    """The day whose person's events are read: 19 November, or in a store of fewer days
    the last Thursday it holds (its last day, if it holds none)."""
    last = min(PERSON_DAY, FIRST_DAY + timedelta(days=n_days - 1))
    thursday = last - timedelta(days=(last.weekday() - 3) % 7)
    return thursday if thursday >= FIRST_DAY else last


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


# Every column of an event row, as the pipeline fills them.
EMPTY_ROW = tuple(table_of(EventRow).c.keys())


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
            self.file_id = os.urandom(16).hex()
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
    judge: Judge,
    emit: Callable[[list[dict[str, Any]], dict[str, tuple[dict[str, Any], ...]], set[str]], None],
) -> dict[str, int]:
    """Write one day's raw logs and emit its event rows, as the pipeline makes them, in
    batches of a file's next ``BATCH_LINES`` lines; return the events of each source."""
    weekday = day.weekday() < 5
    secs = day_times(rng, n, weekday)
    who = rng.integers(0, len(devices.ip), n)
    kind = rng.random(n)  # < 0.6 dns, < 0.99 proxy, else agent
    host = rng.choice(len(names), n, p=weights)
    extra = rng.random(n)
    size = rng.integers(300, 90_000, n)
    words = rng.integers(0, len(WORDS), (n, 4))
    syslog_day = f"{day:%b} {day.day:2d} "
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    epoch = midnight.timestamp()
    before = day - timedelta(days=1)
    # What identity says of each laptop's address that day: its lease and its owner.
    why = [
        f"lease {os.urandom(6).hex()}: {devices.ip[d]} -> {devices.mac[d]} from "
        f"{before}T18:30:00Z until {day}T18:30:00Z; device {devices.device[d]} (school_single) "
        f"has MAC {devices.mac[d]}; {devices.device[d]} is assigned to {devices.user[d]}"
        for d in range(len(devices.ip))
    ]
    logs = {
        "pihole": RawLog(raw_dir / f"pihole-{day:%Y%m%d}.log.gz"),
        "proxy": RawLog(raw_dir / f"squid-{day:%Y%m%d}.log.gz"),
        "agents": RawLog(raw_dir / f"agents-{day:%Y%m%d}.jsonl.gz"),
    }
    counts = dict.fromkeys(logs, 0)
    batches: dict[str, list[dict[str, Any]]] = {s: [] for s in logs}
    matched: dict[str, dict[str, tuple[dict[str, Any], ...]]] = {s: {} for s in logs}
    weighty: dict[str, set[str]] = {s: set() for s in logs}
    lines_at = dict.fromkeys(logs, 0)  # the line count of each file at its batch's start
    lines = dict.fromkeys(logs, 0)
    for i in range(n):
        s = float(secs[i])
        whole = int(s)
        hms = f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
        d = int(who[i])
        ip = devices.ip[d]
        name = names[int(host[i])]
        k = float(kind[i])
        row: dict[str, Any] = dict.fromkeys(EMPTY_ROW)
        if k < 0.6:
            source = "pihole"
            ts = midnight + timedelta(seconds=whole)
            line = f"{syslog_day}{hms} dnsmasq[811]: query[A] {name} from {ip}\n"
            log = logs[source]
            offset = log.write(line.encode())
            reply = (
                f"{syslog_day}{hms} dnsmasq[811]: cached {name} is 203.0.113.{d % 250 + 1}\n"
                if extra[i] < 0.4
                else f"{syslog_day}{hms} dnsmasq[811]: forwarded {name} to 1.1.1.3\n"
                f"{syslog_day}{hms} dnsmasq[811]: reply {name} is 203.0.113.{d % 250 + 1}\n"
            )
            log.write(reply.encode())
            lines[source] += 2 if extra[i] < 0.4 else 3
            row.update(fmt="dnsmasq", kind="dns", domain=name, qtype="A", user=None)
            person = devices.user[d]
            how = "assigned_device"
            reason = why[d]
        elif k < 0.99:
            source = "proxy"
            ms = round((s - whole) * 1000)
            ts = midnight + timedelta(seconds=whole, milliseconds=ms)
            x = float(extra[i])
            if x < 0.7:
                method, url = "CONNECT", f"{name}:443"
            elif x < 0.8:
                q = "+".join(WORDS[int(w)] for w in words[i][: 2 + int(x * 100) % 3])
                if x < 0.70002:
                    q = "how+to+hide+cuts"
                method, url = "GET", f"http://www.google.com/search?q={q}"
                name = "www.google.com"
            else:
                method, url = "GET", f"http://{name}/{WORDS[int(words[i][0])]}/{int(size[i])}"
            user = devices.user[d] if d % 2 else "-"
            line = (
                f"{epoch + whole + ms / 1000:.3f}    {int(size[i]) % 900 + 5} {ip} TCP_MISS/200 "
                f"{int(size[i])} {method} {url} {user} HIER_DIRECT/203.0.113.7 text/html\n"
            )
            offset = logs[source].write(line.encode())
            lines[source] += 1
            row.update(
                fmt="squid",
                kind="http",
                user=None if user == "-" else user,
                domain=name,
                url=url,
                method=method,
                action="TCP_MISS",
                status=200,
                size=int(size[i]),
            )
            person = devices.user[d]
            how = "assigned_device" if user == "-" else "user_in_record"
            reason = why[d] if user == "-" else f"user name '{user}' in the record; {why[d]}"
        else:
            source = "agents"
            ts = midnight + timedelta(seconds=whole)
            x = float(extra[i])
            text = " ".join(WORDS[int(w)] for w in words[i][: 2 + int(x * 100) % 3])
            if x < 0.0005:
                text = "how to hide cuts on my arm"
            agent_kind, ev_kind = ("search", "search") if x < 0.5 else ("typed_text", "text")
            data = {"engine": "google", "query": text} if x < 0.5 else {"text": text}
            agent = f"agent-{devices.device[d].lower()}"
            line = (
                json.dumps(
                    {
                        "schema": "monitord.agent/1",
                        "agent_id": agent,
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
            offset = logs[source].write(line.encode())
            lines[source] += 1
            row.update(
                fmt="agent",
                kind=ev_kind,
                client_mac=devices.mac[d],
                user=devices.user[d],
                hostname=devices.device[d],
                text=text,
                agent=agent,
            )
            name = ""
            person = devices.user[d]
            how = "user_in_record"
            reason = f"user name '{person}' in the record; {why[d]}"
        file_id = logs[source].file_id
        category, severity, matches, heavy = (
            judge.name(name, ts) if name else (None, "none", (), False)
        )
        if "how to hide" in line or "how+to+hide" in line:
            category, severity, heavy = "self_harm", "high", True  # as the text's judge says
        eid = hashlib.blake2b(f"{file_id}:{offset}".encode(), digest_size=16).hexdigest()
        row.update(
            id=eid,
            site_id="default",
            ts=ts,
            source=source,
            client_ip=ip,
            blocked=False,
            username=person,
            device_id=devices.device[d],
            role=devices.role[d],
            year_group=devices.year[d],
            attributed_by=how,
            attribution=reason,
            category=category,
            severity=severity,
            file_id=file_id,
            offset=offset,
            raw=line[:-1].encode(),
        )
        counts[source] += 1
        batches[source].append(row)
        if matches:
            matched[source][eid] = matches
        if heavy:
            weighty[source].add(eid)
        if lines[source] - lines_at[source] >= BATCH_LINES:
            emit(batches[source], matched[source], weighty[source])
            batches[source], matched[source], weighty[source] = [], {}, set()
            lines_at[source] = lines[source]
    for source, rows in batches.items():
        if rows:
            emit(rows, matched[source], weighty[source])
    for log in logs.values():
        log.close()
    return counts


# --- building the store ---------------------------------------------------------------------


def build(
    root: Path, url: str, n_events: int, n_days: int, n_devices: int, live: bool = False
) -> None:
    """Build the store at ``url`` (a fresh one: SQLite's file is made again) and the raw
    logs beside it. On SQLite the secondary indexes of events and lookups are made at the
    end (sorted once rather than grown row by row: several times quicker, the pages fuller
    than a daemon's), unless ``live``."""
    raw_dir = root / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    db_path = sqlite_file(url)
    if db_path is not None:
        for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
            p.unlink(missing_ok=True)
    engine = open_store(url)  # every migration: the real schema
    config = root / "bench-monitord.toml"
    config.write_text(f'[storage]\nurl = "{url}"\n', encoding="utf-8")
    judge = Judge(engine, config)
    rng = np.random.default_rng(8)
    devices = Devices(n_devices)
    names, weights = domain_universe(rng)
    days, per_day = plan(n_events, n_days)

    batches: queue.Queue[tuple[list[dict[str, Any]], dict[str, Any], set[str]] | None] = (
        queue.Queue(maxsize=8)
    )
    stored = [0]
    failed: list[BaseException] = []

    deferred: list[tuple[str, str]] = []
    if engine.dialect.name == "sqlite" and not live:
        with engine.connect() as conn:
            deferred = drop_indexes(conn)

    def writer() -> None:
        try:
            conn = writer_connection(engine)
            while (batch := batches.get()) is not None:
                with conn.begin():
                    stored[0] += store_batch(conn, *batch)
                    if not deferred:  # into the text index, as the follower's commits do
                        flush_text_queue(conn)
            conn.close()
        except BaseException as exc:  # said by the main thread, which stops
            failed.append(exc)
            while batches.get() is not None:
                pass

    def emit(rows: list[dict[str, Any]], matches: dict[str, Any], weighty: set[str]) -> None:
        if failed:
            raise RuntimeError("the writer failed") from failed[0]
        batches.put((rows, matches, weighty))

    thread = threading.Thread(target=writer)
    thread.start()
    start = time.perf_counter()
    made = 0
    totals: dict[str, int] = {}
    try:
        for day, n in zip(days, per_day, strict=True):
            counts = generate_day(day, int(n), devices, names, weights, rng, raw_dir, judge, emit)
            made += int(n)
            for k, v in counts.items():
                totals[k] = totals.get(k, 0) + v
            took = time.perf_counter() - start
            print(
                f"  {day}: {n:,} events ({made:,} so far, {made / took:,.0f}/s, "
                f"{time.process_time():,.0f} CPU s, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    finally:
        batches.put(None)
        thread.join()
    if failed:
        raise failed[0]
    print(
        f"stored {stored[0]:,} events in {time.perf_counter() - start:,.0f} s "
        f"({time.process_time():,.0f} CPU s of this process): {totals}",
        flush=True,
    )
    conn = writer_connection(engine)
    make_indexes(conn, deferred)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        conn.exec_driver_sql("ANALYZE")
    conn.commit()
    conn.close()
    engine.dispose()
    print(f"built in {time.perf_counter() - start:,.0f} s", flush=True)


def plan(n_events: int, n_days: int) -> tuple[list[date], Any]:
    """The days and how many events each holds (a weekend day 15% of a weekday)."""
    days = [FIRST_DAY + timedelta(days=i) for i in range(n_days)]
    share = np.array([1.0 if d.weekday() < 5 else 0.15 for d in days])
    per_day = np.floor(share / share.sum() * n_events).astype(int)
    per_day[0] += n_events - per_day.sum()
    return days, per_day


# --- timing ---------------------------------------------------------------------------------


# A person's day takes milliseconds: more runs, so that a moment of other work on a shared
# machine does not decide the median.
DAY_RUNS = 21


def timed(fn: Callable[[], Any], runs: int = 5) -> tuple[float, float, float, Any]:
    """(first run in ms, median of the next ``runs`` in ms, their median CPU time of this
    thread in ms, the answer). The CPU time is what a shared machine's load leaves alone: on
    SQLite it holds the store's work, on PostgreSQL only the client's."""
    t = time.perf_counter()
    answer = fn()
    first = (time.perf_counter() - t) * 1000
    times, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.thread_time()
        fn()
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
    return first, statistics.median(times), statistics.median(cpu), answer


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


def store_size(conn: Any) -> int:
    """The store's bytes: SQLite's file, PostgreSQL's database."""
    if conn.dialect.name == "sqlite":
        path = sqlite_file(str(conn.engine.url))
        assert path is not None
        return path.stat().st_size
    return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())


def measure(root: Path, url: str, n_days: int) -> None:
    engine = open_store(url)
    with engine.connect() as conn:
        events = conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one()
        lookups = conn.exec_driver_sql("SELECT count(*) FROM lookups").scalar_one()
        names = conn.exec_driver_sql("SELECT count(*) FROM lookup_names").scalar_one()
        size = store_size(conn)
    raw = root / "raw"
    day = person_day(n_days)
    print(
        f"store ({engine.dialect.name}, schema {current_revision(engine)}): "
        f"{events + lookups:,} events ({lookups:,} of them in lookups), {names:,} names looked "
        f"up, {size / 1e9:.1f} GB; raw logs {du(raw) / 1e9:.2f} GB gzipped"
    )
    last = FIRST_DAY + timedelta(days=n_days)
    month_start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
    month_end = datetime(last.year, last.month, last.day, tzinfo=UTC)
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    devices = Devices(PERSON + 1)
    user, ip = devices.user[PERSON], devices.ip[PERSON]
    day_files = sorted(raw.glob(f"*-{day:%Y%m%d}.*"))
    all_files = sorted(raw.glob("*.gz"))
    text_files = sorted(raw.glob("squid-*.gz")) + sorted(raw.glob("agents-*.gz"))
    now = month_end + timedelta(hours=1)
    rows: list[tuple[str, float, float, float, int, str]] = []

    def run(label: str, q: Query, runs: int = 5) -> None:
        with engine.connect() as conn:
            first, median, cpu, result = timed(lambda: run_query(conn, q), runs)
        rows.append((label, first, median, cpu, result.hits, result.plan))
        print(
            f"  {label}: first {first:,.1f} ms, then {median:,.1f} ms ({cpu:,.1f} ms CPU); "
            f"{result.hits:,} "
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
        first, median, cpu, events = timed(lambda: day_events(conn, day, TZ, user=user), DAY_RUNS)
    rows.append((f"timeline --user {user} --date {day}", first, median, cpu, len(events), "user"))
    print(
        f"  timeline: first {first:,.1f} ms, then {median:,.1f} ms ({cpu:,.1f} ms CPU); "
        f"{len(events):,} events"
    )
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
    first, median, cpu, result = timed(
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
            cpu,
            result.hits,
            result.plan,
        )
    )
    print(
        f"  audited person's day: first {first:,.1f} ms, then {median:,.1f} ms ({cpu:,.1f} ms CPU)"
    )

    # The commands end to end, each a new process as an operator runs it: Python's imports,
    # the store's schema check, the query, the audit record and the output.
    config = root / "bench-monitord.toml"
    config.write_text(f'[storage]\nurl = "{url}"\n', encoding="utf-8")
    commands = [
        (
            f"monitord search --user {user} --since {day} --until {day} --limit 100000 --json",
            [
                "search",
                "--user",
                user,
                "--since",
                str(day),
                "--until",
                str(day),
                "--limit",
                "100000",
                "--json",
            ],
        ),
        (
            f"monitord timeline --user {user} --date {day}",
            ["timeline", "--user", user, "--date", str(day)],
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
            done = subprocess.run(
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
                check=False,
            )
            if done.returncode != 0:  # said, and the run goes on to the other questions
                said = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
                print(f"  {label}: exit {done.returncode}: {' '.join(said)}", flush=True)
                continue
            times.append((time.perf_counter() - t) * 1000)
        if not times:
            continue
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

    print("\n| question | monitord: first | monitord: again | again, CPU | hits | driven by |")
    print("|---|---:|---:|---:|---:|---|")
    for label, first, median, cpu, hits, plan in rows:
        print(
            f"| {label} | {first:,.1f} ms | {median:,.1f} ms | {cpu:,.1f} ms | {hits:,} | {plan} |"
        )
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


def retention(root: Path, url: str, n_days: int, limit: float | None = None) -> None:
    """Retention as the daily job runs it a day after the store's last, the events kept
    as many days as the store holds: its first day goes."""
    config = root / "bench-retention.toml"
    config.write_text(
        f'[storage]\nurl = "{url}"\n[retention]\nevents = "{n_days}d"\n', encoding="utf-8"
    )
    cfg = load_config(config)
    engine = open_store(url)
    first = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
    now = first + timedelta(days=n_days + 1)  # the cut: the end of the first day
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    wall, cpu = time.perf_counter(), time.process_time()
    began = time.perf_counter()
    stop = None if limit is None else (lambda: time.perf_counter() - began > limit)
    result = run_retention(engine, cfg, now, "bench", stop=stop)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    removed = ", ".join(f"{k} {v:,}" for k, v in result.removed.items() if v)
    print(
        f"retention of {FIRST_DAY} ({engine.dialect.name}): {removed} in {wall:,.1f} s"
        f"{' (stopped there)' if result.stopped else ''} "
        f"({cpu:,.1f} CPU s of this process), {result.transactions:,} transactions, the "
        f"longest {result.longest_transaction * 1000:,.1f} ms; load average "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--dir", default="var/bench-search")
    ap.add_argument("--store", help="a PostgreSQL database's URL (default: DIR/monitord.db)")
    ap.add_argument("--reuse", action="store_true", help="use the store an earlier run built")
    ap.add_argument("--no-measure", action="store_true", help="build only")
    ap.add_argument(
        "--live-indexes", action="store_true", help="SQLite: indexes grown row by row, as ingest"
    )
    ap.add_argument("--retention", action="store_true", help="then remove the first day")
    ap.add_argument("--retention-limit", type=float, help="stop retention after so many seconds")
    ap.add_argument("--clean", action="store_true", help="remove the store and logs at the end")
    args = ap.parse_args()
    root = Path(args.dir).resolve()
    url = args.store or f"sqlite:///{root / 'monitord.db'}"
    if not args.reuse:
        build(root, url, args.events, args.days, args.devices, args.live_indexes)
    if not args.no_measure:
        measure(root, url, args.days)
    if args.retention:
        retention(root, url, args.days, args.retention_limit)
    if args.clean:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
