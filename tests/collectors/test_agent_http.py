"""The agents' HTTPS endpoint, served for real on loopback with a trusted test certificate."""

from __future__ import annotations

import hashlib
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import web

from collectors.agent_http import AgentEndpoint, IngestSettings, tls_context
from monitord.agents import add_agent, revoke_agent
from monitord.app import App
from monitord.clock import FixedClock
from tests.collectors.test_spool import report

pytestmark = pytest.mark.stores


class Served:
    def __init__(self, url: str, ssl_ctx: ssl.SSLContext, spool: Path, evidence: Path) -> None:
        self.url = url
        self.ssl = ssl_ctx
        self.spool = spool
        self.evidence = evidence

    def spooled(self) -> list[Path]:
        return sorted(self.spool.glob("*.jsonl")) if self.spool.exists() else []


@pytest.fixture
async def served(tmp_path: Path, app: App, clock: FixedClock) -> AsyncIterator[Served]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    settings = IngestSettings(
        tmp_path / "spool", tmp_path / "evidence", max_body=4096, rate_per_minute=60
    )
    endpoint = AgentEndpoint(app.engine, clock, settings, app.cfg.tz)
    runner = web.AppRunner(endpoint.app())
    await runner.setup()
    tls = tls_context(tmp_path / "server.pem", tmp_path / "server.pem")
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    try:
        yield Served(f"https://127.0.0.1:{port}", client_ctx, settings.spool, settings.evidence)
    finally:
        await runner.cleanup()


async def post(
    s: Served, path: str, body: bytes, token: str | None
) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(s.url + path, data=body, headers=headers, ssl=s.ssl) as resp,
    ):
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, {"text": text}


def body(*lines: str) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


async def test_good_reports_are_spooled_for_the_pipeline(served: Served, app: App) -> None:
    token = add_agent(app.engine, "y6-lt-07", "it", app.clock.now())
    status, answer = await post(served, "/v1/reports", body(report(1), report(2)), token)
    assert (status, answer["accepted"]) == (202, 2)
    [spooled] = served.spooled()
    assert spooled.read_text().splitlines() == [report(1), report(2)]


@pytest.mark.parametrize("token", [None, "wrong", "x" * 300])
async def test_no_or_bad_token_is_401_and_nothing_kept(
    served: Served, app: App, token: str | None
) -> None:
    add_agent(app.engine, "y6-lt-07", "it", app.clock.now())
    status, answer = await post(served, "/v1/reports", body(report(1)), token)
    assert status == 401
    assert "token" in str(answer["error"])
    assert served.spooled() == []


async def test_a_revoked_token_no_longer_works(served: Served, app: App) -> None:
    token = add_agent(app.engine, "y6-lt-07", "it", app.clock.now())
    revoke_agent(app.engine, "y6-lt-07", "it", app.clock.now())
    assert (await post(served, "/v1/reports", body(report(1)), token))[0] == 401
    assert served.spooled() == []


async def test_bad_reports_are_422_with_reasons_and_nothing_kept(served: Served, app: App) -> None:
    token = add_agent(app.engine, "y6-lt-07", "it", app.clock.now())
    bad = json.dumps({"schema": "monitord.agent/1", "agent_id": "y6-lt-07"})
    status, answer = await post(served, "/v1/reports", body(report(1), bad, "{not json"), token)
    assert status == 422
    lines = answer["lines"]
    assert isinstance(lines, list)
    assert [e["line"] for e in lines] == [2, 3]
    assert all(e["reason"] for e in lines)
    assert served.spooled() == []


async def test_reports_for_another_agent_are_403(served: Served, app: App) -> None:
    token = add_agent(app.engine, "suite-pc-01", "it", app.clock.now())
    status, answer = await post(served, "/v1/reports", body(report(1)), token)
    assert status == 403
    assert "is not this token's agent 'suite-pc-01'" in str(answer["error"])


async def test_oversized_body_is_413(served: Served, app: App) -> None:
    token = add_agent(app.engine, "y6-lt-07", "it", app.clock.now())
    status, _ = await post(served, "/v1/reports", body(*[report(i) for i in range(40)]), token)
    assert status == 413
    assert served.spooled() == []


async def test_rate_limit_per_agent(served: Served, app: App) -> None:
    token = add_agent(app.engine, "y6-lt-07", "it", app.clock.now())
    codes = [(await post(served, "/v1/reports", body(report(i)), token))[0] for i in range(14)]
    assert codes[:11] == [202] * 11  # a burst of a sixth of the minute's rate, plus one
    assert 429 in codes[11:]


async def test_screenshots_checked_and_kept_by_hash(served: Served, app: App) -> None:
    token = add_agent(app.engine, "y6-lt-07", "it", app.clock.now())
    picture = b"\x89PNG pretend"
    digest = hashlib.sha256(picture).hexdigest()
    status, _ = await post(served, f"/v1/screenshots/{digest}", picture, token)
    assert status == 201
    assert (served.evidence / "screenshots" / digest[:2] / digest).read_bytes() == picture
    status, answer = await post(served, f"/v1/screenshots/{'0' * 64}", picture, token)
    assert status == 422
    assert "content's sha256" in str(answer["error"])
    status, _ = await post(served, "/v1/screenshots/..%2F..%2Fetc%2Fpasswd", picture, token)
    assert status in (404, 422)
    assert [p.name for p in served.evidence.rglob("*") if p.is_file()] == [digest]
