"""The small HTTP/1.1 server under the agents' endpoint, built to hold up against clients that
are slow on purpose or come in their thousands.

h11 parses the protocol; this module owns the sockets, the clocks and the limits:

- a connection must send its request line and headers within ``header_timeout`` (and the
  headers may not pass ``max_header_bytes``); a kept-alive connection must start its next
  request within ``keepalive_timeout`` and send its whole head within that time;
- a body is read only when the handler asks for it (after it has checked the token), with a
  limit the handler gives: a body declared larger is refused before a byte of it is read, and
  a chunked body is cut off (413) as soon as it passes the limit; the whole body must arrive
  within ``body_timeout``, and an answer must be taken by the client within ``write_timeout``;
- at most ``max_per_address`` connections from one address: one more is closed as soon as it
  is accepted (before any TLS); at most ``max_connections`` in all: when every place is taken,
  a newcomer takes the place of the connection that has waited longest without sending a
  whole request (so slow clients take turns with each other, not with the agents);
- a connection serves at most ``max_requests`` requests, then closes;
- every error about a connection (refused, too slow, bad request, TLS handshake, accept
  failing because the process is out of descriptors) goes to the log through
  :class:`ThrottledLog`, a few lines a minute for each kind and then one line saying how many
  were left out, so no client can fill the disk with the server's complaints.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import h11

log = logging.getLogger("monitord.endpoint")
READ_SIZE = 64 * 1024
# What a handler's early answer (401, 429) still reads of a body it did not want, so that
# the client sees the answer rather than a reset connection; more than this: close instead.
DRAIN_LIMIT = 1024 * 1024
DRAIN_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Limits:
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    keepalive_timeout: float = 15.0
    write_timeout: float = 30.0
    max_requests: int = 100
    max_connections: int = 512
    max_per_address: int = 32
    max_header_bytes: int = 16 * 1024


@dataclass(frozen=True, slots=True)
class Head:
    """A request's line and headers (names in lower case, repeats joined with ", ")."""

    method: str
    target: str
    headers: Mapping[str, str]
    peer: str

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, obj: object, *headers: tuple[str, str]) -> Reply:
        data = json.dumps(obj, ensure_ascii=False).encode()
        return cls(status, data, (("Content-Type", "application/json"), *headers))


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")
        self.limit = limit


class BodyTimeout(Exception):
    """The body did not arrive within the time allowed."""


class ClientGone(Exception):
    """The client closed the connection in the middle of a request."""


@dataclass
class ThrottledLog:
    """At most ``burst`` lines a ``window`` for each kind of message; when a window with
    lines left out ends, one line says how many."""

    logger: logging.Logger
    burst: int = 5
    window: float = 60.0
    now: Callable[[], float] = time.monotonic
    _seen: dict[str, tuple[float, int]] = field(default_factory=dict)

    def log(self, level: int, kind: str, msg: str, *args: object, exc_info: bool = False) -> bool:
        """Log unless this kind has had its share this window; True if it was logged."""
        t = self.now()
        start, count = self._seen.get(kind, (t, 0))
        if t - start >= self.window:
            if count > self.burst:
                self.logger.warning(
                    "%s: %d more like this in the last %.0f s were not logged",
                    kind,
                    count - self.burst,
                    t - start,
                )
            start, count = t, 0
        self._seen[kind] = (start, count + 1)
        if count < self.burst:
            self.logger.log(level, msg, *args, exc_info=exc_info)
            return True
        return False


Handler = Callable[[Head, "Body"], Awaitable[Reply]]


