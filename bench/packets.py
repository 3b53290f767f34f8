"""Packet fast-path speed: packets/s from a pcap on one core.

    .venv/bin/python bench/packets.py [--packets N]

Writes a capture of N packets in a realistic mix for a school's mirror port (DNS queries and
their responses, TLS ClientHellos, HTTP requests, and mostly other TCP traffic that carries
nothing of interest), then times (1) reading and dissecting every packet with the pcap
parser's session and (2) the whole ingest into SQLite.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS
from scapy.packet import Raw
from scapy.utils import PcapWriter

from collectors.capture import iter_packets
from collectors.parsers.base import ParseContext
from collectors.parsers.pcap import PARSER
from monitord.core.clock import SystemClock
from monitord.service.app import ingest_files, open_app
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config

HOSTS = [
    "www.bbc.co.uk",
    "classroom.google.com",
    "teams.microsoft.com",
    "www.google.com",
    "play.ttrockstars.com",
    "www.youtube.com",
    "www.bet365.com",
    "app.seesaw.me",
]


def templates() -> list[bytes]:
    """A few dozen distinct packets of each kind, as bytes."""
    out: list[bytes] = []
    rng = random.Random(3)
    for i in range(40):
        host = rng.choice(HOSTS)
        client = f"10.20.{i % 4}.{10 + i}"
        q = DNS(id=i, rd=1, qd=DNSQR(qname=host))
        out.append(
            bytes(Ether() / IP(src=client, dst="10.20.0.1") / UDP(sport=30000 + i, dport=53) / q)
        )
        r = DNS(id=i, qr=1, qd=DNSQR(qname=host), an=DNSRR(rrname=host, rdata="203.0.113.9"))
        out.append(
            bytes(Ether() / IP(src="10.20.0.1", dst=client) / UDP(sport=53, dport=30000 + i) / r)
        )
        hello = TLS(
            msg=[
                TLSClientHello(ext=[TLS_Ext_ServerName(servernames=[ServerName(servername=host)])])
            ]
        )
        out.append(
            bytes(
                Ether()
                / IP(src=client, dst="203.0.113.9")
                / TCP(sport=40000 + i, dport=443, flags="PA")
                / hello
            )
        )
        req = f"GET /page/{i} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\n\r\n".encode()
        out.append(
            bytes(
                Ether()
                / IP(src=client, dst="203.0.113.9")
                / TCP(sport=41000 + i, dport=80, flags="PA")
                / Raw(req)
            )
        )
        for j in range(6):  # the bulk of a mirror port: data segments of other connections
            data = Raw(bytes(rng.randrange(256) for _ in range(rng.choice((0, 200, 1400)))))
            out.append(
                bytes(
                    Ether()
                    / IP(src="203.0.113.9", dst=client)
                    / TCP(sport=443, dport=40000 + j, flags="A")
                    / data
                )
            )
    return out


def write_capture(path: Path, n: int) -> None:
    packets = templates()
    writer = PcapWriter(str(path), linktype=1, sync=False)
    for i in range(n):
        writer.write(packets[i % len(packets)])
    writer.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--packets", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cap = Path(tmp) / "mirror.pcap"
        write_capture(cap, args.packets)
        session = PARSER.session()
        ctx_tz = load_config(init_dir(Path(tmp) / "site")[0]).tz
        start = time.perf_counter()
        events = 0
        for rec, _ in iter_packets(cap, "bench"):
            parsed = session.parse_bytes(rec.data, ParseContext(ctx_tz, rec.read_at, rec.origin))
            events += len(parsed.events)
        dissect = time.perf_counter() - start
        print(
            f"read + dissect: {args.packets:,} packets in {dissect:.2f} s = "
            f"{args.packets / dissect:,.0f} packets/s ({events:,} events)"
        )
        app = open_app(load_config(Path(tmp) / "site" / "monitord.toml"), SystemClock())
        start = time.perf_counter()
        result = ingest_files(app, [cap], "pcap", "mirror")
        whole = time.perf_counter() - start
        print(
            f"ingest (dissect, judge, store): {result.lines:,} packets in {whole:.2f} s = "
            f"{result.lines / whole:,.0f} packets/s ({result.events:,} events, "
            f"{result.rejected} rejected)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
