"""A syslog listener as a source: UDP, TCP or TLS, senders on the ``allow`` list only.

Messages are queued per sender and taken into batches in turn, a share of each batch per
sender, so that a flood from one cannot starve the others: over TCP and TLS a sender whose
queue is full is not read until it empties (the sender's own buffer holds the rest); over
UDP its excess datagrams are dropped and counted against it. The kernel's drops on the UDP
socket (its receive buffer full) are read from ``/proc/net/udp`` and counted too.

Every message is a raw record whose origin is (``proto:sender@source``, receive order): the
order is counted on from the one committed with the last batch, so a message's id is the same
however often the batch that holds it is stored. A message that carries its sender's own
sequence number (RFC 5424 ``[meta sequenceId="N"]``) is known by it instead, with a hash of
its bytes, so that one sent again after a broken connection is not stored twice.

A stop reads what is in hand: the TCP and TLS listeners stop accepting, half-close each
connection (a sender such as rsyslog notices and keeps what it has not sent in its queue,
for after the restart), read until the sender
closes its side or ``drain`` seconds pass, and the last batch is committed before exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import socket
import ssl
from collections import Counter, deque
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import Engine

from collectors.follow import load_checkpoint
from collectors.framing import Framer
from collectors.parsers.base import Batch
from collectors.udpdrops import udp_drops
from monitord.core.clock import Clock
from monitord.core.model import Checkpoint, Origin, RawRecord
from monitord.settings.listen import ListenAddress, Network, allowed

log = logging.getLogger("monitord.listener")
FILE_ID = "listener"
MAX_MESSAGE = 64 * 1024
UDP_BUFFER = 8 << 20  # receive buffer asked for (the kernel caps it at net.core.rmem_max)
UDP_READS = 512  # datagrams read per wake-up before others get the loop
SO_RCVBUFFORCE = 33  # Linux's number; Python's socket module does not name it
DROP_CHECK = 5.0  # seconds between readings of the kernel's drop counter


class SyslogListener:
    """One ``[[sources]]`` with ``listen``: yields batches of received messages."""

    def __init__(
        self,
        name: str,
        address: ListenAddress,
        allow: tuple[Network, ...],
        engine: Engine,
        clock: Clock,
        *,
        tls: ssl.SSLContext | None = None,
        batch_size: int = 2000,
        flush_interval: float = 0.2,
        per_sender: int = 10_000,
        drain: float = 5.0,
    ) -> None:
        self.name = name
        self.address = address
        self.allow = allow
        self.engine = engine
        self.clock = clock
        self.tls = tls
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.per_sender = per_sender
        self.drain = drain
        self.bound: tuple[str, int] | None = None  # the address actually bound (port 0: any)
        self._queues: dict[str, deque[tuple[bytes, datetime]]] = {}
        self._turns: deque[str] = deque()  # senders with messages waiting, in turn
        self._space: dict[str, asyncio.Event] = {}
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._verdicts: dict[str, bool] = {}
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._seq = 0
        self._resumed = False
        self._kernel_drops = 0
        self.received = 0
        self.last_message: datetime | None = None  # when the last message was received

    def stop(self) -> None:
        self._stop.set()
        self._ready.set()

    # --- receiving -----------------------------------------------------------------------

    def _admit(self, sender: str) -> bool:
        verdict = self._verdicts.get(sender)
        if verdict is None:
            verdict = allowed(sender, self.allow)
            if len(self._verdicts) > 4096:
                self._verdicts.clear()
            self._verdicts[sender] = verdict
            if not verdict:
                log.warning("%s: refused a sender not on the allow list: %s", self.name, sender)
        if not verdict:
            self._counts[("refused", sender)] += 1
        return verdict

    def _enqueue(self, sender: str, message: bytes) -> bool:
        """Queue a message; False (and counted) if the sender's queue is full."""
        queue = self._queues.get(sender)
        if queue is None:
            queue = self._queues[sender] = deque()
        if len(queue) >= self.per_sender:
            return False
        if not queue:
            self._turns.append(sender)
        now = self.clock.now()
        queue.append((message, now))
        self.last_message = now
        self.received += 1
        self._ready.set()
        return True

    def _on_datagrams(self, sock: socket.socket) -> None:
        for _ in range(UDP_READS):
            try:
                data, peer = sock.recvfrom(MAX_MESSAGE + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("%s: receiving: %s", self.name, exc)
                return
            sender = peer[0]
            if not self._admit(sender):
                continue
            message = data.rstrip(b"\r\n\x00")
            if message and not self._enqueue(sender, message):
                self._counts[("dropped", sender)] += 1

    async def _put(self, sender: str, message: bytes) -> None:
        """Queue a stream's message, waiting while its sender's queue is full."""
        while not self._enqueue(sender, message):
            space = self._space.setdefault(sender, asyncio.Event())
            space.clear()
            await space.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        sender = str(peer[0]) if peer else "?"
        if self._stop.is_set() or not self._admit(sender):
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._writers.add(writer)
        framer = Framer(MAX_MESSAGE)
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                for message in framer.feed(data):
                    await self._put(sender, message)
            for message in framer.finish():
                await self._put(sender, message)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            log.info("%s: connection from %s ended: %s", self.name, sender, exc)
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    # --- batching ------------------------------------------------------------------------

    def _take(self) -> list[RawRecord]:
        """Up to a batch of messages, a share from each waiting sender in turn."""
        records: list[RawRecord] = []
        proto = self.address.scheme
        where = str(self.address)
        while self._turns and len(records) < self.batch_size:
            share = max(1, (self.batch_size - len(records)) // len(self._turns))
            sender = self._turns.popleft()
            queue = self._queues[sender]
            for _ in range(min(share, len(queue))):
                message, at = queue.popleft()
                origin = message_origin(self.name, f"{proto}:{sender}", self._seq, where, message)
                self._seq += 1
                records.append(RawRecord(origin, message, at))
            if queue:
                self._turns.append(sender)
            else:
                del self._queues[sender]
            space = self._space.get(sender)
            if space is not None:
                space.set()
        return records

    def _batch(self, records: list[RawRecord]) -> Batch:
        counts = tuple((kind, name, n) for (kind, name), n in self._counts.items())
        self._counts.clear()
        cp = Checkpoint(self.name, str(self.address), FILE_ID, 0, self._seq)
        return Batch(records, cp, counts)

    def _check_drops(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        drops = udp_drops(os.fstat(sock.fileno()).st_ino)
        if drops is not None and drops > self._kernel_drops:
            self._counts[("dropped", "kernel")] += drops - self._kernel_drops
            log.warning(
                "%s: the kernel dropped %d datagram(s) (receive buffer full)",
                self.name,
                drops - self._kernel_drops,
            )
            self._kernel_drops = drops

    async def batches(self) -> AsyncIterator[Batch]:
        if not self._resumed:
            # Once: started again after a failure, the receive order goes on from where it
            # was (batches already handed on may not be stored yet), and what waited in the
            # senders' queues is still there.
            resume = await asyncio.to_thread(load_checkpoint, self.engine, self.name)
            self._seq = resume.offset if resume is not None and resume.file_id == FILE_ID else 0
            self._resumed = True
        self._stop.clear()
        loop = asyncio.get_running_loop()
        udp: socket.socket | None = None
        server: asyncio.Server | None = None
        if self.address.scheme == "udp":
            udp = _udp_socket(self.address)
            self.bound = udp.getsockname()[:2]
            loop.add_reader(udp.fileno(), self._on_datagrams, udp)
        else:
            server = await asyncio.start_server(
                self._serve,
                self.address.host,
                self.address.port,
                ssl=self.tls if self.address.scheme == "tls" else None,
                reuse_address=True,
                limit=MAX_MESSAGE * 2,
            )
            self.bound = server.sockets[0].getsockname()[:2]
        log.info("%s: listening on %s", self.name, self.address)
        last_check = loop.time()
        try:
            while not self._stop.is_set():
                if not self._turns:
                    self._ready.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._ready.wait(), DROP_CHECK)
                if self._turns and sum(len(q) for q in self._queues.values()) < self.batch_size:
                    with contextlib.suppress(TimeoutError):  # gather a fuller batch
                        await asyncio.wait_for(self._stop.wait(), self.flush_interval)
                if loop.time() - last_check >= DROP_CHECK:
                    self._check_drops(udp)
                    last_check = loop.time()
                records = self._take()
                if records or self._counts:
                    yield self._batch(records)
            # Stopping: read what is in hand, then the last batches.
            if udp is not None:
                loop.remove_reader(udp.fileno())
                self._on_datagrams(udp)
                self._check_drops(udp)
            if server is not None:
                server.close()
                for writer in list(self._writers):
                    _half_close(writer)
            deadline = loop.time() + self.drain
            while True:
                if self._turns:
                    yield self._batch(self._take())  # also lets in a sender that waited
                    continue
                if not self._handlers or loop.time() >= deadline:
                    break
                self._ready.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), 0.05)
            if self._handlers:
                log.warning(
                    "%s: %d sender(s) still sending after %.0fs; closing",
                    self.name,
                    len(self._handlers),
                    self.drain,
                )
            if self._counts:
                yield self._batch([])
        finally:
            if udp is not None:
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_reader(udp.fileno())
                udp.close()
            if server is not None:
                server.close()
                for writer in list(self._writers):
                    writer.transport.abort()


