"""End-to-end ingest speed: read, parse, identity, classify, policy, store into SQLite.

    .venv/bin/python bench/ingest.py [--lines N] [--formats squid,dnsmasq,agent] [--profile]
        [--thread | --process] [--store URL|FILE] [--day DATE] [--no-text] [--dir DIR]
        [--rounds N] [--digest]

Generates N lines per format of realistic school traffic (mostly ordinary lookups, about 1 in
200 on a listed site) from 500 devices with leases and a roster, ingests them with the same
code as ``monitord ingest`` into a fresh SQLite store, and prints lines/s per format, lines
per CPU second (both threads and the storing process: the figure to compare on a machine
others share) and the load average, and the CPU time of the storing thread or process (and
with ``--store``, of the server's processes, when the server runs on this machine). ``--dir``
keeps the sites (roster, logs, stores) for ``bench/storesize.py``. ``--store`` names an
existing store to ingest into instead, a PostgreSQL database or a SQLite file (a large one,
``bench/bigstore.py``'s: does ingest slow down on a store that already holds millions of
events?), each format a site of its own there; ``--day`` the day the traffic falls on (after
such a store's last, as a daemon's next day is).
``agent`` is a school day of agent reports (searches, typed text, window titles);
``--no-text`` leaves text unjudged, to measure what judging it costs; ``--rounds N`` measures
that cost itself: N ingests of the same day with text judged and N without, alternated in one
process, compared in CPU time, beside the text path's own CPU time. ``--digest`` prints
what each store holds after the ingest (with ``--store``, its whole database), a digest a
table (``bench/outcome.py``): the same day must give the same digests before and after a
change meant only to be faster.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from outcome import digests
from sqlalchemy import text as sql_text

from monitord.classify.content import ContentClassifier
from monitord.classify.textrisk.normal import forget_readings
from monitord.core.clock import FixedClock
from monitord.identity.roster import import_devices, import_people
from monitord.service.app import ingest_files, open_app
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures"
DAY = datetime(2026, 11, 19, 8, 30, tzinfo=UTC)
TZ = ZoneInfo("Europe/London")
ORDINARY = [
    "www.bbc.co.uk",
    "classroom.google.com",
    "teams.microsoft.com",
    "www.google.com",
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
]
LISTED = ["www.bet365.com", "www.pornhub.com", "www.roblox.com", "www.tiktok.com", "nordvpn.com"]


def hosts(rng: random.Random, n: int) -> list[str]:
    return [
        rng.choice(LISTED)
        if rng.random() < 0.005
        else f"cdn{rng.randrange(40)}.{rng.choice(ORDINARY)}"
        if rng.random() < 0.3
        else rng.choice(ORDINARY)
        for _ in range(n)
    ]


def write_school(folder: Path, devices: int) -> None:
    with (folder / "roster.csv").open("w") as fh:
        fh.write("username,display_name,role,year_group,class,email\n")
        for i in range(devices):
            fh.write(f"pupil{i},Pupil {i},pupil,{1 + i % 6},{1 + i % 6}A,\n")
    with (folder / "devices.csv").open("w") as fh:
        fh.write("device_id,mac,hostname,ownership,assigned_to\n")
        for i in range(devices):
            mac = f"02:00:00:00:{i // 256:02x}:{i % 256:02x}"
            fh.write(f"LT-{i:04d},{mac},lt-{i},school_single,pupil{i}\n")
    end = int((DAY + timedelta(hours=10)).timestamp())
    with (folder / "leases").open("w") as fh:
        for i in range(devices):
            mac = f"02:00:00:00:{i // 256:02x}:{i % 256:02x}"
            fh.write(f"{end} {mac} 10.20.{i // 250}.{i % 250 + 2} lt-{i} *\n")


def write_dnsmasq(path: Path, n: int, devices: int, rng: random.Random) -> None:
    """As Pi-hole writes it: each query followed by its forwarded and reply lines (or one
    cached line), so about one line in three is a query."""
    with path.open("w") as fh:
        written = 0
        for i, host in enumerate(hosts(rng, n)):
            if written >= n:
                break
            ts = (DAY + timedelta(seconds=i * 25_000 / n)).astimezone(TZ)
            stamp = f"{ts:%b} {ts.day:2d} {ts:%H:%M:%S} dnsmasq[811]:"
            d = rng.randrange(devices)
            fh.write(f"{stamp} query[A] {host} from 10.20.{d // 250}.{d % 250 + 2}\n")
            if rng.random() < 0.4:
                fh.write(f"{stamp} cached {host} is 203.0.113.{rng.randrange(1, 254)}\n")
                written += 2
            else:
                fh.write(f"{stamp} forwarded {host} to 1.1.1.3\n")
                fh.write(f"{stamp} reply {host} is 203.0.113.{rng.randrange(1, 254)}\n")
                written += 3


def fixture_lines(fmt: str) -> list[bytes]:
    """A format's real fixture lines (for formats with a header, the files whole)."""
    folder = FIXTURES / fmt
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix != ".md")
    if fmt == "zeek":  # JSON logs only: TSV needs its header at the top of each file
        files = [p for p in files if p.suffix == ".json"]
    return [line + b"\n" for p in files for line in p.read_bytes().splitlines() if line.strip()]


