"""The daemon's resident memory with millions of listed domains loaded and a school day flowing.

    .venv/bin/python bench/daemon_memory.py [--domains 5000000] [--lines 440000]
                                            [--dir DIR] [--reuse] [--trace]

Builds a site with ``monitord init`` (the embedded defaults: starter lists, policy, phrases),
imports one list of N domains with ``monitord lists import --format domains`` (every real UT1
domain of ../shared/data/ut1 and synthetic names of the same shape, as bench/domain_index.py
makes them), the roster, the devices and their leases of bench/ingest.py's school, then runs
``monitord run`` following three empty logs (a Pi-hole dnsmasq log, a Squid access.log and a
file of agent reports) with an SMTP server on the loopback address for its mail. Once every
source is followed it appends a school day to them in steps of a hundredth as the daemon keeps
up (``--lines`` dnsmasq lines, half as many Squid lines and a tenth as many agent reports,
bench/ingest.py's generators: about 1 lookup in 200 on a listed site), until each source's
committed position is at the end of its file, then leaves the daemon idle for ``--idle`` s.

It samples the daemon's /proc status four times a second and prints VmRSS (with its anonymous
and file-backed parts) after start-up with the lists loaded, the largest VmRSS while the day
flows, VmHWM (the kernel's peak), and VmRSS after the day and after the idle time; with the
load average. With ``--trace``, the daemon runs under tracemalloc and writes a snapshot every
``TRACE_EVERY`` seconds; the last one, taken after the day, is printed by the lines that
allocated most of what is still held (tracemalloc sees Python's allocations and numpy's, not
SQLite's page cache: the difference from RssAnon is mostly that). Loopback only; the daemon
and the mail server are stopped before it exits.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

from aiosmtpd.controller import Controller
from alert_latency import free_port
from domain_index import SEED, UT1, synthetic
from ingest import ORDINARY, write_agent, write_dnsmasq, write_school, write_squid
from soak import Daemon, cli, mail_to_loopback, query

from collectors.files import identify
from monitord.service.initdir import init_dir

SOURCES = (("pihole", "dnsmasq", "pihole.log"), ("proxy", "squid", "access.log"))
SOURCES += (("agents", "agent", "agents.jsonl"),)
DEVICES = 500
# UT1's folders of what a school blocks; not its allow list, nor the broad folders (redirectors,
# shopping, audio-video, global usage) that hold the ordinary sites the day is made of.
FOLDERS = ("mixed_adult", "lingerie", "gambling", "dating", "drogue", "agressif", "hacking")
FOLDERS += ("malware", "vpn", "warez", "sect", "dangerous_material", "cryptojacking")
FOLDERS += ("stalkerware", "residential-proxies", "doh", "dynamic-dns")


def real_domains() -> list[str]:
    """UT1's domains of FOLDERS, without any the day's ordinary hosts fall under."""
    names: set[str] = set()
    for folder in FOLDERS:
        path = UT1 / folder / "domains"
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                s = line.strip().lower()
                if s and not s.startswith("#") and s.isascii():
                    names.add(s)
    for host in ORDINARY:
        labels = host.split(".")
        names.difference_update(".".join(labels[i:]) for i in range(len(labels)))
    return sorted(names)


TRACE_EVERY = 20.0
# The daemon under tracemalloc: a thread writes a snapshot to argv[1] every TRACE_EVERY s.
TRACED = f"""
import sys, threading, tracemalloc
tracemalloc.start(8)
def dump():
    while True:
        threading.Event().wait({TRACE_EVERY})
        tracemalloc.take_snapshot().dump(sys.argv[1] + ".new")
        __import__("os").replace(sys.argv[1] + ".new", sys.argv[1])
threading.Thread(target=dump, daemon=True).start()
from monitord.cli.main import main
sys.argv = ["monitord", *sys.argv[2:]]
raise SystemExit(main())
"""


class Traced(Daemon):
    """``monitord run`` under tracemalloc, its snapshots written to ``snapshot``."""

    def __init__(self, config: Path, log: Path, snapshot: Path) -> None:
        super().__init__(config, log)
        self.snapshot = snapshot

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-c", TRACED, str(self.snapshot)]
        cmd += ["--config", str(self.config), "run"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.starts += 1


def show_trace(snapshot: Path, top: int = 20) -> None:
    """What the daemon's Python code still holds, by the line that allocated it."""
    snap = tracemalloc.Snapshot.load(str(snapshot)).filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    stats = snap.statistics("lineno")
    total = sum(s.size for s in stats)
    print(f"tracemalloc: {total / 2**20:,.1f} MB held by Python and numpy allocations")
    for stat in stats[:top]:
        frame = stat.traceback[0]
        print(
            f"  {stat.size / 2**20:7.1f} MB {stat.count:>9,d} blocks  "
            f"{frame.filename}:{frame.lineno}"
        )
    by_file = snap.statistics("filename")
    print("by file:")
    for stat in by_file[:10]:
        print(f"  {stat.size / 2**20:7.1f} MB  {stat.traceback[0].filename}")