# RFC 5424's [meta sequenceId="N"]: the originator's own count of the messages it sent.
_SEQUENCE_ID = re.compile(rb'\[meta [^\]]{0,200}?sequenceId="(\d{1,10})"')


def message_origin(source: str, sender: str, order: int, where: str, message: bytes) -> Origin:
    """A received message's origin: the listening source, the sender and the receive order
    (``udp:10.20.0.1@firewall``, N); or, when the message carries its sender's sequence
    number (RFC 5424 ``meta sequenceId``), those with a hash of the message, and that number,
    so that a message sent again (rsyslog resends the one it was sending when a connection
    broke) is the same event, not a second one. An event's id is made from the file identity
    and offset alone, so the source is part of the identity: two listeners never share ids."""
    if message.startswith(b"<") and b"[meta " in message[:600]:
        m = _SEQUENCE_ID.search(message, 0, 600)
        if m is not None:
            digest = hashlib.blake2b(message, digest_size=6).hexdigest()
            return Origin(source, f"{_sender_id(source, sender, 51)}#{digest}", int(m[1]), where)
    return Origin(source, _sender_id(source, sender, 64), order, where)


def _sender_id(source: str, sender: str, width: int) -> str:
    """``proto:address@source`` within ``width`` characters (a long source name hashed)."""
    ident = f"{sender}@{source}"
    if len(ident) <= width:
        return ident
    return f"{sender}@{hashlib.blake2b(source.encode(), digest_size=3).hexdigest()}"


def _half_close(writer: asyncio.StreamWriter) -> None:
    """Tell the sender we send nothing more (a FIN), keeping our side open to read. Over
    TLS, where the stream cannot half-close, the socket itself is shut for writing."""
    try:
        if writer.can_write_eof():
            writer.write_eof()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_WR)
    except (OSError, RuntimeError, NotImplementedError):
        pass


def _udp_socket(address: ListenAddress) -> socket.socket:
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:  # past net.core.rmem_max, where monitord may (CAP_NET_ADMIN)
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, UDP_BUFFER)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_BUFFER)
        sock.bind((address.host, address.port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
