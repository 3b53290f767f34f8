"""The agents' HTTPS endpoint, served for real on loopback with a trusted test certificate."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import trustme
from sqlalchemy import update

from collectors.agent_http import AgentEndpoint, IngestSettings, tls_context
from collectors.httpserve import Limits, Server
from monitord.core.clock import FixedClock
from monitord.identity.agents import revoke_agent
from monitord.service.app import App
from monitord.store.database import table_of
from monitord.store.tables import AgentRow
from tests.collectors.test_spool import report
from tests.monitord.identity.test_agents import enrol

pytestmark = pytest.mark.stores


class Served:
    def __init__(self, url: str, ssl_ctx: ssl.SSLContext, spool: Path, evidence: Path) -> None:
        self.url = url
        self.ssl = ssl_ctx
        self.spool = spool
        self.evidence = evidence

    def spooled(self) -> list[Path]:
        return sorted(self.spool.glob("*.jsonl")) if self.spool.exists() else []


async def start(
    tmp_path: Path,
    app: App,
    clock: FixedClock,
    limits: Limits | None = None,
    quota: int = 512 * 1024 * 1024,
) -> tuple[Served, Server]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    settings = IngestSettings(
        tmp_path / "spool",
        tmp_path / "evidence",
        max_body=4096,
        rate_per_minute=60,
        limits=limits or Limits(),
        screenshot_quota=quota,
    )
    endpoint = AgentEndpoint(app.engine, clock, settings, app.cfg.tz)
    tls = tls_context(tmp_path / "server.pem", tmp_path / "server.pem")
    server = await endpoint.serve("127.0.0.1", 0, tls)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    url = f"https://127.0.0.1:{server.port}"
    return Served(url, client_ctx, settings.spool, settings.evidence), server


@pytest.fixture
async def served(tmp_path: Path, app: App, clock: FixedClock) -> AsyncIterator[Served]:
    s, server = await start(tmp_path, app, clock)
    try:
        yield s
    finally:
        await server.close()


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
    token = enrol(app, served.spool.parent)
    status, answer = await post(served, "/v1/reports", body(report(1), report(2)), token)
    assert (status, answer["accepted"]) == (202, 2)
    [spooled] = served.spooled()
    assert spooled.read_text().splitlines() == [report(1), report(2)]


@pytest.mark.parametrize("token", [None, "wrong", "x" * 300])
async def test_no_or_bad_token_is_401_and_nothing_kept(
    served: Served, app: App, token: str | None
) -> None:
    enrol(app, served.spool.parent)
    status, answer = await post(served, "/v1/reports", body(report(1)), token)
    assert status == 401
    assert "token" in str(answer["error"])
    assert served.spooled() == []


async def test_a_revoked_token_no_longer_works(served: Served, app: App) -> None:
    token = enrol(app, served.spool.parent)
    revoke_agent(app.engine, "y6-lt-07", "it", app.clock.now())
    assert (await post(served, "/v1/reports", body(report(1)), token))[0] == 401
    assert served.spooled() == []


async def test_bad_reports_are_422_with_reasons_and_nothing_kept(served: Served, app: App) -> None:
    token = enrol(app, served.spool.parent)
    bad = json.dumps({"schema": "monitord.agent/1", "agent_id": "y6-lt-07"})
    status, answer = await post(served, "/v1/reports", body(report(1), bad, "{not json"), token)
    assert status == 422
    lines = answer["lines"]
    assert isinstance(lines, list)
    assert [e["line"] for e in lines] == [2, 3]
    assert all(e["reason"] for e in lines)
    assert served.spooled() == []


async def test_reports_for_another_agent_are_403(served: Served, app: App) -> None:
    token = enrol(app, served.spool.parent, "suite-pc-01", "pc1")
    status, answer = await post(served, "/v1/reports", body(report(1)), token)
    assert status == 403
    assert "is not this token's agent 'suite-pc-01'" in str(answer["error"])


async def test_oversized_body_is_413(served: Served, app: App) -> None:
    token = enrol(app, served.spool.parent)
    status, _ = await post(served, "/v1/reports", body(*[report(i) for i in range(40)]), token)
    assert status == 413
    assert served.spooled() == []


async def test_rate_limit_per_agent(served: Served, app: App) -> None:
    token = enrol(app, served.spool.parent)
    codes = [(await post(served, "/v1/reports", body(report(i)), token))[0] for i in range(14)]
    assert codes[:11] == [202] * 11  # a burst of a sixth of the minute's rate, plus one
    assert 429 in codes[11:]


async def test_screenshots_checked_and_kept_by_hash(served: Served, app: App) -> None:
    token = enrol(app, served.spool.parent)
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


async def tls_client(
    s: Served, source: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    port = int(s.url.rsplit(":", 1)[1])
    return await asyncio.open_connection(
        "127.0.0.1", port, ssl=s.ssl, server_hostname="127.0.0.1", local_addr=(source, 0)
    )


async def status_of(reader: asyncio.StreamReader) -> int:
    line = await asyncio.wait_for(reader.readline(), 5)
    return int(line.split()[1])


async def test_a_chunked_body_past_the_limit_is_413_and_nothing_kept(
    served: Served, app: App
) -> None:
    token = enrol(app, served.spool.parent)
    reader, writer = await tls_client(served)
    writer.write(
        f"POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    chunk = body(*[report(i) for i in range(5)])  # each chunk well under 4,096 bytes
    for _ in range(20):
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    assert await status_of(reader) == 413
    writer.close()
    assert served.spooled() == []


async def test_slow_clients_are_cut_off_and_do_not_hold_up_others(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    limits = Limits(header_timeout=0.5, max_per_address=4)
    s, server = await start(tmp_path, app, clock, limits)
    token = enrol(app, tmp_path)
    try:
        slow = []
        for _ in range(4):  # a slowloris: headers begun, never finished
            reader, writer = await tls_client(s, "127.0.0.2")
            writer.write(b"POST /v1/reports HTTP/1.1\r\nHost: x\r\n")
            slow.append((reader, writer))
        refused, w = await asyncio.open_connection(
            "127.0.0.1", server.port, local_addr=("127.0.0.2", 0)
        )
        assert await asyncio.wait_for(refused.read(), 2) == b""  # a fifth from that address
        w.close()
        # another address is served at once
        status, _ = await post(s, "/v1/reports", body(report(1)), token)
        assert status == 202
        for reader, writer in slow:  # and the slow ones are closed at the header timeout
            assert await asyncio.wait_for(reader.read(), 2) == b""
            writer.close()
        assert server.open_connections <= 1
    finally:
        await server.close()


def changed(line: str, **fields: object) -> str:
    report_ = json.loads(line)
    report_.update(fields)
    return json.dumps(report_)


@pytest.mark.parametrize(
    "fields",
    [
        {"hostname": "HEAD-LT"},  # the headteacher's laptop
        {"hostname": "head-lt.school.local", "mac": "aa:00:00:00:00:99"},
        {"mac": "aa:00:00:00:00:99"},  # its own host name with another device's MAC
        {"kind": "logon", "data": {}, "hostname": "HEAD-LT", "user": "s.head"},
    ],
)
async def test_a_report_for_another_device_is_403_logged_and_nothing_kept(
    served: Served, app: App, fields: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    token = enrol(app, served.spool.parent)
    caplog.set_level(logging.WARNING)
    status, answer = await post(
        served, "/v1/reports", body(report(1), changed(report(2), **fields)), token
    )
    assert status == 403
    assert "line 2: " in str(answer["error"])
    assert "is not agent 'y6-lt-07''s device 'y6-lt-07'" in str(answer["error"])
    assert served.spooled() == []
    assert "refused" in caplog.text
    assert "y6-lt-07" in caplog.text


async def test_its_own_device_by_host_name_or_device_id_and_no_mac_is_taken(
    served: Served, app: App
) -> None:
    token = enrol(app, served.spool.parent)
    lines = [
        changed(report(1), hostname="y6-lt-07.school.local"),
        changed(report(2), mac=None),
        changed(report(3), kind="logon", data={}),
    ]
    assert (await post(served, "/v1/reports", body(*lines), token))[0] == 202


async def test_an_agent_bound_to_no_device_is_refused_until_enrolled_again(
    served: Served, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    token = enrol(app, served.spool.parent)
    with app.engine.begin() as conn:  # as an agent added before migration 0012
        conn.execute(update(table_of(AgentRow)).values(device_id=None))
    caplog.set_level(logging.WARNING)
    status, answer = await post(served, "/v1/reports", body(report(1)), token)
    assert status == 403
    assert "monitord agents add y6-lt-07 --device DEVICE_ID" in str(answer["error"])
    assert "bound to no device" in caplog.text
    picture = b"\x89PNG pretend"
    digest = hashlib.sha256(picture).hexdigest()
    assert (await post(served, f"/v1/screenshots/{digest}", picture, token))[0] == 403
    assert served.spooled() == []


@pytest.mark.parametrize(
    ("ts", "status"),
    [
        ("2026-11-13T16:00:01Z", 202),  # just within 7 days before the clock (16:00, 20th)
        ("2026-11-13T15:59:59Z", 422),
        ("2026-11-20T16:04:59Z", 202),  # less than 5 minutes ahead
        ("2026-11-20T16:05:01Z", 422),
        ("9999-12-31T23:59:59Z", 422),
    ],
)
async def test_times_outside_the_backfill_window_are_refused(
    served: Served, app: App, ts: str, status: int
) -> None:
    token = enrol(app, served.spool.parent)
    code, answer = await post(served, "/v1/reports", body(changed(report(1), ts=ts)), token)
    assert code == status
    if status == 422:
        [line] = answer["lines"]  # type: ignore[misc]
        assert line["line"] == 1
        assert "max_backfill" in line["reason"] or "ahead of the server's clock" in line["reason"]
        assert served.spooled() == []


async def test_screenshots_beyond_the_agents_quota_are_507(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    s, server = await start(tmp_path, app, clock, quota=30)
    token = enrol(app, tmp_path)
    try:
        first, second = b"\x89PNG first picture", b"\x89PNG second picture"
        for data in (first, first):  # the same picture twice counts once
            digest = hashlib.sha256(data).hexdigest()
            assert (await post(s, f"/v1/screenshots/{digest}", data, token))[0] == 201
        digest = hashlib.sha256(second).hexdigest()
        status, answer = await post(s, f"/v1/screenshots/{digest}", second, token)
        assert status == 507
        assert "quota of 30" in str(answer["error"])
        assert not (s.evidence / "screenshots" / digest[:2] / digest).exists()
    finally:
        await server.close()


async def test_kept_alive_connections_are_limited_in_requests_and_idle_time(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    s, server = await start(tmp_path, app, clock, Limits(max_requests=2, keepalive_timeout=0.5))
    try:
        reader, writer = await tls_client(s)
        for n in range(2):
            writer.write(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200")
            assert (b"Connection: close" in head) == (n == 1)  # the second is the last
            await reader.readexactly(int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]))
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
        reader, writer = await tls_client(s)
        writer.write(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"Connection: close" not in head
        await reader.readexactly(int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]))
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 3) == b""  # closed once idle
        assert asyncio.get_running_loop().time() - started < 2
        writer.close()
    finally:
        await server.close()
