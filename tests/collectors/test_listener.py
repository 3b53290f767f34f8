"""The syslog listener on loopback: util-linux's ``logger`` over UDP and TCP (newline and
octet-counting framing, RFC 3164 and RFC 5424), TLS, the allow list, per-sender fairness and
a stop that reads what is in hand."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from collectors.listener import FILE_ID, SyslogListener, message_origin
from collectors.parsers.base import Batch
from monitord.core.model import Checkpoint, Origin
from monitord.service.app import App
from monitord.settings.listen import ListenAddress, parse_allow

LOOPBACK = parse_allow(["127.0.0.0/8", "::1/128"])


def need_logger() -> str:
    logger = shutil.which("logger")
    if logger is None:
        if os.environ.get("MONITORD_TEST_PEERS") == "required":
            pytest.fail("logger (util-linux) is required here (.ci/run installs it)")
        pytest.skip("logger is not installed (apt-get install bsdutils)")
    return logger


class Running:
    """A listener whose batches are gathered as they come."""

    def __init__(self, listener: SyslogListener, pause: float = 0.0) -> None:
        self.listener = listener
        self.pause = pause  # how long "storing" a batch takes
        self.batches: list[Batch] = []
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async for batch in self.listener.batches():
            self.batches.append(batch)
            if self.pause:
                await asyncio.sleep(self.pause)

    @property
    def messages(self) -> list[bytes]:
        return [r.data for b in self.batches for r in b.records]

    @property
    def port(self) -> int:
        assert self.listener.bound is not None
        return self.listener.bound[1]

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run())
        for _ in range(200):
            if self.listener.bound is not None:
                return
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        raise AssertionError("listener did not bind")

    async def wait_for(self, n: int, timeout: float = 10.0) -> list[bytes]:
        async with asyncio.timeout(timeout):
            while len(self.messages) < n:
                await asyncio.sleep(0.02)
        return self.messages

    async def stop(self) -> None:
        self.listener.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, 15)


@contextlib.asynccontextmanager
async def listening(
    app: App,
    scheme: str,
    *,
    allow: tuple[object, ...] = LOOPBACK,
    tls: ssl.SSLContext | None = None,
    pause: float = 0.0,
    **kw: object,
) -> AsyncIterator[Running]:
    listener = SyslogListener(
        "fw",
        ListenAddress(scheme, "127.0.0.1", 0),
        allow,  # type: ignore[arg-type]
        app.engine,
        app.clock,
        tls=tls,
        flush_interval=0.02,
        **kw,  # type: ignore[arg-type]
    )
    run = Running(listener, pause)
    await run.start()
    try:
        yield run
    finally:
        if run.task is not None and not run.task.done():
            await run.stop()


async def logger(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        need_logger(), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()


async def test_udp_rfc3164_from_logger(app: App) -> None:
    need_logger()
    async with listening(app, "udp") as run:
        await logger(
            "-n", "127.0.0.1", "-P", str(run.port), "-d", "--rfc3164", "-t", "dnsmasq",
            "query[A] www.example.com from 10.0.0.7",
        )  # fmt: skip
        (msg,) = await run.wait_for(1)
    assert msg.startswith(b"<13>")
    assert msg.endswith(b"dnsmasq: query[A] www.example.com from 10.0.0.7")
    (rec,) = [r for b in run.batches for r in b.records]
    assert rec.origin.source == "fw"
    assert rec.origin.file_id == "udp:127.0.0.1@fw"
    assert rec.origin.offset == 0
    assert run.batches[-1].checkpoint == Checkpoint("fw", str(run.listener.address), FILE_ID, 0, 1)


@pytest.mark.parametrize("octets", [False, True], ids=["newline", "octet-counting"])
async def test_tcp_rfc5424_from_logger(app: App, octets: bool) -> None:
    need_logger()
    async with listening(app, "tcp") as run:
        framing = ["--octet-count"] if octets else []
        for i in range(3):
            await logger(
                "-n", "127.0.0.1", "-P", str(run.port), "-T", *framing, "--rfc5424",
                "--sd-id", "meta@32473", "--sd-param", f'sequenceId="{i}"', "-t", "unbound",
                f"[1:0] info: 10.0.0.{i} a.example. A IN",
            )  # fmt: skip
        msgs = await run.wait_for(3)
    assert [m.split(b"] ", 1)[0].rsplit(b"=", 1)[1] for m in msgs] == [b'"0"', b'"1"', b'"2"']
    assert all(m.startswith(b"<13>1 ") for m in msgs)
    assert msgs[2].endswith(b"[1:0] info: 10.0.0.2 a.example. A IN")
    offsets = [r.origin.offset for b in run.batches for r in b.records]
    assert offsets == [0, 1, 2]


async def test_receive_order_goes_on_from_the_committed_checkpoint(app: App) -> None:
    from monitord.service.pipeline import Processor

    processor: Processor = app.processor
    processor.process("syslog", _null_session(), [], Checkpoint("fw", "x", FILE_ID, 0, 41))
    async with listening(app, "udp") as run:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"<13>Nov 20 10:00:00 h p: x\n", ("127.0.0.1", run.port))
        await run.wait_for(1)
    assert [r.origin.offset for b in run.batches for r in b.records] == [41]


def _null_session() -> object:
    from collectors.parsers.syslog import PARSER

    return PARSER.session()


async def test_sender_not_allowed_is_dropped_and_counted(app: App) -> None:
    async with listening(app, "udp", allow=parse_allow(["10.0.0.0/8"])) as run:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for _ in range(3):
                tx.sendto(b"<13>Nov 20 10:00:00 h p: x", ("127.0.0.1", run.port))
        async with asyncio.timeout(10):
            while not any(b.counts for b in run.batches):
                await asyncio.sleep(0.02)
        await run.stop()
    assert run.messages == []
    refused = sum(n for b in run.batches for kind, name, n in b.counts if kind == "refused")
    assert refused == 3


async def test_tcp_sender_not_allowed_is_closed(app: App) -> None:
    async with listening(app, "tcp", allow=parse_allow(["10.0.0.0/8"])) as run:
        reader, writer = await asyncio.open_connection("127.0.0.1", run.port)
        writer.write(b"<13>Nov 20 10:00:00 h p: x\n")
        with contextlib.suppress(ConnectionResetError):  # closed with our line unread
            assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await run.stop()
    assert run.messages == []
    assert ("refused", "127.0.0.1", 1) in [c for b in run.batches for c in b.counts]


async def test_a_udp_flood_from_one_sender_does_not_starve_another(app: App) -> None:
    """While batches are slow to store, 127.0.0.2 sends 20,000 datagrams and 127.0.0.3
    sends 50 among them: every one of the quiet sender's messages is taken, and the flood
    gets no more than its share of a batch while the other waits, its excess counted as
    dropped against it."""

    def send(port: int) -> None:
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet,
        ):
            flood.bind(("127.0.0.2", 0))
            quiet.bind(("127.0.0.3", 0))
            for i in range(20_000):
                flood.sendto(b"<13>Nov 20 10:00:00 a p: %d" % i, ("127.0.0.1", port))
                if i % 400 == 0:
                    quiet.sendto(b"<13>Nov 20 10:00:00 b p: %d" % i, ("127.0.0.1", port))
                if i % 200 == 0:
                    time.sleep(0.002)  # within what the kernel's buffer holds

    async with listening(app, "udp", per_sender=1000, batch_size=500, pause=0.05) as run:
        await asyncio.to_thread(send, run.port)
        async with asyncio.timeout(20):
            while sum(1 for m in run.messages if b" b p: " in m) < 50:
                await asyncio.sleep(0.02)
        await run.stop()
    senders = [r.origin.file_id for b in run.batches for r in b.records]
    assert senders.count("udp:127.0.0.3@fw") == 50
    dropped: Counter[str] = Counter()
    for b in run.batches:
        dropped.update({name: n for kind, name, n in b.counts if kind == "dropped"})
    received = senders.count("udp:127.0.0.2@fw")
    assert dropped.get("127.0.0.2", 0) > 0  # the flood passed its share
    assert received + dropped.get("127.0.0.2", 0) + dropped.get("kernel", 0) == 20_000
    for b in run.batches:
        ids = [r.origin.file_id for r in b.records]
        if "udp:127.0.0.3@fw" in ids:
            assert ids.count("udp:127.0.0.2@fw") <= 500 - ids.count("udp:127.0.0.3@fw")


async def test_a_tcp_flood_waits_while_another_sender_gets_through(app: App) -> None:
    """A sender whose queue is full is not read (TCP holds the rest back) and loses
    nothing; the other sender's messages are taken meanwhile."""
    async with listening(app, "tcp", per_sender=100, batch_size=50) as run:
        _, flood = await asyncio.open_connection("127.0.0.1", run.port, local_addr=("127.0.0.2", 0))
        _, quiet = await asyncio.open_connection("127.0.0.1", run.port, local_addr=("127.0.0.3", 0))
        flood.write(b"".join(b"<13>Nov 20 10:00:00 a p: %d\n" % i for i in range(5000)))
        quiet.write(b"<13>Nov 20 10:00:00 b p: hello\n")
        await asyncio.gather(flood.drain(), quiet.drain())
        flood.close()
        quiet.close()
        msgs = await run.wait_for(5001)
        await run.stop()
    assert sum(1 for m in msgs if b" a p: " in m) == 5000
    assert msgs.index(b"<13>Nov 20 10:00:00 b p: hello") < 200
    assert [m for m in msgs if b" a p: " in m] == [
        b"<13>Nov 20 10:00:00 a p: %d" % i for i in range(5000)
    ]


