"""The daemon as it runs in a school: a real process following a real log, mailing a real SMTP
server on the loopback address, killed with SIGKILL between two bursts of alerts and started
again. Every alert is mailed exactly once, and the open alerts are remembered."""

from __future__ import annotations

import email
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from monitord.service.initdir import init_dir
from tests.alerting.test_delivery import free_port

TZ = ZoneInfo("Europe/London")


class Mailbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(bytes(envelope.original_content))
        return "250 2.0.0 OK"

    def ids(self) -> list[str]:
        with self.lock:
            got = list(self.messages)
        return [str(email.message_from_bytes(m, policy=default_policy)["Message-ID"]) for m in got]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitord", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute(sql).fetchone()[0] or 0)
        except sqlite3.OperationalError:
            return 0


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def burst(log: Path, first: int, n: int) -> None:
    """n lookups of a listed site, each from a different address, with ordinary ones between."""
    with log.open("a", encoding="utf-8") as fh:
        for i in range(first, first + n):
            stamp = datetime.now(TZ).strftime("%b %d %H:%M:%S")
            fh.write(f"{stamp} dnsmasq[811]: query[A] www.bbc.co.uk from 10.9.0.{i}\n")
            fh.write(f"{stamp} dnsmasq[811]: query[A] a{i}.pornhub.com from 10.9.0.{i}\n")


def test_sigkill_between_bursts_mails_every_alert_exactly_once(
    tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    config = init_dir(tmp_path / "site")[0]
    log = tmp_path / "resolver.log"
    log.write_text("", encoding="utf-8")
    text = config.read_text(encoding="utf-8")
    for old, new in (
        ('host = ""', 'host = "127.0.0.1"'),
        ("port = 587", f"port = {port}"),
        ('security = "starttls"', 'security = "none"'),
    ):
        text = text.replace(old, new, 1)
    config.write_text(
        text + "\n[alerts]\nmax_mails_per_hour = 0\n\n[pipeline]\npoll_interval = 0.2\n\n"
        f'[[sources]]\nname = "resolver"\nformat = "dnsmasq"\npath = "{log}"\n',
        encoding="utf-8",
    )
    db = tmp_path / "site" / "var" / "monitord.db"
    sent = "SELECT count(*) FROM outbox WHERE status = 'sent'"

    proc = start(config)
    try:
        burst(log, 1, 20)
        assert wait_until(lambda: count(db, sent) == 20), box.ids()
    finally:
        proc.kill()  # SIGKILL: no chance to finish anything
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGKILL, output
    assert len(box.ids()) == 20

    # Down for a while: the next burst is written before the daemon is back.
    burst(log, 21, 10)
    proc = start(config)
    try:
        burst(log, 31, 10)
        burst(log, 1, 1)  # the first address again: grows its open alert, no new mail
        assert wait_until(lambda: count(db, sent) == 40 and len(box.ids()) >= 40)
        assert wait_until(lambda: count(db, "SELECT max(count) FROM alerts") == 2)
        time.sleep(1.0)  # anything sent twice would arrive now
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    ids = box.ids()
    assert len(ids) == 40
    assert len(set(ids)) == 40
    assert sorted(ids) == sorted(
        f"<alert-{n}.default.monitord@school.example>" for n in range(1, 41)
    )
    assert count(db, "SELECT count(*) FROM alerts") == 40
    assert count(db, "SELECT count(*) FROM outbox") == 40
    assert count(db, "SELECT count(*) FROM audit WHERE action = 'mail.sent'") == 40
