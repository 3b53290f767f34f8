"""No task dies silently: the supervisor on its own, a daemon whose writer keeps failing
(unhealthy on /v1/health, in `monitord status`, in systemd's STATUS= and no longer feeding
the watchdog, healthy again once the store is back), and a store it cannot write at start."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from monitord.core.clock import FixedClock, SystemClock
from monitord.service.app import open_app
from monitord.service.daemon import Daemon
from monitord.service.initdir import init_dir
from monitord.service.status import collect_status, render
from monitord.service.supervise import Supervisor, health_path, read_health, write_health
from monitord.settings.config import load_config
from tests.stores import row

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def test_a_failing_task_is_logged_restarted_and_named_until_it_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = Supervisor(FixedClock(NOW), backoff=0.01, backoff_max=0.02, unhealthy_after=3)
    runs: list[int] = []
    seen: list[list[str]] = []

    async def flaky() -> None:
        runs.append(len(runs))
        seen.append([h.name for h in supervisor.unhealthy()])
        if len(runs) <= 4:
            raise OSError(f"failure {len(runs)}")
        supervisor.ok("reader")

    async def main() -> None:
        stopping = asyncio.Event()
        await supervisor.spawn("reader", flaky, stopping)

    caplog.set_level(logging.INFO, "monitord.service.supervise")
    asyncio.run(main())
    assert len(runs) == 5
    # Unhealthy from the third failure in a row until the run that worked.
    assert seen == [[], [], [], ["reader"], ["reader"]]
    assert supervisor.unhealthy() == []
    [health] = supervisor.tasks.values()
    assert (health.restarts, health.failures, health.state) == (4, 0, "stopped")
    assert health.last_error == "OSError: failure 4"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert [r.getMessage() for r in errors][:2] == [
        "reader failed (1 in a row): OSError: failure 1",
        "reader failed (2 in a row): OSError: failure 2",
    ]
    assert "reader keeps failing: monitord is unhealthy" in caplog.messages
    assert "reader works again after 4 failures" in caplog.messages


def test_a_task_that_fails_while_the_daemon_stops_is_not_started_again() -> None:
    supervisor = Supervisor(FixedClock(NOW), backoff=0.01)
    runs: list[int] = []

    async def main() -> None:
        stopping = asyncio.Event()

        async def failing() -> None:
            runs.append(1)
            stopping.set()
            raise RuntimeError("store gone")

        await supervisor.spawn("writer", failing, stopping)

    asyncio.run(main())
    assert runs == [1]
    assert supervisor.tasks["writer"].state == "stopped"


def test_the_health_file_says_whether_the_daemon_runs(tmp_path: Path) -> None:
    path = tmp_path / "monitord.service.health.json"
    assert read_health(path, NOW) == {"running": False, "reason": "no daemon has run here yet"}
    supervisor = Supervisor(FixedClock(NOW))
    supervisor.failed("writer", OSError("disk full"), logged=True)
    write_health(path, supervisor.report())
    fresh = read_health(path, NOW + timedelta(seconds=10))
    assert fresh["running"] is True
    assert fresh["tasks"][0]["last_error"] == "OSError: disk full"
    stale = read_health(path, NOW + timedelta(minutes=10))
    assert stale["running"] is False
    assert stale["reason"] == "last seen 2026-11-20T16:00:00Z"
    path.write_text("{not json")
    assert read_health(path, NOW)["reason"].startswith(f"{path} cannot be read: JSONDecodeError")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A socket standing in for systemd's: what the daemon sends it is read back."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # fed every 0.1 s while healthy
    yield sock
    sock.close()


def _received(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


def test_a_writer_that_keeps_failing_makes_the_daemon_unhealthy_until_it_works(
    tmp_path: Path, notify_socket: socket.socket
) -> None:
    config = init_dir(tmp_path / "site")[0]
    log = tmp_path / "resolver.log"
    log.write_text("")
    port = _free_port()
    with config.open("a") as fh:
        fh.write(
            f'\n[pipeline]\npoll_interval = 0.05\n\n[agents]\nlisten = "127.0.0.1:{port}"\n'
            f'\n[[sources]]\nname = "resolver"\nformat = "dnsmasq"\npath = "{log}"\n'
        )
    cfg = load_config(config)
    clock = SystemClock()
    app = open_app(cfg, clock)
    daemon = Daemon(app, clock)
    daemon.tasks = Supervisor(clock, backoff=0.05, backoff_max=0.1, unhealthy_after=3)
    health_url = f"http://127.0.0.1:{port}/v1/health"

    async def health(session: aiohttp.ClientSession) -> tuple[int, object]:
        async with session.get(health_url) as resp:
            return resp.status, await resp.json()

    async def until(check: object, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():  # type: ignore[operator]
            assert time.monotonic() < deadline, "waited too long"
            await asyncio.sleep(0.05)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    assert await health(session) == (200, {"ok": True, "unhealthy": []})
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            # The store loses the table the writer needs: every batch fails.
            with app.engine.begin() as conn:
                conn.execute(text("ALTER TABLE matches RENAME TO matches_away"))
            with log.open("a") as fh:
                fh.write("Nov 19 10:01:09 dnsmasq[811]: query[A] www.bet365.com from 10.0.0.7\n")
            await until(lambda: daemon.tasks.unhealthy())
            assert await health(session) == (503, {"ok": False, "unhealthy": ["writer"]})
            _received(notify_socket)
            await asyncio.sleep(0.5)
            assert not any("WATCHDOG=1" in m for m in _received(notify_socket))
            report = read_health(health_path(cfg), datetime.now(UTC))
            assert report["running"] is True
            assert report["unhealthy"] == ["writer"]
            lines = render(collect_status(cfg, app.engine, datetime.now(UTC)))
            assert lines[1].startswith("daemon: UNHEALTHY")
            assert lines[2].startswith("  writer: failing, ")
            assert "OperationalError: (sqlite3.OperationalError) no such table: matches" in lines[2]
            # The store is put right: the same batch goes in, once, and all is well again.
            with app.engine.begin() as conn:
                conn.execute(text("ALTER TABLE matches_away RENAME TO matches"))
            await until(lambda: not daemon.tasks.unhealthy())
            assert await health(session) == (200, {"ok": True, "unhealthy": []})
            await asyncio.sleep(0.3)
            assert any("WATCHDOG=1" in m for m in _received(notify_socket))
        daemon.stop()

    async def main() -> None:
        await asyncio.gather(daemon.run(), scenario())

    asyncio.run(main())
    assert row(app.engine, "SELECT count(*), max(domain) FROM events") == (1, "www.bet365.com")
    assert row(app.engine, "SELECT count(*) FROM alerts") == (1,)
    assert row(app.engine, "SELECT lines, events FROM checkpoints") == (1, 1)


def test_a_store_it_cannot_write_stops_the_daemon_at_start_with_one_line() -> None:
    """The store and its folder belong to another user (a store made by root, the service
    running as monitord): `run` exits 1 at once, saying so in one line."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run the daemon as a user the store is not")
    top = Path(tempfile.mkdtemp(prefix="monitord-ro-"))
    top.chmod(0o755)
    try:
        config = init_dir(top / "site")[0]
        open_app(load_config(config), SystemClock()).engine.dispose()
        var = top / "site" / "var"
        for path in (var, *var.rglob("*")):
            os.chown(path, 12345, 12345)
        cache = top / "cache"
        cache.mkdir(mode=0o777)
        cache.chmod(0o777)
        # Another user, allowed to read (the interpreter lives under /root) but not to write.
        user = ["--reuid=12346", "--regid=12346", "--clear-groups"]
        read = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        command = [sys.executable, "-m", "monitord", "--config", str(config), "run"]
        proc = subprocess.run(
            [setpriv, *user, *read, *command],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "MPLCONFIGDIR": str(cache), "HOME": str(cache)},
        )
    finally:
        shutil.rmtree(top)
    assert proc.returncode == 1, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("ERROR monitord: cannot start: the store sqlite:///")
    assert "cannot be written by user uid 12346: OperationalError: " in line
    assert line.endswith("attempt to write a readonly database")