class _Conn:
    """One connection's parser and streams."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limits: Limits
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.limits = limits
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)

    async def next_event(self) -> object:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.reader.read(READ_SIZE)
            self.h11.receive_data(data)  # b"" is the end of the stream

    async def send(self, *events: h11.Event) -> None:
        for event in events:
            data = self.h11.send(event)
            if data:
                self.writer.write(data)
        async with asyncio.timeout(self.limits.write_timeout):
            await self.writer.drain()


class Body:
    """The request's body, read only if and when the handler asks for it."""

    def __init__(self, conn: _Conn, declared: int | None, deadline: float) -> None:
        self._conn = conn
        self.declared = declared
        self._deadline = deadline
        self.finished = False
        self.started = False

    async def read(self, limit: int) -> bytes:
        if self.declared is not None and self.declared > limit:
            raise BodyTooLarge(limit)
        self.started = True
        if self._conn.h11.client_is_waiting_for_100_continue:
            await self._conn.send(h11.InformationalResponse(status_code=100, headers=[]))
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout_at(self._deadline):
                while True:
                    event = await self._conn.next_event()
                    if isinstance(event, h11.Data):
                        size += len(event.data)
                        if size > limit:
                            raise BodyTooLarge(limit)
                        chunks.append(event.data)
                    elif isinstance(event, h11.EndOfMessage):
                        self.finished = True
                        return b"".join(chunks)
                    else:
                        raise ClientGone()
        except TimeoutError:
            raise BodyTimeout() from None

    async def discard(self) -> bool:
        """Read and drop a body the handler did not want, if it is small; True if done."""
        if self.finished:
            return True
        if self.started or self._conn.h11.client_is_waiting_for_100_continue:
            return False
        self._deadline = min(self._deadline, asyncio.get_running_loop().time() + DRAIN_TIMEOUT)
        try:
            await self.read(DRAIN_LIMIT)
        except (BodyTooLarge, BodyTimeout, ClientGone, h11.RemoteProtocolError):
            return False
        return True


def _head(event: h11.Request, peer: str) -> Head:
    headers: dict[str, str] = {}
    for name, value in event.headers:
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return Head(
        event.method.decode("ascii", "replace"), event.target.decode("latin-1"), headers, peer
    )


