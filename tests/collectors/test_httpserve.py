"""The agents' endpoint's HTTP server against slow, many and oversized clients, over real
loopback sockets (several 127.0.0.x source addresses stand for several machines)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collectors.httpserve import Body, Head, Limits, Reply, Server, ThrottledLog

Client = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Echo:
    """A handler that reads the body (up to 1,000 bytes) and says how long it was."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, head: Head, body: Body) -> Reply:
        if head.path == "/nobody":
            return Reply.json(401, {"error": "no"})
        data = await body.read(1000)
        self.bodies.append(data)
        return Reply.json(200, {"bytes": len(data)})


class Bench:
    """Servers and clients made by a test, all closed after it."""

    def __init__(self) -> None:
        self.servers: list[Server] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, limits: Limits) -> tuple[Server, Echo]:
        echo = Echo()
        server = Server(echo, limits)
        await server.start("127.0.0.1", 0)
        self.servers.append(server)
        return server, echo

    async def connect(self, server: Server | int, source: str = "127.0.0.1") -> Client:
        port = server if isinstance(server, int) else server.port
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        self.writers.append(writer)
        return reader, writer


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    b = Bench()
    yield b
    for writer in b.writers:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    for server in b.servers:
        await server.close()


async def response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def closed(reader: asyncio.StreamReader, within: float) -> bool:
    """Whether the server closes the connection within ``within`` seconds."""
    try:
        while await asyncio.wait_for(reader.read(65536), within):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def post(path: str = "/", body: bytes = b"hi", extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


async def test_a_plain_request_is_served_and_kept_alive(
    bench: Bench,
) -> None:
    server, _ = await bench.serve(Limits())
    reader, writer = await bench.connect(server)
    for n in range(3):
        writer.write(post(body=b"x" * n))
        status, headers, body = await response(reader)
        assert (status, body) == (200, f'{{"bytes": {n}}}'.encode())
        assert "connection" not in headers
    writer.close()


async def test_headers_sent_slowly_are_cut_off_at_the_header_timeout(
    bench: Bench,
) -> None:
    server, echo = await bench.serve(Limits(header_timeout=0.5))
    reader, writer = await bench.connect(server)
    started = time.monotonic()
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\n")

    async def dribble() -> None:
        for _ in range(40):  # one header byte every 0.1 s, for 4 s
            await asyncio.sleep(0.1)
            writer.write(b"X")

    dribbling = asyncio.create_task(dribble())
    good_reader, good_writer = await bench.connect(server)
    good_writer.write(post())
    assert (await response(good_reader))[0] == 200  # others are served meanwhile
    assert await closed(reader, 3)
    assert time.monotonic() - started < 2.0
    dribbling.cancel()
    assert echo.bodies == [b"hi"]


async def test_a_body_sent_slowly_is_408_at_the_body_timeout(
    bench: Bench,
) -> None:
    server, echo = await bench.serve(Limits(body_timeout=0.5))
    reader, writer = await bench.connect(server)
    writer.write(post(body=b"0123456789" * 10)[:-90])  # 10 bytes of the 100 declared
    started = time.monotonic()
    status, headers, _ = await response(reader)
    assert (status, headers["connection"]) == (408, "close")
    assert 0.4 < time.monotonic() - started < 2.0
    assert await closed(reader, 1)
    assert echo.bodies == []


async def test_a_chunked_body_obeys_the_same_limit(
    bench: Bench,
) -> None:
    server, echo = await bench.serve(Limits())
    reader, writer = await bench.connect(server)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(3):  # 1,500 bytes in three chunks against a limit of 1,000
        writer.write(b"1f4\r\n" + b"y" * 500 + b"\r\n")
    status, headers, body = await response(reader)
    assert (status, headers["connection"]) == (413, "close")
    assert b"larger than 1000 bytes" in body
    assert await closed(reader, 1)
    # a chunked body within the limit is read whole
    reader, writer = await bench.connect(server)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    writer.write(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert (await response(reader))[2] == b'{"bytes": 5}'
    assert echo.bodies == [b"abcde"]


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    bench: Bench,
) -> None:
    server, _ = await bench.serve(Limits())
    reader, writer = await bench.connect(server)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 400000000\r\n\r\n")
    status, headers, _ = await response(reader)  # answered with no byte of the body sent
    assert (status, headers["connection"]) == (413, "close")


async def test_headers_over_the_size_limit_are_refused(
    bench: Bench,
) -> None:
    server, _ = await bench.serve(Limits(max_header_bytes=4096))
    reader, writer = await bench.connect(server)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 8000 + b"\r\n\r\n")
    status, _, _ = await response(reader)
    assert status == 431
    assert await closed(reader, 1)


