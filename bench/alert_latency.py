"""Alert latency: from a line appended to a followed log to the alert mail at the SMTP server.

Runs the real daemon (``python -m monitord --config ... run``) following a dnsmasq log, with
mail going to an aiosmtpd server in this process on the loopback address. A roster of pupils,
each with a school laptop and a DHCP lease, is imported first; then lines that open high
(pornography) or critical (child_abuse, from a list imported for the run) alerts are appended
one at a time, each from a different pupil so that none groups with another, with ordinary
lookups in between. The latency of an alert is the time from the append of its line until
the server has its message.

    .venv/bin/python bench/alert_latency.py --alerts 250

Loopback only; the daemon is stopped with SIGTERM at the end (killed if it does not stop).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller

from monitord.service.initdir import init_dir

ROOT = Path(__file__).resolve().parent.parent


class Mailbox:
    """Keeps each message's arrival time and bytes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrived: list[tuple[float, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.monotonic()
        with self.lock:
            self.arrived.append((now, bytes(envelope.original_content)))
        return "250 2.0.0 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def monitord(config: Path, *args: str) -> None:
    cmd = [sys.executable, "-m", "monitord", "--config", str(config), *args]
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def build_site(folder: Path, pupils: int, port: int, tz: ZoneInfo) -> tuple[Path, Path]:
    config = init_dir(folder / "site")[0]
    log = folder / "dnsmasq.log"
    log.write_text("", encoding="utf-8")
    text = config.read_text(encoding="utf-8")
    for old, new in (
        ('host = ""', 'host = "127.0.0.1"'),
        ("port = 587", f"port = {port}"),
        ('security = "starttls"', 'security = "none"'),
    ):
        text = text.replace(old, new, 1)
    text += (
        "\n[alerts]\nmax_mails_per_hour = 0\n\n[pipeline]\npoll_interval = 0.5\n\n"
        f'[[sources]]\nname = "resolver"\nformat = "dnsmasq"\npath = "{log}"\n'
    )
    config.write_text(text, encoding="utf-8")
    people = ["username,display_name,role,year_group,class,email"]
    devices = ["device_id,mac,hostname,ownership,assigned_to"]
    leases = []
    expiry = int((datetime.now(tz) + timedelta(hours=12)).timestamp())
    for i in range(pupils):
        mac = f"02:00:00:00:{i // 256:02x}:{i % 256:02x}"
        people.append(f"p{i:04d},Pupil {i:04d} Example,pupil,{1 + i % 6},C{i % 12},")
        devices.append(f"LT-{i:04d},{mac},lt-{i:04d},school_single,p{i:04d}")
        leases.append(f"{expiry} {mac} 10.{20 + i // 250}.{i % 250}.10 lt-{i:04d} *")
    for name, rows in (("people.csv", people), ("devices.csv", devices), ("leases", leases)):
        (folder / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "abuse.txt").write_text("csam-bench.invalid\n", encoding="utf-8")
    monitord(config, "people", "import", str(folder / "people.csv"))
    monitord(config, "devices", "import", str(folder / "devices.csv"))
    monitord(config, "ingest", str(folder / "leases"), "--format", "dnsmasq-leases")
    monitord(
        config,
        "lists",
        "import",
        str(folder / "abuse.txt"),
        "--format",
        "domains",
        "--category",
        "child_abuse",
    )
    return config, log


def wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def run(alerts: int, interval: float, noise: int) -> dict[str, Any]:
    tz = ZoneInfo("Europe/London")
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    folder = Path(tempfile.mkdtemp(prefix="monitord-latency-"))
    config, log = build_site(folder, alerts, port, tz)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitord", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output: list[str] = []
    reader = threading.Thread(
        target=lambda: output.extend(iter(daemon.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    rng = random.Random(7)
    appended: dict[str, float] = {}
    try:
        if not wait_for(lambda: any("monitord running" in line for line in output), 60):
            raise SystemExit("the daemon did not start:\n" + "".join(output))
        time.sleep(1.0)  # let the follower open the log
        with log.open("a", encoding="utf-8") as fh:
            for i in range(alerts):
                for _ in range(noise):
                    ip = f"10.{20 + (j := rng.randrange(alerts)) // 250}.{j % 250}.10"
                    stamp = datetime.now(tz).strftime("%b %d %H:%M:%S")
                    fh.write(f"{stamp} dnsmasq[811]: query[A] www.bbc.co.uk from {ip}\n")
                host = f"a{i}.csam-bench.invalid" if i % 10 == 0 else f"a{i}.pornhub.com"
                stamp = datetime.now(tz).strftime("%b %d %H:%M:%S")
                line = (
                    f"{stamp} dnsmasq[811]: query[A] {host} from 10.{20 + i // 250}.{i % 250}.10\n"
                )
                appended[f"a{i}"] = time.monotonic()
                fh.write(line)
                fh.flush()
                time.sleep(interval)
        wait_for(lambda: len(mailbox.arrived) >= alerts, 60)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        controller.stop()
    latencies: list[float] = []
    seen: set[str] = set()
    with mailbox.lock:
        arrived = list(mailbox.arrived)
    for when, data in arrived:
        m = re.search(rb"\b(a\d+)\[\.\](?:csam-bench\[\.\]invalid|pornhub\[\.\]com)", data)
        if m is None:
            continue
        key = m.group(1).decode()
        if key in appended and key not in seen:
            seen.add(key)
            latencies.append(when - appended[key])
    latencies.sort()
    if not latencies:
        raise SystemExit("no alert mail arrived:\n" + "".join(output[-30:]))
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    return {
        "alerts": alerts,
        "mailed": len(latencies),
        "messages": len(arrived),
        "median_s": statistics.median(latencies),
        "p99_s": p99,
        "max_s": latencies[-1],
        "min_s": latencies[0],
        "interval_s": interval,
        "noise": noise,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--alerts", type=int, default=250, help="alerts to open (default 250)")
    p.add_argument("--interval", type=float, default=0.05, help="seconds between alert lines")
    p.add_argument("--noise", type=int, default=5, help="ordinary lookups before each alert line")
    a = p.parse_args()
    r = run(a.alerts, a.interval, a.noise)
    print(
        f"{r['mailed']}/{r['alerts']} alerts mailed ({r['messages']} messages); latency "
        f"median {r['median_s'] * 1000:.0f} ms, p99 {r['p99_s'] * 1000:.0f} ms, "
        f"min {r['min_s'] * 1000:.0f} ms, max {r['max_s'] * 1000:.0f} ms "
        f"(one alert line every {r['interval_s'] * 1000:.0f} ms, {r['noise']} ordinary "
        "lookups before each)"
    )


if __name__ == "__main__":
    main()
