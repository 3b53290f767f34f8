"""The HTTPS ingest endpoint for agents that push their reports (served by
:mod:`collectors.httpserve`, which holds the limits on slow and many clients).

``POST /v1/reports`` with ``Authorization: Bearer TOKEN`` and a JSON Lines body of
``monitord.agent/1`` reports: every report is validated first; if all are good they are
written into the spool as one file (under a temporary name, synced, then renamed) and the
answer is 202, else 422 naming each bad line and nothing is kept. ``POST
/v1/screenshots/SHA256`` stores a screenshot under its hash after checking it, within the
agent's ``screenshot_quota`` (507 when it is full). A missing,
wrong or revoked token is 401 with nothing stored; a report for another agent, or for any
device but the one the agent was enrolled for, is 403 (and logged), as is any request from an
agent bound to no device; a report whose time is more than ``max_backfill`` old or five
minutes ahead is 422 with nothing kept; a body over the limit (declared, or chunked past it)
is 413; an agent over its rate is 429.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from collectors.agentguard import device_refusal, time_refusal
from collectors.httpserve import Body, Head, Limits, Reply, Server, ThrottledLog
from collectors.parsers.agent import parse_line
from collectors.parsers.base import ParseContext
from collectors.screenshots import MAX_SCREENSHOT, ScreenshotError, check_blob, store_blob
from monitord.core.clock import Clock
from monitord.core.model import Event, EventKind
from monitord.core.private import write_private
from monitord.identity.agents import Enrolment, agent_for_token
from monitord.settings.sections import Agents
from monitord.store.shots import admit

MAX_ERRORS = 20


@dataclass
class Bucket:
    """A token bucket: ``rate`` requests a minute, bursts up to ``burst``."""

    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate / 60.0)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class IngestSettings:
    spool: Path
    evidence: Path
    max_body: int = 1024 * 1024
    rate_per_minute: float = 600.0
    limits: Limits = field(default_factory=Limits)
    max_backfill: timedelta = timedelta(days=7)
    screenshot_quota: int = 512 * 1024 * 1024


def _error(status: int, message: str, **extra: object) -> Reply:
    return Reply.json(status, {"error": message, **extra})


class AgentEndpoint:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        settings: IngestSettings,
        tz: ZoneInfo,
        health: Callable[[], dict[str, object]] | None = None,
    ) -> None:
        self.health_report = health
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self.tz = tz
        self.buckets: dict[str, Bucket] = {}
        self.throttle = ThrottledLog(logging.getLogger("monitord.endpoint"))

    async def handle(self, head: Head, body: Body) -> Reply:
        """Route one request (the server has read its head; the body is read on demand)."""
        path = head.path
        if path == "/v1/health":
            return self.health()
        if path == "/v1/reports" or path.startswith("/v1/screenshots/"):
            if head.method != "POST":
                return Reply.json(405, {"error": "POST only"}, ("Allow", "POST"))
            if path == "/v1/reports":
                return await self.reports(head, body)
            return await self.screenshot(head, body, path.removeprefix("/v1/screenshots/"))
        return _error(404, "no such endpoint")

    def health(self) -> Reply:
        """200 while the daemon is healthy; 503 naming the tasks that keep failing (their
        errors stay on the server: ``monitord status`` shows them)."""
        if self.health_report is None:
            return Reply.json(200, {"ok": True})
        report = self.health_report()
        ok = bool(report.get("ok"))
        return Reply.json(200 if ok else 503, {"ok": ok, "unhealthy": report.get("unhealthy", [])})

    async def _agent(self, head: Head) -> Enrolment | Reply:
        """The agent a request's token belongs to, or the answer that refuses it."""
        header = head.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, "an Authorization: Bearer token is required")
        enrolment = await asyncio.to_thread(
            agent_for_token, self.engine, token.strip(), self.clock.now()
        )
        if enrolment is None:
            return _error(401, "unknown or revoked token")
        if enrolment.device_id is None or not enrolment.known:
            reason = device_refusal(Event(EventKind.DEVICE, self.clock.now()), enrolment)
            self.throttle.log(
                logging.WARNING,
                "unbound",
                "agents' endpoint: %s from %s: refused",
                reason,
                head.peer,
            )
            return _error(403, str(reason))
        name = enrolment.agent
        bucket = self.buckets.setdefault(
            name,
            Bucket(
                self.settings.rate_per_minute,
                self.settings.rate_per_minute / 6 + 1,
                self.settings.rate_per_minute / 6 + 1,
            ),
        )
        if not bucket.take():
            return Reply.json(429, {"error": "too many requests: slow down"}, ("Retry-After", "10"))
        return enrolment

    async def reports(self, head: Head, request: Body) -> Reply:
        enrolment = await self._agent(head)
        if isinstance(enrolment, Reply):
            return enrolment
        agent = enrolment.agent
        body = await request.read(self.settings.max_body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _error(422, "body is not UTF-8")
        now = self.clock.now()
        ctx = ParseContext(self.tz, now)
        errors: list[dict[str, object]] = []
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if not lines:
            return _error(422, "no reports in the body")
        for n, line in lines:
            parsed = parse_line(line, ctx)
            if parsed.rejected is not None:
                errors.append({"line": n, "reason": parsed.rejected})
                continue
            owner = json.loads(line).get("agent_id")
            if owner != agent:
                return _error(
                    403,
                    f"line {n}: agent_id {str(owner)[:64]!r} is not this token's agent {agent!r}",
                )
            for ev in parsed.events:
                refused = device_refusal(ev, enrolment)
                if refused is not None:
                    self.throttle.log(
                        logging.WARNING,
                        "other-device",
                        "agents' endpoint: %s from %s: refused",
                        refused,
                        head.peer,
                    )
                    return _error(403, f"line {n}: {refused}")
                late = time_refusal(ev.ts, now, self.settings.max_backfill)
                if late is not None:
                    errors.append({"line": n, "reason": late})
        if errors:
            return _error(422, "bad reports: nothing was kept", lines=errors[:MAX_ERRORS])
        name = await asyncio.to_thread(
            self._spool, agent, "".join(line + "\n" for _, line in lines)
        )
        return Reply.json(202, {"accepted": len(lines), "file": name})

    def _spool(self, agent: str, content: str) -> str:
        stamp = self.clock.now().strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{agent}-{uuid.uuid4().hex[:12]}.jsonl"
        # Reports hold what pupils typed: 0600, never through a link, never over a file.
        write_private(self.settings.spool / name, content.encode(), replace=False)
        return name

    async def screenshot(self, head: Head, request: Body, digest: str) -> Reply:
        enrolment = await self._agent(head)
        if isinstance(enrolment, Reply):
            return enrolment
        body = await request.read(MAX_SCREENSHOT)
        try:
            check_blob(body, digest)
        except ScreenshotError as exc:
            return _error(422, str(exc))
        over = await asyncio.to_thread(
            admit,
            self.engine,
            enrolment.agent,
            digest,
            len(body),
            self.settings.screenshot_quota,
            self.clock.now(),
        )
        if over is not None:
            self.throttle.log(logging.WARNING, "quota", "agents' endpoint: %s", over)
            return _error(507, over)
        try:
            path = await asyncio.to_thread(store_blob, body, digest, self.settings.evidence)
        except ScreenshotError as exc:
            return _error(422, str(exc))
        return Reply.json(201, {"stored": digest, "bytes": len(body), "path": path.name})

    async def serve(self, host: str, port: int, tls: ssl.SSLContext | None) -> Server:
        """Listen on ``host:port`` with the configured limits; ``close()`` the result."""
        server = Server(self.handle, self.settings.limits, tls=tls)
        await server.start(host, port)
        return server


def endpoint_limits(agents: Agents) -> Limits:
    """The server's limits from the ``[agents]`` section."""
    return Limits(
        header_timeout=agents.header_timeout.total_seconds(),
        body_timeout=agents.body_timeout.total_seconds(),
        keepalive_timeout=agents.keepalive_timeout.total_seconds(),
        max_requests=agents.max_requests,
        max_connections=agents.max_connections,
        max_per_address=agents.max_per_address,
    )


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