def write_repeated(fmt: str) -> Callable[[Path, int, int, random.Random], None]:
    def write(path: Path, n: int, devices: int, rng: random.Random) -> None:
        lines = fixture_lines(fmt)
        with path.open("wb") as fh:
            for i in range(n):
                fh.write(lines[i % len(lines)])

    return write


def write_squid(path: Path, n: int, devices: int, rng: random.Random) -> None:
    with path.open("w") as fh:
        for i, host in enumerate(hosts(rng, n)):
            ts = DAY.timestamp() + i * 25_000 / n
            d = rng.randrange(devices)
            if rng.random() < 0.7:
                method, url = "CONNECT", f"{host}:443"
            else:
                method, url = "GET", f"http://{host}/page/{rng.randrange(1000)}"
            fh.write(
                f"{ts:.3f}    {rng.randrange(5, 900)} 10.20.{d // 250}.{d % 250 + 2} "
                f"TCP_MISS/200 {rng.randrange(300, 90000)} {method} {url} pupil{d} "
                "HIER_DIRECT/203.0.113.7 text/html\n"
            )


SEARCHES = [
    "how to draw a dragon",
    "minecraft seeds",
    "roblox promo codes",
    "year 5 fractions",
    "bbc bitesize ks2 maths",
    "why is the sky blue",
    "the tudors for kids",
    "fortnite skins",
    "how to make slime",
    "times tables games",
    "what time is it in australia",
    "volcano facts",
    "how many legs does a spider have",
    "premier league table",
    "kings and queens of england",
    "how to spell necessary",
    "famous artists for kids",
    "rainforest animals",
    "ks2 sats papers",
    "how do plants grow",
    "roman soldiers",
    "the water cycle",
    "space facts for kids",
]
TYPED = [
    "ok",
    "lol",
    "wanna play after school",
    "whats the homework",
    "i finished my story",
    "can you help me with number 4",
    "see you at lunch",
    "my turn next",
    "thats so funny",
    "the end of the chapter was sad",
    "we won the match",
    "what page are we on",
]
TITLES = [
    "Google Classroom",
    "Purple Mash - 2Code",
    "Times Tables Rock Stars",
    "BBC Bitesize - KS2",
    "Microsoft Word - My story.docx",
    "YouTube - How to draw a dragon",
    "Seesaw - Journal",
]
RISKY = [
    ("search", "how to kill myself"),
    ("typed_text", "dont tell your mum, send me a pic"),
    ("search", "free porn videos"),
    ("search", "where can i get ket"),
    ("typed_text", "im going to unalive myself"),
    ("search", "jak popełnić samobójstwo"),
]


RISK_RATE = [0.002]


