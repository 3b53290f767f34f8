"""Packets in: pcap and pcapng files for ``ingest --format pcap``, and live capture on an
interface for a ``[[sources]]`` with ``interface``.

Live capture runs scapy's socket in a thread, never on the event loop, with the configured
BPF filter, and reports the kernel's drop count. Linux packet sockets give Ethernet framing
on Ethernet and loopback interfaces alike. Without CAP_NET_RAW it fails with one line
that says what to grant.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collectors.parsers.base import Batch
from collectors.parsers.packets import ETHERNET
from collectors.parsers.pcap import pack_record
from monitord.core.clock import Clock
from monitord.core.model import Checkpoint, Origin, RawRecord

log = logging.getLogger("monitord.capture")
PACKET_STATISTICS = 6  # SOL_PACKET option (linux/if_packet.h)
SOL_PACKET = 263


class CaptureError(Exception):
    """A capture that cannot start; the message says what to do."""


def capture_identity(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.blake2b(fh.read(4096), digest_size=16).hexdigest()


def iter_packets(
    path: Path, source: str, *, now: datetime | None = None
) -> Iterator[tuple[RawRecord, int]]:
    """Each packet of a pcap or pcapng file as a RawRecord (its offset is its index)."""
    from scapy.utils import RawPcapReader  # imported only when packets are read

    read_at = now or datetime.now(UTC)
    mtime = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    file_id = capture_identity(path)
    reader: Any = RawPcapReader(str(path))
    try:
        nano = bool(getattr(reader, "nano", False))
        for index, (frame, meta) in enumerate(reader):
            if hasattr(meta, "tsresol"):  # pcapng
                linktype = int(meta.linktype)
                if meta.tshigh is None:
                    ts = mtime.timestamp()
                else:
                    ts = ((int(meta.tshigh) << 32) + int(meta.tslow)) / float(meta.tsresol)
            else:
                linktype = int(reader.linktype)
                ts = meta.sec + meta.usec / (1e9 if nano else 1e6)
            origin = Origin(source, file_id, index, str(path))
            yield (
                RawRecord(origin, pack_record(ts, linktype, bytes(frame)), read_at, mtime),
                (index + 1),
            )
    finally:
        reader.close()


def kernel_drops(sock: socket.socket) -> tuple[int, int] | None:
    """(packets, drops) the kernel counted since the last call (AF_PACKET sockets only)."""
    try:
        raw = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
    except OSError:
        return None
    packets, drops = struct.unpack("II", raw)
    return packets, drops


class Sniffer:
    """Captures on one interface and yields batches of packets."""

    def __init__(
        self,
        name: str,
        interface: str,
        bpf: str,
        clock: Clock,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.5,
    ) -> None:
        self.name = name
        self.interface = interface
        self.bpf = bpf
        self.clock = clock
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.dropped = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def open(self) -> Any:
        import scapy.arch  # noqa: F401  (sets this platform's capture sockets)
        from scapy.config import conf
        from scapy.error import Scapy_Exception

        try:
            return conf.L2listen(iface=self.interface, filter=self.bpf or None)
        except Scapy_Exception as exc:
            # Scapy compiles the filter with libpcap; without it, or for an expression libpcap
            # cannot read, it fails here.
            hint = (
                "the filter needs libpcap (Debian: apt-get install libpcap0.8)"
                if "libpcap" in str(exc)
                else f"the filter {self.bpf!r} is not a valid pcap filter expression"
            )
            raise CaptureError(f"{self.name}: cannot capture on {self.interface}: {hint}") from None
        except PermissionError:
            raise CaptureError(
                f"{self.name}: capturing on {self.interface} needs the CAP_NET_RAW capability: "
                "run monitord with AmbientCapabilities=CAP_NET_RAW (the systemd drop-in for "
                "sniffing) or as root"
            ) from None
        except OSError as exc:
            raise CaptureError(f"{self.name}: cannot capture on {self.interface}: {exc}") from None

    def _capture(self, sock: Any, out: asyncio.Queue[Batch | None], loop: Any) -> None:
        started = self.clock.now()
        file_id = f"live:{self.interface}:{int(started.timestamp())}"
        index = 0
        records: list[RawRecord] = []
        last_flush = time.monotonic()
        while not self._stop.is_set():
            try:
                got = sock.recv_raw()
            except TimeoutError:
                got = None  # nothing for a while: flush what we have, look at the stop flag
            except OSError as exc:
                log.warning("%s: capture error: %s", self.name, exc)
                break
            frame, ts = (got[1], got[2]) if got and len(got) >= 3 else (None, None)
            if frame:
                origin = Origin(self.name, file_id, index, self.interface)
                when = float(ts) if ts else time.time()
                records.append(
                    RawRecord(origin, pack_record(when, ETHERNET, bytes(frame)), self.clock.now())
                )
                index += 1
            if records and (
                len(records) >= self.batch_size
                or time.monotonic() - last_flush >= self.flush_interval
            ):
                cp = Checkpoint(self.name, self.interface, file_id, 0, index)
                loop.call_soon_threadsafe(out.put_nowait, Batch(records, cp))
                records = []
                last_flush = time.monotonic()
                stats = kernel_drops(sock.ins) if hasattr(sock, "ins") else None
                if stats is not None and stats[1]:
                    self.dropped += stats[1]
                    log.warning(
                        "%s: the kernel dropped %d packets (%d in all)",
                        self.name,
                        stats[1],
                        self.dropped,
                    )
        loop.call_soon_threadsafe(out.put_nowait, None)

    async def batches(self) -> AsyncIterator[Batch]:
        sock = await asyncio.to_thread(self.open)
        if hasattr(sock, "ins"):  # wake up now and then to flush and to see a stop
            sock.ins.settimeout(self.flush_interval)
        queue: asyncio.Queue[Batch | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        thread = threading.Thread(
            target=self._capture, args=(sock, queue, loop), name=f"capture-{self.name}", daemon=True
        )
        thread.start()
        try:
            while True:
                batch = await queue.get()
                if batch is None:
                    return
                yield batch
        finally:
            self._stop.set()
            await asyncio.to_thread(thread.join, 5)
            sock.close()