async def test_connections_are_capped_per_address_and_in_total(
    bench: Bench,
) -> None:
    server, _ = await bench.serve(Limits(max_per_address=3, max_connections=5, header_timeout=30))
    first = [await bench.connect(server) for _ in range(3)]
    await asyncio.sleep(0.1)
    over, _ = await bench.connect(server)
    assert await closed(over, 1)  # a fourth from the same address
    assert server.refused == 1
    others = [await bench.connect(server, "127.0.0.2") for _ in range(2)]
    await asyncio.sleep(0.1)
    assert server.open_connections == 5  # every place taken, all waiting for a request
    for reader, _ in [*first, *others]:
        assert not await closed(reader, 0.05)
    reader, writer = first[1]
    writer.write(b"POST / HTTP/1.1\r\n")  # begun: waiting since it connected all the same
    # A sixth in all, from a third address, takes the place of the one that has waited
    # longest without sending a whole request (the first), rather than being refused.
    sixth, writer = await bench.connect(server, "127.0.0.3")
    writer.write(post())
    assert (await response(sixth))[0] == 200
    assert await closed(first[0][0], 1)
    assert (server.evicted, server.refused, server.open_connections) == (1, 1, 5)
    for reader, _ in [*first[1:], *others]:
        assert not await closed(reader, 0.05)  # the others are still open
    first[2][1].write(post())
    assert (await response(first[2][0]))[0] == 200


async def test_keep_alive_is_limited_in_requests_and_idle_time(
    bench: Bench,
) -> None:
    server, _ = await bench.serve(Limits(max_requests=2, keepalive_timeout=0.4))
    reader, writer = await bench.connect(server)
    writer.write(post())
    assert "connection" not in (await response(reader))[1]
    writer.write(post())
    status, headers, _ = await response(reader)
    assert (status, headers["connection"]) == (200, "close")
    assert await closed(reader, 1)
    reader, writer = await bench.connect(server)
    writer.write(post())
    await response(reader)
    started = time.monotonic()
    assert await closed(reader, 2)  # idle after its answer
    assert time.monotonic() - started < 1.0


async def test_an_early_answer_reads_a_small_body_and_keeps_the_connection(
    bench: Bench,
) -> None:
    server, _ = await bench.serve(Limits())
    reader, writer = await bench.connect(server)
    writer.write(post("/nobody", b"z" * 5000))
    assert (await response(reader))[0] == 401
    writer.write(post())
    assert (await response(reader))[0] == 200


async def test_garbage_from_many_clients_is_logged_a_few_times_a_minute(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    server, _ = await bench.serve(Limits())
    caplog.set_level(logging.INFO, logger="monitord.endpoint")
    for _ in range(60):
        reader, writer = await bench.connect(server)
        writer.write(b"\x16\x03\x01 not http at all\r\n\r\n")
        status, _, _ = await response(reader)
        assert status == 400
        writer.close()
    lines = [r for r in caplog.records if r.name == "monitord.endpoint"]
    assert 1 <= len(lines) <= 5


def test_throttled_log_keeps_a_few_lines_then_says_how_many_were_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    throttle = ThrottledLog(
        logging.getLogger("test.throttle"), burst=3, window=60, now=lambda: now[0]
    )
    caplog.set_level(logging.INFO, logger="test.throttle")
    logged = [throttle.log(logging.WARNING, "accept", "line %d", n) for n in range(100)]
    assert logged == [True] * 3 + [False] * 97
    assert throttle.log(logging.WARNING, "other", "another kind") is True
    now[0] = 61.0
    assert throttle.log(logging.WARNING, "accept", "line again") is True
    assert [r.getMessage() for r in caplog.records] == [
        "line 0",
        "line 1",
        "line 2",
        "another kind",
        "accept: 97 more like this in the last 61 s were not logged",
        "line again",
    ]


SERVE_OUT_OF_DESCRIPTORS = textwrap.dedent(
    """
    import asyncio, logging, resource, sys
    from collectors.httpserve import Limits, Reply, Server

    async def handler(head, body):
        return Reply.json(200, {"ok": True})

    async def main():
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        limits = Limits(header_timeout=1.5, max_per_address=999, max_connections=999)
        server = Server(handler, limits)
        await server.start("127.0.0.1", 0)
        print(server.port, flush=True)
        await asyncio.sleep(float(sys.argv[1]))
        await server.close()

    asyncio.run(main())
    """
)


async def test_accept_failing_for_lack_of_descriptors_is_logged_a_few_times(bench: Bench) -> None:
    """A flood that uses up the process's descriptors makes accept() fail; the server waits
    and tries again, and says so a few times, not once per attempt."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE_OUT_OF_DESCRIPTORS, "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    clients = []
    for _ in range(150):
        try:
            clients.append(await bench.connect(port))
        except OSError:
            break
    await asyncio.sleep(2.5)  # the first ones time out, places free up, accept goes on
    reader, writer = await bench.connect(port)
    writer.write(post())
    assert (await response(reader))[0] == 200
    for _, w in clients:
        w.close()
    _, err = await asyncio.to_thread(proc.communicate, timeout=30)
    text = err.decode()
    failures = text.count("cannot accept a connection")
    assert 1 <= failures <= 5, text[-2000:]
    assert "Too many open files" in text