class Server:
    """Serves ``handler`` on one address until closed."""

    def __init__(
        self,
        handler: Handler,
        limits: Limits,
        *,
        tls: ssl.SSLContext | None = None,
        throttle: ThrottledLog | None = None,
    ) -> None:
        self.handler = handler
        self.limits = limits
        self.tls = tls
        self.throttle = throttle or ThrottledLog(log)
        self.by_address: dict[str, int] = {}
        self.refused = 0
        self.evicted = 0
        self._peers: dict[asyncio.Task[None], str] = {}  # each open connection's address
        self._waiting: dict[asyncio.Task[None], float] = {}  # those waiting for a request
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None

    @property
    def open_connections(self) -> int:
        return sum(self.by_address.values())

    @property
    def port(self) -> int:
        assert self._listener is not None
        return int(self._listener.getsockname()[1])

    async def start(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=128)
        sock.setblocking(False)
        self._listener = sock
        self._accepting = asyncio.create_task(self._accept(sock), name="agents-endpoint-accept")

    async def close(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        if self._listener is not None:
            self._listener.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        pause = 0.05
        while True:
            try:
                conn, addr = await loop.sock_accept(sock)
            except OSError as exc:  # out of descriptors or memory: wait, never spin
                self.throttle.log(
                    logging.ERROR,
                    "accept",
                    "agents' endpoint: cannot accept a connection (%s); retrying in %.2f s",
                    exc.strerror or exc,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
                continue
            pause = 0.05
            peer = str(addr[0])
            mine = self.by_address.get(peer, 0)
            if mine < self.limits.max_per_address and self.open_connections >= (
                self.limits.max_connections
            ):
                self._evict()
            if mine >= self.limits.max_per_address or (
                self.open_connections >= self.limits.max_connections
            ):
                self.refused += 1
                conn.close()
                self.throttle.log(
                    logging.WARNING,
                    "refused",
                    "agents' endpoint: connection from %s refused (%d open from it, %d in all)",
                    peer,
                    mine,
                    self.open_connections,
                )
                continue
            self.by_address[peer] = mine + 1
            task = asyncio.create_task(self._connection(conn, peer))
            self._peers[task] = peer
            self._waiting[task] = loop.time()
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _evict(self) -> None:
        """Make room for a new connection by closing the one that has waited longest for a
        request it has not finished sending: a flood of slow clients from many addresses
        then takes turns with itself, not with the agents."""
        if not self._waiting:
            return
        oldest = min(self._waiting, key=self._waiting.__getitem__)
        del self._waiting[oldest]
        oldest.cancel()
        self.evicted += 1
        peer = self._peers.get(oldest, "?")
        left = self.by_address.get(peer, 1) - 1  # its place is free now, not when it ends
        if left:
            self.by_address[peer] = left
        else:
            self.by_address.pop(peer, None)
        self._peers.pop(oldest, None)
        self.throttle.log(
            logging.INFO,
            "evicted",
            "agents' endpoint: all %d places taken: closed the slowest, from %s",
            self.limits.max_connections,
            peer,
        )

    async def _connection(self, sock: socket.socket, peer: str) -> None:
        loop = asyncio.get_running_loop()
        writer: asyncio.StreamWriter | None = None
        try:
            reader = asyncio.StreamReader(limit=READ_SIZE)
            protocol = asyncio.StreamReaderProtocol(reader)
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol,
                sock,
                ssl=self.tls,
                ssl_handshake_timeout=self.limits.header_timeout if self.tls else None,
            )
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            await self._serve(_Conn(reader, writer, self.limits), peer)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            self.throttle.log(
                logging.INFO, "connection", "agents' endpoint: %s: %s", peer, exc or type(exc)
            )
        finally:
            if writer is not None:
                writer.transport.abort()
            else:
                sock.close()
            me = asyncio.current_task()
            self._waiting.pop(me, None)  # type: ignore[arg-type]
            if self._peers.pop(me, None) is not None:  # type: ignore[arg-type]
                left = self.by_address.get(peer, 1) - 1
                if left:
                    self.by_address[peer] = left
                else:
                    self.by_address.pop(peer, None)

    async def _serve(self, conn: _Conn, peer: str) -> None:
        loop = asyncio.get_running_loop()
        for served in range(self.limits.max_requests):
            wait = self.limits.header_timeout if served == 0 else self.limits.keepalive_timeout
            me = asyncio.current_task()
            if served:
                self._waiting[me] = loop.time()  # type: ignore[index]
            try:
                async with asyncio.timeout(wait):
                    event = await conn.next_event()
                self._waiting.pop(me, None)  # type: ignore[arg-type]
            except TimeoutError:
                if served == 0 or conn.h11.their_state is not h11.IDLE or conn.h11.trailing_data[0]:
                    self.throttle.log(
                        logging.INFO,
                        "slow",
                        "agents' endpoint: %s sent no whole request in %g s: closed",
                        peer,
                        wait,
                    )
                return
            except h11.RemoteProtocolError as exc:
                self.throttle.log(
                    logging.INFO, "bad-request", "agents' endpoint: %s: %s", peer, exc
                )
                status = exc.error_status_hint if exc.error_status_hint >= 400 else 400
                with contextlib.suppress(h11.LocalProtocolError):
                    await self._answer(conn, Reply.json(status, {"error": str(exc)}), keep=False)
                return
            if not isinstance(event, h11.Request):
                return  # the client closed its end
            size = len(event.target) + sum(len(k) + len(v) + 4 for k, v in event.headers)
            if size > self.limits.max_header_bytes:  # it came whole, in one read
                reply = Reply.json(431, {"error": "request headers too large"})
                await self._answer(conn, reply, keep=False)
                return
            declared = None
            length = dict(event.headers).get(b"content-length")
            if length is not None:
                declared = int(length)  # h11 has checked it is digits
            body = Body(conn, declared, loop.time() + self.limits.body_timeout)
            try:
                reply = await self.handler(_head(event, peer), body)
            except BodyTooLarge as exc:
                reply = Reply.json(413, {"error": str(exc)})
            except BodyTimeout:
                self.throttle.log(
                    logging.INFO,
                    "slow",
                    "agents' endpoint: %s sent no whole body in %g s: closed",
                    peer,
                    self.limits.body_timeout,
                )
                reply = Reply.json(408, {"error": "the body did not arrive in time"})
            except (ClientGone, h11.RemoteProtocolError):
                return
            except Exception:  # one request's failure never takes the endpoint down
                self.throttle.log(
                    logging.ERROR,
                    "failed",
                    "agents' endpoint: a request from %s failed",
                    peer,
                    exc_info=True,
                )
                reply = Reply.json(500, {"error": "the request could not be handled"})
            keep = served + 1 < self.limits.max_requests and await body.discard()
            await self._answer(conn, reply, keep=keep)
            if not keep or conn.h11.our_state is not h11.DONE:
                return
            conn.h11.start_next_cycle()

    async def _answer(self, conn: _Conn, reply: Reply, *, keep: bool) -> None:
        headers = [*reply.headers, ("Content-Length", str(len(reply.body)))]
        if not keep:
            headers.append(("Connection", "close"))
        await conn.send(
            h11.Response(status_code=reply.status, headers=headers),
            h11.Data(data=reply.body),
            h11.EndOfMessage(),
        )
