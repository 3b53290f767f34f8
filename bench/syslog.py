"""Syslog received, parsed and stored end to end by the real daemon, from 50 senders.

    .venv/bin/python bench/syslog.py                         # UDP and TCP at 5,000 and 20,000/s
    .venv/bin/python bench/syslog.py --seconds 5 --rates 5000 --protocols udp

For each protocol and rate: a fresh ``monitord init`` site with one listening source
(``format = "syslog"``) on a loopback port, ``monitord run``, and 50 senders, each on an
address of its own (127.0.0.2 to 127.0.0.51, so the listener sees 50 senders), sending
numbered dnsmasq query lines with an RFC 3164 envelope at the given total rate for the given
time (TCP: one connection each, newline framing). Every message is a query, so every one
must become an event: when the senders are done, it waits until the store stops growing and
counts the events against what was sent (lost, doubled), per sender too, and reads the
kernel's and monitord's drop counts. It prints the rate the senders held, the rate stored
end to end (first message sent to last stored), how long the store took to catch up after
the senders stopped, the daemon's CPU time from the first message sent (user and system,
from /proc) and the events it
stored per CPU second (what it would do with a core to itself, on a shared machine), and the
loss. Loopback only; every process it starts is stopped.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitord.service.initdir import init_dir  # noqa: E402

SENDERS = 50
PROCESSES = 5  # sending processes, each with SENDERS // PROCESSES senders


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message(sender: int, n: int) -> bytes:
    stamp = time.strftime("%b %e %H:%M:%S")
    return (
        f"<30>{stamp} pi{sender} dnsmasq[{sender}]: query[A] n{n}.s{sender}.example "
        f"from 10.1.{sender}.{n % 250 + 1}\n"
    ).encode()


def send(
    proto: str, port: int, senders: list[int], rate: float, seconds: float, out: mp.Queue
) -> None:  # type: ignore[type-arg]
    """One sending process: its senders share ``rate`` messages/s for ``seconds``."""
    socks = []
    for k in senders:
        kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        s = socket.socket(socket.AF_INET, kind)
        s.bind((f"127.0.0.{k + 2}", 0))
        if proto == "tcp":
            s.connect(("127.0.0.1", port))
        socks.append(s)
    sent = [0] * len(senders)
    start = time.monotonic()
    while (now := time.monotonic() - start) < seconds:
        total = sum(sent)
        while total < rate * now:  # catch up with the schedule, then sleep a little
            i = total % len(senders)
            data = message(senders[i], sent[i])
            if proto == "udp":
                socks[i].sendto(data, ("127.0.0.1", port))
            else:
                socks[i].sendall(data)
            sent[i] += 1
            total += 1
        time.sleep(0.005)
    for s in socks:
        s.close()
    out.put((dict(zip(senders, sent, strict=True)), time.monotonic() - start))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used (its own and its threads')."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return int(
                conn.execute("SELECT count(*) FROM events WHERE source = 'bench'").fetchone()[0]
            )
    except sqlite3.OperationalError:
        return 0


def run(proto: str, rate: int, seconds: float, workdir: Path) -> dict[str, object]:
    site = workdir / f"{proto}-{rate}"
    config = init_dir(site)[0]
    port = free_port(socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
    with config.open("a", encoding="utf-8") as fh:
        fh.write(
            f'\n[[sources]]\nname = "bench"\nformat = "syslog"\n'
            f'listen = "{proto}://127.0.0.1:{port}"\nallow = ["127.0.0.0/8"]\n'
        )
    db = site / "var" / "monitord.db"
    log = (site / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitord", "--config", str(config), "run"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while "bench: listening on" not in (site / "daemon.log").read_text():
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise SystemExit(f"monitord did not start:\n{(site / 'daemon.log').read_text()}")
            time.sleep(0.1)
        cpu_before = cpu_seconds(daemon.pid)  # start-up (imports, schema, lists) left out
        queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        groups = [list(range(p, SENDERS, PROCESSES)) for p in range(PROCESSES)]
        t0 = time.monotonic()
        procs = [
            mp.Process(target=send, args=(proto, port, g, rate / PROCESSES, seconds, queue))
            for g in groups
        ]
        for p in procs:
            p.start()
        sent_by: dict[int, int] = {}
        for _ in procs:
            got, _elapsed = queue.get()
            sent_by.update(got)
        for p in procs:
            p.join()
        sent_for = time.monotonic() - t0
        sent = sum(sent_by.values())
        # Wait until everything is stored, or nothing more arrives for 10 s.
        last, last_change = -1, time.monotonic()
        while True:
            stored = count(db)
            if stored != last:
                last, last_change = stored, time.monotonic()
            if stored >= sent or time.monotonic() - last_change > 10:
                break
            time.sleep(0.2)
        done = last_change - t0
        cpu = cpu_seconds(daemon.pid) - cpu_before
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
    with sqlite3.connect(db) as conn:
        stored = count(db)
        distinct = conn.execute(
            "SELECT count(DISTINCT domain) FROM events WHERE source = 'bench'"
        ).fetchone()[0]
        per_sender = dict(
            conn.execute(
                "SELECT substr(file_id, 5, instr(file_id, '@') - 5), count(*) FROM events "
                "WHERE source = 'bench' GROUP BY file_id"
            ).fetchall()
        )
        drops = dict(
            conn.execute(
                "SELECT name, count FROM source_counts WHERE source = 'bench' AND kind = 'dropped'"
            ).fetchall()
        )
    kernel = drops.pop("kernel", 0)
    shares = [per_sender.get(f"127.0.0.{k + 2}", 0) / max(1, sent_by[k]) for k in sent_by]
    return {
        "protocol": proto,
        "rate asked": rate,
        "sent": sent,
        "sent/s": round(sent / sent_for),
        "stored": stored,
        "stored/s": round(stored / max(done, 1e-9)),
        "catch-up s": round(max(0.0, done - sent_for), 1),
        "daemon CPU s": round(cpu, 1),
        "stored per CPU s": round(stored / max(cpu, 1e-9)),
        "lost": sent - distinct,
        "doubled": stored - distinct,
        "kernel drops": kernel,
        "sender drops": sum(drops.values()),
        "worst sender kept": f"{min(shares):.1%}",
        "best sender kept": f"{max(shares):.1%}",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rates", default="5000,20000", help="total messages/s, comma separated")
    ap.add_argument("--protocols", default="udp,tcp")
    ap.add_argument("--seconds", type=float, default=10.0, help="how long the senders send")
    ap.add_argument("--dir", type=Path, help="keep the sites here (default: a temporary folder)")
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="monitord-bench-syslog-") as tmp:
        workdir = args.dir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        rows = []
        for proto in args.protocols.split(","):
            for rate in (int(r) for r in args.rates.split(",")):
                row = run(proto, rate, args.seconds, workdir)
                rows.append(row)
                print(
                    "  ".join(
                        f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in row.items()
                    ),
                    flush=True,
                )
    keys = list(rows[0])
    print("\n| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print(
            "| "
            + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row.values())
            + " |"
        )
    return 1 if any(r["doubled"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
