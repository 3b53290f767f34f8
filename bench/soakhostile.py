"""The hostile part of bench/soak.py: poison records among the fed lines, and a flood of slow
clients against the agents' endpoint while the daemon is killed and started again.

Poison records are lines that once failed the whole batch they came in (and so stopped the
writer until a restart, which read them again): a NUL in a name (which PostgreSQL's text
cannot hold), a lone surrogate written as a JSON escape, a size past 64 bits, a time in the
year 9999. Each must now become exactly what the soak counts: an event (the value made
storable) or a rejected line (the time refused), never a stop.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

EVENT, REJECT = 1, 2  # as bench/soak.py counts them
Take = Callable[[int, int], int]
FAR = 253402300799  # 9999-12-31T23:59:59Z


def poison_dnsmasq(take: Take, i: int, stamp: str, client: str) -> list[str]:
    return [f"{stamp} dnsmasq[{take(i, EVENT)}]: query[A] www.\x00nul.example from {client}"]


def poison_squid(take: Take, i: int, t: float, client: str, pick: float) -> list[str]:
    if pick < 0.5:
        return [
            f"{FAR}.000 {take(i, REJECT)} {client} TCP_MISS/200 512 GET http://www.bbc.co.uk/ "
            "- HIER_DIRECT/104.16.1.1 text/html"
        ]
    return [
        f"{t:.3f} {take(i, EVENT)} {client} TCP_MISS/200 {2**70} GET "
        "http://www.bbc.co.uk/\x00x - HIER_DIRECT/104.16.1.1 text/html"
    ]


def poison_suricata(take: Take, i: int, stamp: str, client: str, flow: int, pick: float) -> str:
    head = f'{{"flow_id":{flow},"in_iface":"eth1","src_ip":"{client}","src_port":50126,'
    if pick < 0.34:
        far = datetime.fromtimestamp(FAR, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")
        return (
            f'{head}"timestamp":"{far}","pcap_cnt":{take(i, REJECT)},"event_type":"dns",'
            '"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{"type":"query",'
            f'"id":{flow % 65536},"rrname":"www.bbc.co.uk","rrtype":"A","tx_id":0}}}}'
        )
    name = "www.\\u0000nul.example" if pick < 0.67 else "lone\\ud800.example"
    return (
        f'{head}"timestamp":"{stamp}","pcap_cnt":{take(i, EVENT)},"event_type":"tls",'
        f'"dest_ip":"104.16.1.1","dest_port":443,"proto":"TCP","tls":{{"sni":"{name}",'
        '"version":"TLS 1.3"}}'
    )


class SlowFlood(threading.Thread):
    """``size`` slow clients against the agents' endpoint, from 127.0.0.2 to 127.0.0.21: each
    sends a request head a byte a second and never finishes it; one the server closes (its
    header timeout, or evicted for a newcomer) is opened again. Beside them, /v1/health is
    asked from 127.0.0.1 every two seconds."""

    HEAD = b"POST /v1/reports HTTP/1.1\r\nHost: monitord\r\nAuthorization: Bearer slow\r\nX-S: "

    def __init__(self, port: int, size: int) -> None:
        super().__init__(name="slow-flood", daemon=True)
        self.port = port
        self.size = size
        self.stop_asked = threading.Event()
        self.opened = self.closed = self.refused = 0
        self.probes = self.ok = self.unhealthy = self.down = self.unanswered = 0
        self.socks: list[tuple[socket.socket, int]] = []

    def run(self) -> None:
        n = 0
        next_probe = 0.0
        while not self.stop_asked.is_set():
            while len(self.socks) < self.size:
                n += 1
                s = socket.socket()
                s.settimeout(0.5)
                try:
                    s.bind((f"127.0.0.{2 + n % 20}", 0))
                    s.connect(("127.0.0.1", self.port))
                except OSError:
                    s.close()
                    self.refused += 1
                    break
                s.setblocking(False)
                self.socks.append((s, 0))
                self.opened += 1
            kept = []
            readable = {s for s, _ in self.socks}
            with contextlib.suppress(OSError, ValueError):
                readable = set(select.select(list(readable), [], [], 0)[0])
            for s, sent in self.socks:
                data = self.HEAD[sent : sent + 1] or b"x"
                try:
                    if s in readable and not s.recv(4096, socket.MSG_PEEK):
                        raise ConnectionResetError
                    if s in readable:
                        raise ConnectionAbortedError  # answered (408, 503): it is done with us
                    s.send(data)
                    kept.append((s, sent + 1))
                except OSError:
                    s.close()
                    self.closed += 1
            self.socks = kept
            if time.monotonic() >= next_probe:
                self._probe()
                next_probe = time.monotonic() + 2.0
            self.stop_asked.wait(1.0)
        for s, _ in self.socks:
            s.close()

    def _probe(self) -> None:
        self.probes += 1
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3)
        try:
            conn.request("GET", "/v1/health")
            status = conn.getresponse().status
            self.ok += status == 200
            self.unhealthy += status == 503
        except ConnectionRefusedError:
            self.down += 1
        except OSError:
            self.unanswered += 1
        finally:
            conn.close()

    def summary(self) -> str:
        return (
            f"slow clients: {self.size} held against the agents' endpoint ({self.opened:,} "
            f"connections opened, {self.closed:,} closed by monitord, {self.refused:,} refused "
            f"while it was down or full); /v1/health answered {self.ok:,} of {self.probes:,} "
            f"probes ({self.unhealthy} unhealthy, {self.down} while it was down, "
            f"{self.unanswered} unanswered)"
        )
