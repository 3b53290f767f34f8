"""The agents' endpoint under a flood of slow and junk connections, over loopback.

    .venv/bin/python bench/endpoint_flood.py [--addresses N] [--per-address N] [--seconds S]

Starts the real endpoint (a fresh SQLite store, one enrolled agent, the default limits but a
header timeout of ``--header-timeout``) and, for ``--seconds``, keeps ``--per-address``
slowloris connections open from each of ``--addresses`` loopback addresses (127.0.1.x: a
request line and one header byte every second, reopened when closed) while another address
sends garbage and a well-behaved agent (127.0.0.9) posts one report every 50 ms. Prints the
agent's answers and latencies, the connections refused and closed, the log lines the
endpoint wrote and the process's peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.agent_http import AgentEndpoint, IngestSettings
from collectors.httpserve import Limits, Server
from monitord.core.clock import SystemClock
from monitord.identity.agents import add_agent
from monitord.identity.roster import import_devices
from monitord.service.app import open_app
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config


class Counting(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1


def report() -> bytes:
    line = {
        "schema": "monitord.agent/1",
        "agent_id": "y6-lt-07",
        "hostname": "Y6-LT-07",
        "ts": datetime.now(UTC).isoformat(timespec="seconds"),
        "user": "jayden.s",
        "ip": None,
        "mac": None,
        "kind": "search",
        "data": {"engine": "google", "query": "homework help"},
    }
    return (json.dumps(line) + "\n").encode()


async def slowloris(
    port: int, source: str, until: float, stats: dict[str, int], dribble: bool
) -> None:
    """A connection that begins a request and never finishes it (with ``dribble``, sending
    one more header byte every second), opened again whenever the server closes it."""
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)
            )
        except OSError:
            stats["connect_failed"] += 1
            await asyncio.sleep(0.5)
            continue
        stats["opened"] += 1
        writer.write(b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nX-A: ")
        try:
            while time.monotonic() < until:
                if dribble:
                    writer.write(b"a")
                try:
                    got = await asyncio.wait_for(reader.read(1024), 1.0)
                except TimeoutError:
                    continue
                if not got:
                    stats["closed_by_server"] += 1
                    break
        except OSError:
            stats["closed_by_server"] += 1
        finally:
            writer.close()
        await asyncio.sleep(0.05)


async def junk(port: int, until: float, stats: dict[str, int]) -> None:
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=("127.0.2.1", 0)
            )
            writer.write(b"\x16\x03\x01 junk junk\r\n\r\n")
            await asyncio.wait_for(reader.read(), 5)
            writer.close()
            stats["junk"] += 1
        except (OSError, TimeoutError):
            stats["junk_failed"] += 1
        await asyncio.sleep(0.01)


async def agent(
    port: int, token: str, until: float, latencies: list[float], codes: dict[str, int]
) -> None:
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=("127.0.0.9", 0)
            )
            body = report()
            writer.write(
                f"POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            status = (await asyncio.wait_for(reader.readline(), 5)).split()[1].decode()
            writer.close()
            latencies.append(time.monotonic() - started)
            codes[status] = codes.get(status, 0) + 1
        except (OSError, TimeoutError, IndexError):
            codes["no answer"] = codes.get("no answer", 0) + 1
        await asyncio.sleep(0.05)


async def flood(port: int, addresses: int, per_address: int, seconds: float) -> None:
    """The slow clients, in a process of their own (as they would be on other machines)."""
    stats = dict.fromkeys(("opened", "closed_by_server", "connect_failed"), 0)
    until = time.monotonic() + seconds
    await asyncio.gather(
        *(
            slowloris(port, f"127.0.1.{a + 1}", until, stats, dribble=bool(i % 2))
            for a in range(addresses)
            for i in range(per_address)
        )
    )
    print(json.dumps(stats))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flood-port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--addresses", type=int, default=8)
    ap.add_argument("--per-address", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--header-timeout", type=float, default=5.0)
    args = ap.parse_args()
    if args.flood_port:
        await flood(args.flood_port, args.addresses, args.per_address, args.seconds)
        return
    counting = Counting()
    logging.getLogger("monitord").addHandler(counting)
    logging.getLogger("monitord").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        config = init_dir(Path(tmp) / "site")[0]
        cfg = load_config(config)
        clock = SystemClock()
        app = open_app(cfg, clock)
        devices = Path(tmp) / "devices.csv"
        devices.write_text(
            "device_id,mac,hostname,ownership,assigned_to\ny6-lt-07,,Y6-LT-07,school_shared,\n"
        )
        import_devices(app.engine, devices, "bench", clock.now())
        token = add_agent(app.engine, "y6-lt-07", "bench", clock.now(), "y6-lt-07")
        limits = Limits(header_timeout=args.header_timeout)
        settings = IngestSettings(Path(tmp) / "spool", Path(tmp) / "evidence", limits=limits)
        server: Server = await AgentEndpoint(app.engine, clock, settings, cfg.tz).serve(
            "127.0.0.1", 0, None
        )
        stats = dict.fromkeys(
            ("opened", "closed_by_server", "connect_failed", "junk", "junk_failed"), 0
        )
        latencies: list[float] = []
        codes: dict[str, int] = {}
        until = time.monotonic() + args.seconds
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while time.monotonic() < until:
                peak = max(peak, server.open_connections)
                await asyncio.sleep(0.1)

        flooder = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--flood-port",
            str(server.port),
            "--addresses",
            str(args.addresses),
            "--per-address",
            str(args.per_address),
            "--seconds",
            str(args.seconds),
            stdout=asyncio.subprocess.PIPE,
        )
        started = time.monotonic()
        await asyncio.gather(
            junk(server.port, until, stats),
            agent(server.port, token, until, latencies, codes),
            watch(),
        )
        out, _ = await flooder.communicate()
        stats.update(json.loads(out))
        took = time.monotonic() - started
        await server.close()
    latencies.sort()
    print(
        f"flood: {args.addresses} addresses x {args.per_address} slow connections, "
        f"header timeout {args.header_timeout:g} s, {took:.1f} s"
    )
    print(
        f"slow connections opened {stats['opened']}, closed by the server "
        f"{stats['closed_by_server']}, refused at accept {server.refused}, peak open {peak}"
    )
    print(f"junk requests answered {stats['junk']}, failed {stats['junk_failed']}")
    if latencies:
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"agent: {codes} latency median {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms"
        )
    else:
        print(f"agent: {codes}")
    print(f"slow connections evicted for newcomers {server.evicted}")
    print(f"log lines written by monitord: {counting.lines}")
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