class Sink:
    """Accepts every message and counts it."""

    def __init__(self) -> None:
        self.messages = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages += 1
        return "250 OK"


class Sampler(threading.Thread):
    """The daemon's VmRSS, RssAnon, RssFile and VmHWM (kB), four times a second."""

    KEYS = ("VmRSS", "RssAnon", "RssFile", "VmHWM")

    def __init__(self, pid: int) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.peak: dict[str, int] = dict.fromkeys(self.KEYS, 0)
        self.samples = 0

    def now(self) -> dict[str, int]:
        out: dict[str, int] = {}
        try:
            status = Path(f"/proc/{self.pid}/status").read_text(encoding="ascii")
        except OSError:
            return out
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key in self.KEYS:
                out[key] = int(value.split()[0])
        return out

    def run(self) -> None:
        while not self.stop.is_set():
            for key, kb in self.now().items():
                self.peak[key] = max(self.peak[key], kb)
            self.samples += 1
            self.stop.wait(0.25)


def mb(status: dict[str, int]) -> str:
    return ", ".join(f"{k} {status.get(k, 0) / 1024:,.0f}" for k in Sampler.KEYS) + " MB"


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def build(root: Path, n_domains: int, smtp_port: int) -> Path:
    """The site with its lists, roster, devices and leases; the config's path."""
    if root.exists():
        shutil.rmtree(root)
    config = init_dir(root / "site")[0]
    logs = root / "logs"
    logs.mkdir()
    text = mail_to_loopback(config.read_text(encoding="utf-8"), smtp_port)
    text += "\n[alerts]\nmax_mails_per_hour = 0\n\n[pipeline]\npoll_interval = 0.5\n"
    for name, fmt, file in SOURCES:
        text += (
            f'\n[[sources]]\nname = "{name}"\nformat = "{fmt}"\npath = "{logs / file}"\n'
            'max_silence = "2h"\n'
        )
    config.write_text(text, encoding="utf-8")
    for _, _, file in SOURCES:
        (logs / file).touch()

    t = time.perf_counter()
    real = real_domains()
    names = real + synthetic(n_domains - len(real), SEED)
    listing = root / "listed-domains.txt"
    listing.write_text("\n".join(names) + "\n", encoding="utf-8")
    del names
    print(
        f"list: {n_domains:,} domains ({len(real):,} real UT1, the rest synthetic), made in "
        f"{time.perf_counter() - t:.1f} s",
        flush=True,
    )
    t = time.perf_counter()
    said = cli(
        config,
        "lists",
        "import",
        str(listing),
        "--format",
        "domains",
        "--category",
        "pornography",
        "--name",
        "bench-adult",
    )
    print(f"lists import: {time.perf_counter() - t:.1f} s ({said.splitlines()[-1]})", flush=True)
    listing.unlink()

    write_school(root, DEVICES)
    cli(config, "people", "import", str(root / "roster.csv"))
    cli(config, "devices", "import", str(root / "devices.csv"))
    cli(config, "ingest", str(root / "leases"), "--format", "dnsmasq-leases")
    return config


def reuse(root: Path, smtp_port: int) -> Path:
    """The site as ``build`` left it (kept in ``built``), its logs empty again, mail to
    ``smtp_port``; the config's path."""
    shutil.rmtree(root / "site")
    shutil.copytree(root / "built", root / "site", symlinks=True)
    for _, _, file in SOURCES:
        (root / "logs" / file).write_bytes(b"")
    config = root / "site" / "monitord.toml"
    text = re.sub(r"(?m)^port = \d+$", f"port = {smtp_port}", config.read_text(encoding="utf-8"))
    config.write_text(text, encoding="utf-8")
    print(f"reusing the site and day built in {root}", flush=True)
    return config


