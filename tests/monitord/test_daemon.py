"""The daemon as systemd runs it: a real process following a real file, stopped by SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from monitord.initdir import init_dir


def start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitord", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            value = conn.execute(sql).fetchone()[0]
        except sqlite3.OperationalError:
            return 0
    return int(value or 0)


def wait_for(db: Path, sql: str, want: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    got = 0
    while time.monotonic() < deadline:
        got = count(db, sql)
        if got >= want:
            return got
        time.sleep(0.1)
    return got


def line(n: int, host: str = "www.bbc.co.uk") -> str:
    stamp = f"Nov 19 10:{n // 60 % 60:02d}:{n % 60:02d}"
    return f"{stamp} dnsmasq[811]: query[A] {host} from 10.0.0.{n % 250}\n"


def test_follow_stop_and_resume_without_loss_or_doubling(tmp_path: Path) -> None:
    config = init_dir(tmp_path / "site")[0]
    log = tmp_path / "resolver.log"
    log.write_text("")
    with config.open("a") as fh:
        fh.write(
            f'\n[pipeline]\npoll_interval = 0.2\n\n[[sources]]\nname = "resolver"\n'
            f'format = "dnsmasq"\npath = "{log}"\n'
        )
    db = tmp_path / "site" / "var" / "monitord.db"
    events = "SELECT count(*) FROM events"

    proc = start(config)
    try:
        with log.open("a") as fh:
            for n in range(300):
                fh.write(line(n))
            fh.write(line(300, "www.pornhub.com"))
            fh.write("Nov 19 10:05:00 dnsmasq[811]: query[A] half-writ")  # no newline yet
        assert wait_for(db, events, 301) == 301
        assert wait_for(db, "SELECT count(*) FROM outbox WHERE status = 'sent'", 1) == 1
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    size_without_partial = sum(len(line(n)) for n in range(300)) + len(line(300, "www.pornhub.com"))
    assert (
        count(db, "SELECT offset FROM checkpoints WHERE source = 'resolver'")
        == size_without_partial
    )
    assert len(list((tmp_path / "site" / "var" / "outbox-mail").glob("*.eml"))) == 1

    # The partial line is finished while the daemon is down; more lines follow after restart.
    with log.open("a") as fh:
        fh.write(".example from 10.0.0.9\n")
    proc = start(config)
    try:
        with log.open("a") as fh:
            for n in range(301, 400):
                fh.write(line(n))
        assert wait_for(db, events, 401) == 401
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert count(db, events) == 401
    assert count(db, "SELECT count(*) FROM events WHERE domain = 'half-writ.example'") == 1
    assert count(db, "SELECT count(*) FROM alerts") == 1