def write_agent(path: Path, n: int, devices: int, rng: random.Random) -> None:
    """A school day of agent reports: searches, typed text and window titles from pupils'
    devices, about 1 in 500 a risk (``--risk-rate``)."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            ts = DAY + timedelta(seconds=i * 25_000 / n)
            d = rng.randrange(devices)
            if rng.random() < RISK_RATE[0]:
                kind, text = rng.choice(RISKY)
            else:
                kind = rng.choice(("search", "typed_text", "typed_text", "window_title"))
                pool = {"search": SEARCHES, "typed_text": TYPED, "window_title": TITLES}[kind]
                text = rng.choice(pool)
            data = {"search": {"engine": "google", "query": text}}.get(
                kind, {"title": text} if kind == "window_title" else {"text": text, "app": "teams"}
            )
            report = {
                "schema": "monitord.agent/1",
                "agent_id": f"agent{d}",
                "hostname": f"pc{d:03d}",
                "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "user": f"pupil{d}",
                "ip": f"10.20.{d // 250}.{d % 250 + 2}",
                "mac": None,
                "kind": kind,
                "data": data,
            }
            fh.write(json.dumps(report, ensure_ascii=False) + "\n")


WRITERS = {"dnsmasq": write_dnsmasq, "squid": write_squid, "agent": write_agent} | {
    fmt: write_repeated(fmt)
    for fmt in (
        *("bind", "unbound", "windows-dns", "adguard", "zeek", "suricata"),
        *("fortigate", "sophos", "panos", "umbrella", "e2guardian"),
    )
}


@dataclass(frozen=True)
class Run:
    """One ingest of a day: lines, wall and CPU seconds (the whole process), and the CPU
    seconds spent inside the text path (0 when text is not judged)."""

    lines: int
    wall: float
    cpu: float
    text_cpu: float


def run(
    root: Path, site: Path, fmt: str, log: Path, args: argparse.Namespace, text: bool, profile: bool
) -> Run:
    """Ingest ``log`` into a fresh site, as ``monitord ingest`` does, and print its speed."""
    config = init_dir(site)[0]
    if args.store:
        toml = config.read_text(encoding="utf-8")
        toml = toml.replace('url = "sqlite:///var/monitord.db"', f'url = "{store_url(args.store)}"')
        toml = toml.replace("[school]\n", f'[school]\nsite_id = "{fmt}"\n', 1)
        config.write_text(toml, encoding="utf-8")
    cfg = load_config(config)
    clock = FixedClock(DAY + timedelta(hours=12))
    app = open_app(cfg, clock)
    import_people(app.engine, root / "roster.csv", "bench", clock.now())
    import_devices(app.engine, root / "devices.csv", "bench", clock.now())
    app.engine.dispose()  # its connections closed, as a command's are when it ends
    app = open_app(cfg, clock)
    seen: list[tuple[Any, Any]] = []
    content = app.processor.content
    if not text or content is None:
        app.processor.content = None
    else:
        judged = content.classify

        def kept(ev: Any, person: Any) -> Any:
            seen.append((ev, person))  # replayed afterwards: a clock read here costs more
            return judged(ev, person)

        content.classify = kept  # type: ignore[method-assign]
    ingest_files(app, [root / "leases"], "dnsmasq-leases", "leases")
    forget_readings()
    storing = StoreThread(app, profile)
    server = backends_cpu(app) if on_server(args) else None
    profiler = cProfile.Profile(time.thread_time) if profile else None
    separate = False if profile or args.thread else True if args.process else None
    start, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
    children = children_cpu()
    if profiler:
        profiler.enable()
    result = ingest_files(app, [log], fmt, fmt, separate=separate)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - start
    # The storing process, once it has ended (``ingest_files`` waits for it).
    child = children_cpu() - children
    storing.cpu += child
    forked = child > 0
    cpu = time.process_time() - cpu + child
    main = time.thread_time() - main
    # CPU seconds (both threads) say more than wall time on a machine others share.
    print(
        f"{fmt:10s} {result.lines:>10,d} lines in {elapsed:6.2f} s = "
        f"{result.lines / elapsed:>9,.0f} lines/s, {result.lines / cpu:>9,.0f} a "
        f"CPU second ({result.events:,d} events, {result.rejected} rejected, "
        f"{result.alerts_opened} alerts; load average {os.getloadavg()[0]:.1f})"
        + ("" if text else "; text not judged"),
        flush=True,
    )
    print(
        f"{'':10s} storing {storing.cpu:.2f} CPU s in its "
        + ("process " if forked else "thread ")
        + f"({result.events / max(storing.cpu, 1e-9):,.0f} events a CPU second); "
        f"reading and judging {main:.2f} CPU s in the main thread",
        flush=True,
    )
    if on_server(args):
        after = backends_cpu(app)
        backends = after - server if after is not None and server is not None else 0.0
        print(
            f"{'':10s} the server's backends {backends:.2f} CPU s "
            f"({result.events / max(backends, 1e-9):,.0f} events a CPU second)"
            if after is not None
            else f"{'':10s} the server's backends: not on this machine",
            flush=True,
        )
    spent = replay(content, seen) if seen and content is not None else 0.0
    if args.digest:
        for table, (n, digest) in digests(
            args.store if on_server(args) else stored(args) or site / "var" / "monitord.db"
        ).items():
            print(f"  {fmt} {table:22s} {n:>9,d} rows  {digest}")
    if profiler:
        print("judging (the main thread), thread CPU time:")
        show(profiler)
    if storing.profiler:
        print("storing (its own thread), thread CPU time:")
        show(storing.profiler)
    return Run(result.lines, elapsed, cpu, spent)


def store_url(store: str) -> str:
    """``--store``'s URL: a PostgreSQL URL as given, a SQLite file (or its URL) made whole."""
    if store.startswith("postgresql"):
        return store
    return f"sqlite:///{Path(store.removeprefix('sqlite:///')).resolve()}"


