"""The HTTPS ingest endpoint for agents that push their reports.

``POST /v1/reports`` with ``Authorization: Bearer TOKEN`` and a JSON Lines body of
``monitord.agent/1`` reports: every report is validated first; if all are good they are
written into the spool as one file (under a temporary name, synced, then renamed) and the
answer is 202, else 422 naming each bad line and nothing is kept. ``POST
/v1/screenshots/SHA256`` stores a screenshot under its hash after checking it. A missing,
wrong or revoked token is 401 with nothing stored; a report for another agent is 403; a body
over the limit is 413; an agent over its rate is 429.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import Engine

from collectors.agent import parse_line
from collectors.base import ParseContext
from collectors.screenshots import MAX_SCREENSHOT, ScreenshotError, store_blob
from monitord.agents import agent_for_token
from monitord.clock import Clock

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


def _error(status: int, message: str, **extra: object) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


class AgentEndpoint:
    def __init__(
        self, engine: Engine, clock: Clock, settings: IngestSettings, tz: ZoneInfo
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self.tz = tz
        self.buckets: dict[str, Bucket] = {}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=max(self.settings.max_body, MAX_SCREENSHOT))
        app.add_routes(
            [
                web.post("/v1/reports", self.reports),
                web.post("/v1/screenshots/{sha256}", self.screenshot),
                web.get("/v1/health", self.health),
            ]
        )
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _agent(self, request: web.Request) -> str | web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, "an Authorization: Bearer token is required")
        name = await asyncio.to_thread(
            agent_for_token, self.engine, token.strip(), self.clock.now()
        )
        if name is None:
            return _error(401, "unknown or revoked token")
        bucket = self.buckets.setdefault(
            name,
            Bucket(
                self.settings.rate_per_minute,
                self.settings.rate_per_minute / 6 + 1,
                self.settings.rate_per_minute / 6 + 1,
            ),
        )
        if not bucket.take():
            return web.json_response(
                {"error": "too many requests: slow down"}, status=429, headers={"Retry-After": "10"}
            )
        return name

    async def reports(self, request: web.Request) -> web.Response:
        agent = await self._agent(request)
        if isinstance(agent, web.Response):
            return agent
        if request.content_length is not None and request.content_length > self.settings.max_body:
            return _error(413, f"body larger than {self.settings.max_body} bytes")
        body = await request.read()
        if len(body) > self.settings.max_body:
            return _error(413, f"body larger than {self.settings.max_body} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _error(422, "body is not UTF-8")
        ctx = ParseContext(self.tz, self.clock.now())
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
        if errors:
            return _error(422, "bad reports: nothing was kept", lines=errors[:MAX_ERRORS])
        name = await asyncio.to_thread(
            self._spool, agent, "".join(line + "\n" for _, line in lines)
        )
        return web.json_response({"accepted": len(lines), "file": name}, status=202)

    def _spool(self, agent: str, content: str) -> str:
        folder = self.settings.spool
        folder.mkdir(parents=True, exist_ok=True)
        stamp = self.clock.now().strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{agent}-{uuid.uuid4().hex[:12]}.jsonl"
        tmp = folder / f".{name}.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / name)
        return name

    async def screenshot(self, request: web.Request) -> web.Response:
        agent = await self._agent(request)
        if isinstance(agent, web.Response):
            return agent
        digest = request.match_info["sha256"]
        body = await request.read()
        try:
            path = await asyncio.to_thread(store_blob, body, digest, self.settings.evidence)
        except ScreenshotError as exc:
            return _error(422, str(exc))
        return web.json_response(
            {"stored": digest, "bytes": len(body), "path": path.name}, status=201
        )


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