def day_files(root: Path, lines: int) -> dict[str, Path]:
    """The day's lines per source, written aside to be appended in steps."""
    rng = random.Random(18)
    made = root / "day"
    made.mkdir(exist_ok=True)
    counts = {"dnsmasq": lines, "squid": lines // 2, "agent": lines // 10}
    writers = {"dnsmasq": write_dnsmasq, "squid": write_squid, "agent": write_agent}
    out = {}
    for name, fmt, _ in SOURCES:
        path = made / f"{name}.log"
        writers[fmt](path, counts[fmt], DEVICES, rng)
        out[name] = path
    return out


def positions(db: Path) -> dict[str, tuple[str, int]]:
    return {
        str(r[0]): (str(r[1]), int(r[2]))
        for r in query(db, "SELECT source, file_id, offset FROM checkpoints")
    }


def caught_up(db: Path, followed: dict[str, Path]) -> bool:
    done = positions(db)
    return all(
        done.get(name) == (identify(path), path.stat().st_size) for name, path in followed.items()
    )


def behind(db: Path, followed: dict[str, Path]) -> int:
    """Bytes written that the daemon has not committed yet."""
    done = positions(db)
    return sum(path.stat().st_size - done.get(name, ("", 0))[1] for name, path in followed.items())


def feed(db: Path, data: dict[str, list[bytes]], followed: dict[str, Path], steps: int) -> None:
    """Append the day's lines in ``steps`` slices, each when the daemon holds under two."""
    size = sum(len(line) for lines in data.values() for line in lines)
    for step in range(steps):
        while behind(db, followed) > 2 * size / steps:
            time.sleep(0.1)
        for name, lines in data.items():
            a, b = len(lines) * step // steps, len(lines) * (step + 1) // steps
            with followed[name].open("ab") as fh:
                fh.write(b"".join(lines[a:b]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--domains", type=int, default=5_000_000)
    ap.add_argument("--lines", type=int, default=440_000, help="dnsmasq lines of the day")
    ap.add_argument("--idle", type=float, default=20.0)
    ap.add_argument("--dir", type=Path, default=Path("var/bench-memory"))
    ap.add_argument("--trace", action="store_true", help="run the daemon under tracemalloc")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="start from the site and day an earlier run with the same --dir built",
    )
    args = ap.parse_args()
    root = args.dir.resolve()
    sink = Sink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)  # type: ignore[arg-type]
    smtp.start()
    if args.reuse and (root / "built").is_dir():
        config = reuse(root, smtp_port)
    else:
        config = build(root, args.domains, smtp_port)
        day_files(root, args.lines)
        shutil.copytree(root / "site", root / "built", symlinks=True)
    db = root / "site" / "var" / "monitord.db"
    day = {name: root / "day" / f"{name}.log" for name, _, _ in SOURCES}
    followed = {name: root / "logs" / file for name, _, file in SOURCES}
    print(load(), flush=True)
    snapshot = root / "daemon.trace"
    daemon = (
        Traced(config, root / "daemon.log", snapshot)
        if args.trace
        else Daemon(config, root / "daemon.log")
    )
    daemon.start()
    assert daemon.proc is not None
    sampler = Sampler(daemon.proc.pid)
    sampler.start()
    try:
        t = time.perf_counter()
        # A first line each, so that every source commits a position once it follows.
        for name, path in day.items():
            with path.open("rb") as src, followed[name].open("ab") as dst:
                dst.write(src.readline())
        while not caught_up(db, followed):
            if not daemon.alive():
                raise SystemExit(f"monitord run exited {daemon.exit_status()}; see daemon.log")
            time.sleep(0.25)
        started = sampler.now()
        print(f"started and following in {time.perf_counter() - t:.1f} s: {mb(started)}")
        t = time.perf_counter()
        # the first lines were fed already
        rest = {name: path.read_bytes().splitlines(keepends=True)[1:] for name, path in day.items()}
        feed(db, rest, followed, 100)
        del rest
        while not caught_up(db, followed):
            if not daemon.alive():
                raise SystemExit(f"monitord run exited {daemon.exit_status()}; see daemon.log")
            time.sleep(0.25)
        took = time.perf_counter() - t
        fed = sum(len(p.read_bytes().splitlines()) for p in followed.values())
        after = sampler.now()
        events = query(db, "SELECT count(*) FROM events")[0][0]
        alerts = query(db, "SELECT count(*) FROM alerts")[0][0]
        print(
            f"the day: {fed:,} lines in {took:.1f} s ({fed / took:,.0f} lines/s), "
            f"{events:,} events, {alerts:,} alerts, {sink.messages} mails; {load()}"
        )
        print(f"largest while flowing: {mb(sampler.peak)}")
        print(f"after the day: {mb(after)}")
        time.sleep(args.idle)
        print(f"after {args.idle:.0f} s idle: {mb(sampler.now())}; {load()}")
        if args.trace:
            snapshot.unlink(missing_ok=True)
            while not snapshot.exists():
                time.sleep(1)
            show_trace(snapshot)
    finally:
        sampler.stop.set()
        status = daemon.terminate() if daemon.alive() else daemon.exit_status()
        smtp.stop()
    print(f"monitord run exited {status}; {sampler.samples} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