def on_server(args: argparse.Namespace) -> bool:
    """Whether ``--store`` names a PostgreSQL database (whose server's CPU is counted)."""
    return bool(args.store) and store_url(args.store).startswith("postgresql")


def stored(args: argparse.Namespace) -> Path | None:
    """The SQLite file ``--store`` names, if it names one."""
    if not args.store or on_server(args):
        return None
    return Path(store_url(args.store).removeprefix("sqlite:///"))


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended: the storing process."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def show(profiler: cProfile.Profile) -> None:
    """A profile's costliest functions by their own time and with what they call."""
    for order in ("tottime", "cumulative"):
        pstats.Stats(profiler, stream=sys.stdout).sort_stats(order).print_stats(30)


class StoreThread:
    """The CPU seconds the storing thread spends in ``Processor.store`` (its batches'
    transactions: rows, lookups, alerts and their mail, the checkpoint); with ``profile``,
    a profile of that thread too."""

    def __init__(self, app: Any, profile: bool = False) -> None:
        self.cpu = 0.0
        self.profiler = cProfile.Profile(time.thread_time) if profile else None
        store = app.processor.store

        def timed(*a: Any, **k: Any) -> Any:
            began = time.thread_time()
            if self.profiler:
                self.profiler.enable()
            try:
                return store(*a, **k)
            finally:
                if self.profiler:
                    self.profiler.disable()
                self.cpu += time.thread_time() - began

        app.processor.store = timed


def backends_cpu(app: Any) -> float | None:
    """CPU seconds the PostgreSQL server has spent so far: its backends and helpers that run
    now and those that have ended (counted to the postmaster, which waited for them: the
    storing process's connections end with it); None when the server is not on this
    machine."""
    with app.engine.connect() as conn:
        backend = conn.execute(sql_text("SELECT pg_backend_pid()")).scalar_one()
    try:
        postmaster = int(_stat(backend)[1])
        own = _stat(postmaster)
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = (int(own[13]) + int(own[14])) / tick
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command's name (the state first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def replay(content: ContentClassifier, seen: list[tuple[Any, Any]]) -> float:
    """CPU seconds the text path takes over the reports an ingest gave it, replayed in a
    fresh classifier of the same lists (median of three): its own cost, without the other
    thread's."""
    times = []
    for _ in range(3):
        fresh = ContentClassifier(content.phrases, content.programs)
        forget_readings()
        start = time.process_time()
        for ev, person in seen:
            fresh.classify(ev, person)
        times.append(time.process_time() - start)
    return statistics.median(times)