async def test_stop_reads_what_the_sender_sent_until_it_closes(app: App) -> None:
    """On stop a TCP connection is half-closed: the sender sees our FIN, and what it sent
    before closing its own side is still read and handed on."""
    async with listening(app, "tcp", drain=5.0) as run:
        reader, writer = await asyncio.open_connection("127.0.0.1", run.port)
        writer.write(b"<13>Nov 20 10:00:00 h p: before\n")
        await writer.drain()
        await run.wait_for(1)
        run.listener.stop()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # our FIN
        writer.write(b"<13>Nov 20 10:00:00 h p: after the FIN\n")
        await writer.drain()
        writer.close()
        assert run.task is not None
        await asyncio.wait_for(run.task, 10)
    assert run.messages == [
        b"<13>Nov 20 10:00:00 h p: before",
        b"<13>Nov 20 10:00:00 h p: after the FIN",
    ]


async def test_tls_rfc5425(app: App, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    async with listening(app, "tls", tls=server) as run:
        _, writer = await asyncio.open_connection("127.0.0.1", run.port, ssl=client)
        body = b'<14>1 2026-11-20T10:00:00Z gw sshd 1 - [meta sequenceId="1"] hi'
        writer.write(b"%d %s" % (len(body), body) + b"<14>Nov 20 10:00:00 gw p: line\n")
        await writer.drain()
        msgs = await run.wait_for(2)
        writer.close()
    assert msgs == [body, b"<14>Nov 20 10:00:00 gw p: line"]
    first, second = [r.origin for b in run.batches for r in b.records]
    # The first is known by its sender's sequence number, the second by its receive order.
    assert first.file_id.startswith("tls:127.0.0.1@fw#")
    assert first.offset == 1
    assert (second.file_id, second.offset) == ("tls:127.0.0.1@fw", 1)


async def test_plain_tcp_to_a_tls_listener_is_ended_without_harm(app: App) -> None:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    async with listening(app, "tls", tls=server) as run:
        reader, writer = await asyncio.open_connection("127.0.0.1", run.port)
        writer.write(b"<13>Nov 20 10:00:00 h p: not TLS\n")
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await run.stop()
    assert run.messages == []


def test_a_message_sent_again_has_the_same_origin() -> None:
    body = b'<14>1 2026-11-20T10:00:00Z gw sshd 1 - [meta sequenceId="7"] hi'
    first = message_origin("fw", "tcp:10.0.0.1", 10, "tcp://x", body)
    again = message_origin("fw", "tcp:10.0.0.1", 11, "tcp://x", body)
    assert first == again
    assert first.offset == 7
    other = message_origin("fw", "tcp:10.0.0.1", 12, "tcp://x", body.replace(b"hi", b"ho"))
    assert other.event_id() != first.event_id()
    plain = b"<14>Nov 20 10:00:00 gw sshd: hi"
    assert message_origin("fw", "tcp:10.0.0.1", 13, "tcp://x", plain) == Origin(
        "fw", "tcp:10.0.0.1@fw", 13, "tcp://x"
    )
    # Two listeners hearing the same sender never share an id.
    assert message_origin("fw2", "tcp:10.0.0.1", 13, "tcp://x", plain).event_id() != (
        message_origin("fw", "tcp:10.0.0.1", 13, "tcp://x", plain).event_id()
    )
    v6 = "tcp:2001:db8:1234:5678:9abc:def0:1234:5678"
    long_name = message_origin("a-firewall-with-a-long-name", v6, 1, "tcp://x", body)
    assert len(long_name.file_id) <= 64


async def test_started_again_it_goes_on_from_its_own_receive_order(app: App) -> None:
    """After a failure the supervisor starts the same listener again: batches it handed on
    may not be stored yet, so the receive order goes on from its own count, not from the
    store's checkpoint (which would give two messages one id)."""
    listener = SyslogListener(
        "fw", ListenAddress("udp", "127.0.0.1", 0), LOOPBACK, app.engine, app.clock,
        flush_interval=0.02,
    )  # fmt: skip
    for round_ in range(2):
        run = Running(listener)
        await run.start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"<13>Nov 20 10:00:00 h p: %d" % round_, ("127.0.0.1", run.port))
        await run.wait_for(1)
        await run.stop()
        listener.bound = None
        assert [r.origin.offset for b in run.batches for r in b.records] == [round_]