def text_cost(root: Path, fmt: str, log: Path, args: argparse.Namespace) -> None:
    """What judging text costs an ingest: rounds with and without it alternated (ABBA, so
    that a drift in the machine's load falls on both), in one process; the cost as the
    median of each round's ratio of CPU times, and as the text path's own CPU time (its
    reports replayed alone) over the CPU time of the ingest without it (the steadier
    figure)."""
    with_text: list[float] = []
    without: list[float] = []
    own: list[float] = []
    lines = 0
    for r in range(args.rounds):
        order = (True, False) if r % 2 == 0 else (False, True)
        for text in order:
            site = root / f"site-{fmt}-{r}-{'text' if text else 'none'}"
            done = run(root, site, fmt, log, args, text, False)
            (with_text if text else without).append(done.cpu)
            lines = done.lines
            if text:
                own.append(done.text_cpu)
            shutil.rmtree(site, ignore_errors=True)
    ratios = [a / b - 1 for a, b in zip(with_text, without, strict=True)]
    base = statistics.median(without)
    share = [x / base for x in own]
    print(
        f"{fmt}: text judged {statistics.median(with_text):.2f} CPU s (median of "
        f"{len(with_text)}), not judged {statistics.median(without):.2f}; cost of the rounds "
        f"{', '.join(f'{x:+.1%}' for x in ratios)}, median {statistics.median(ratios):+.1%}; "
        f"the text path alone {statistics.median(own):.2f} CPU s "
        f"({statistics.median(own) / max(1, lines) * 1e6:.1f} us a report), "
        f"{', '.join(f'{x:.1%}' for x in share)} of the ingest without it, "
        f"median {statistics.median(share):.1%}",
        flush=True,
    )


def main() -> int:
    global DAY
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--formats", default="dnsmasq,squid")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="profile both threads (the storing then stays on a thread, as with --thread)",
    )
    ap.add_argument(
        "--thread",
        action="store_true",
        help="store on a thread of this process, not in a process of its own from the "
        "second batch on (by default: a process when a core is spare)",
    )
    ap.add_argument(
        "--process",
        action="store_true",
        help="store in a process of its own from the second batch on, whatever the load",
    )
    ap.add_argument(
        "--no-text",
        action="store_true",
        help="judge no text (searches, typing, titles): the baseline the text engine's cost "
        "is measured against",
    )
    ap.add_argument(
        "--store",
        metavar="URL",
        help="a store to ingest into (each format as a site of its own) instead of a fresh "
        "SQLite file each: a PostgreSQL database's URL, or a SQLite file, which may hold "
        "events already",
    )
    ap.add_argument(
        "--day",
        type=date.fromisoformat,
        default=DAY.date(),
        help="the day the generated traffic falls on (YYYY-MM-DD; from 08:30 UTC)",
    )
    ap.add_argument(
        "--risk-rate",
        type=float,
        default=0.002,
        help="the share of agent reports that are risks (each makes an alert)",
    )
    ap.add_argument(
        "--dir",
        type=Path,
        help="build the sites here and keep them (for bench/storesize.py) instead of in a "
        "temporary folder",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="measure what judging text costs: ingest the same day N times each with and "
        "without text judging, alternated (ABBA) in one process, and print the CPU time of "
        "each, the text path's own CPU time, and the median cost",
    )
    ap.add_argument(
        "--digest",
        action="store_true",
        help="print a digest of each table of each store after its ingest "
        "(bench/outcome.py), to show a change stored the same rows",
    )
    args = ap.parse_args()
    RISK_RATE[0] = args.risk_rate
    DAY = datetime.combine(args.day, DAY.timetz())
    rng = random.Random(1)
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.dir is not None:
            root = args.dir
            root.mkdir(parents=True, exist_ok=False)
        write_school(root, args.devices)
        for fmt in args.formats.split(","):
            log = root / f"{fmt}.log"
            WRITERS[fmt](log, args.lines, args.devices, rng)
            if args.rounds:
                text_cost(root, fmt, log, args)
            else:
                run(root, root / f"site-{fmt}", fmt, log, args, not args.no_text, args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
