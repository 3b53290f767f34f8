"""The daemon as systemd runs it: a real process following a real file, stopped by SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from collectors.files import iter_records
from collectors.parsers.base import Batch, load_parser
from monitord.core.clock import FixedClock
from monitord.core.model import Checkpoint
from monitord.service.app import App
from monitord.service.daemon import Daemon, _Work
from monitord.service.initdir import init_dir

# How long a test waits for the daemon to do something before failing. Generous: the wait ends
# as soon as the thing is done, and a loaded machine (CI beside other jobs) may start a
# Python process with its model and lists in many seconds.
PATIENCE = 90.0


def start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitord", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


class Heard:
    """A running daemon's output read as it comes, for a test that waits on what it logs."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        stream = proc.stdout
        assert stream is not None
        self.lines: list[str] = []
        self._stream = stream
        self._reader = threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")))
        self._reader.start()

    def wait(self, fragment: str, times: int = 1) -> bool:
        """Whether the daemon said ``fragment`` ``times`` times before the patience ran out."""
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            if sum(fragment in x for x in self.lines) >= times:
                return True
            time.sleep(0.1)
        return False

    def close(self) -> str:
        self._reader.join(timeout=5)
        self._stream.close()
        return "".join(self.lines)


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            value = conn.execute(sql).fetchone()[0]
        except sqlite3.OperationalError:
            return 0
    return int(value or 0)


def wait_for(db: Path, sql: str, want: int, timeout: float = PATIENCE) -> int:
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
    events = "SELECT count(*) FROM all_events"

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
        output, _ = proc.communicate(timeout=PATIENCE)
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
    # At its stop the daemon anchored the audit trail outside the store, and in its log.
    anchors = Path(f"{db}.anchors").read_text().splitlines()
    last = json.loads(anchors[-1])
    assert (last["seq"], last["why"]) == (count(db, "SELECT max(id) FROM audit"), "daemon stopped")
    assert f"audit anchor: record {last['seq']} sha256 {last['hash']}" in output

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
        output, _ = proc.communicate(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert count(db, events) == 401
    assert count(db, "SELECT count(*) FROM all_events WHERE domain = 'half-writ.example'") == 1
    assert count(db, "SELECT count(*) FROM alerts") == 1


def test_sigkill_mid_ingest_then_restart_stores_every_line_once(tmp_path: Path) -> None:
    config = init_dir(tmp_path / "site")[0]
    log = tmp_path / "resolver.log"
    with config.open("a") as fh:
        fh.write(
            f"\n[pipeline]\npoll_interval = 0.2\nbatch_size = 500\n\n[[sources]]\n"
            f'name = "resolver"\nformat = "dnsmasq"\npath = "{log}"\n'
        )
    total = 40_000
    with log.open("w") as fh:
        for n in range(total):
            # Every 100th lookup is the same pupil device on a listed site: one growing alert.
            host = "www.pornhub.com" if n % 100 == 0 else f"n{n}.example"
            ip = "10.0.0.77" if n % 100 == 0 else f"10.0.0.{n % 250}"
            stamp = f"Nov 19 10:{n // 60 % 60:02d}:{n % 60:02d}"
            fh.write(f"{stamp} dnsmasq[811]: query[A] {host} from {ip}\n")
            fh.write(f"{stamp} dnsmasq[811]: forwarded {host} to 1.1.1.3\n")
    db = tmp_path / "site" / "var" / "monitord.db"
    events = "SELECT count(*) FROM all_events"

    proc = start(config)
    try:
        assert wait_for(db, events, 2_000) >= 2_000
    finally:
        proc.kill()  # SIGKILL: no chance to finish anything
        proc.communicate(timeout=PATIENCE)
    assert proc.returncode == -signal.SIGKILL
    stored_at_kill = count(db, events)
    assert stored_at_kill < total, "the daemon finished before it could be killed"

    proc = start(config)
    try:
        assert wait_for(db, events, total, timeout=4 * PATIENCE) == total
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert count(db, events) == total
    assert count(db, "SELECT count(DISTINCT id) FROM all_events") == total
    assert count(db, "SELECT offset FROM checkpoints") == log.stat().st_size
    assert count(db, "SELECT count(*) FROM alerts") == 1
    assert count(db, "SELECT count FROM alerts") == total // 100
    assert count(db, "SELECT count(*) FROM alert_events") == total // 100
    assert count(db, "SELECT count(*) FROM outbox") == 1


def test_an_agent_pushes_a_report_to_the_running_daemon(tmp_path: Path) -> None:
    import socket
    import urllib.request

    config = init_dir(tmp_path / "site")[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with config.open("a") as fh:
        fh.write(f'\n[pipeline]\npoll_interval = 0.2\n\n[agents]\nlisten = "127.0.0.1:{port}"\n')
    devices = tmp_path / "devices.csv"
    devices.write_text(
        "device_id,mac,hostname,ownership,assigned_to\ny6-lt-07,,Y6-LT-07,school_shared,\n"
    )
    monitord = [sys.executable, "-m", "monitord", "--config", str(config)]
    subprocess.run([*monitord, "devices", "import", str(devices)], timeout=60, check=True)
    added = subprocess.run(
        [*monitord, "agents", "add", "y6-lt-07", "--device", "y6-lt-07"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = added.stdout.strip().splitlines()[-1]
    report = {
        "schema": "monitord.agent/1",
        "agent_id": "y6-lt-07",
        "hostname": "Y6-LT-07",
        "ts": datetime.now(UTC).isoformat(timespec="seconds"),  # within [agents] max_backfill
        "user": "jayden.s",
        "ip": "10.20.6.7",
        "mac": None,
        "kind": "url",
        "data": {"url": "https://www.pornhub.com/"},
    }
    db = tmp_path / "site" / "var" / "monitord.db"
    proc = start(config)
    try:
        deadline = time.monotonic() + PATIENCE
        while True:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/reports",
                data=(json.dumps(report) + "\n").encode(),
                headers={"Authorization": f"Bearer {token}"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as resp:
                    assert resp.status == 202
                    break
            except OSError:
                assert time.monotonic() < deadline, "the endpoint never came up"
                time.sleep(0.2)
        assert wait_for(db, "SELECT count(*) FROM all_events WHERE fmt = 'agent'", 1) == 1
        assert wait_for(db, "SELECT count(*) FROM alerts WHERE category = 'pornography'", 1) == 1
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert list((tmp_path / "site" / "var" / "spool" / "done").glob("*.jsonl"))


def test_sighup_swaps_in_a_valid_config_and_refuses_a_broken_one(tmp_path: Path) -> None:

    config = init_dir(tmp_path / "site")[0]
    first = tmp_path / "first.log"
    second = tmp_path / "second.log"
    first.write_text("")
    second.write_text("")
    base = config.read_text() + "\n[pipeline]\npoll_interval = 0.2\n"
    source = '\n[[sources]]\nname = "{}"\nformat = "dnsmasq"\npath = "{}"\n'
    config.write_text(base + source.format("first", first))
    db = tmp_path / "site" / "var" / "monitord.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitord", "--config", str(config), "--log-format", "json", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # The daemon's answer to a SIGHUP is in its log; a test that slept instead would write the
    # next line before a slow machine had swapped its sources.
    heard = Heard(proc)
    try:
        with first.open("a") as fh:
            fh.write(line(1, "one.example"))
        assert wait_for(db, "SELECT count(*) FROM all_events", 1) == 1
        # A broken config is refused and the daemon carries on with the one it has.
        config.write_text(base.replace("port = 587", 'port = "x"'))
        proc.send_signal(signal.SIGHUP)
        assert heard.wait('"message": "reload refused'), heard.lines
        with first.open("a") as fh:
            fh.write(line(2, "two.example"))
        assert wait_for(db, "SELECT count(*) FROM all_events", 2) == 2
        # A valid one is swapped in: now the second file is followed.
        config.write_text(base + source.format("second", second))
        proc.send_signal(signal.SIGHUP)
        assert heard.wait('"message": "reload: '), heard.lines
        with second.open("a") as fh:
            fh.write(line(3, "three.example"))
        assert wait_for(db, "SELECT count(*) FROM all_events WHERE source = 'second'", 1) == 1
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
        output = heard.close()
    assert proc.returncode == 0, output
    records = [json.loads(x) for x in output.splitlines() if x.startswith("{")]
    assert records
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    refused = [r["message"] for r in records if r["message"].startswith("reload refused")]
    assert any("smtp.port" in m for m in refused), refused
    assert any(r["message"].startswith("reload: ") for r in records)


def test_a_running_daemon_picks_up_a_disabled_and_enabled_list(tmp_path: Path) -> None:

    config = init_dir(tmp_path / "site")[0]
    log = tmp_path / "resolver.log"
    log.write_text("")
    mine = tmp_path / "mine.txt"
    mine.write_text("*.naughty.example\n")
    with config.open("a") as fh:
        fh.write(
            f'\n[pipeline]\npoll_interval = 0.2\n\n[[sources]]\nname = "resolver"\n'
            f'format = "dnsmasq"\npath = "{log}"\n'
        )
    config.write_text(
        config.read_text().replace('dir = "var/lists"', 'dir = "var/lists"\nwatch_interval = "1s"')
    )
    cli = [sys.executable, "-m", "monitord", "--config", str(config)]
    imported = subprocess.run(
        [*cli, "lists", "import", str(mine), "--format", "domains", "--category", "pornography"],
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    db = tmp_path / "site" / "var" / "monitord.db"
    matched = "SELECT count(*) FROM matches WHERE category = 'pornography'"
    proc = start(config)
    heard = Heard(proc)
    try:
        with log.open("a") as fh:
            fh.write(line(1, "www.naughty.example"))
        assert wait_for(db, "SELECT count(*) FROM all_events", 1) == 1
        assert count(db, matched) == 1
        # Disabled by another process: the daemon swaps its lists, no restart.
        done = subprocess.run([*cli, "lists", "disable", "mine"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert heard.wait("lists changed"), heard.lines
        with log.open("a") as fh:
            fh.write(line(2, "www.naughty.example"))
        assert wait_for(db, "SELECT count(*) FROM all_events", 2) == 2
        assert count(db, matched) == 1
        done = subprocess.run([*cli, "lists", "enable", "mine"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert heard.wait("lists changed", times=2), heard.lines
        with log.open("a") as fh:
            fh.write(line(3, "live.naughty.example"))
        assert wait_for(db, "SELECT count(*) FROM all_events", 3) == 3
        assert wait_for(db, matched, 2) == 2
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
        said = heard.close()
    assert proc.returncode == 0, said
    assert count(db, "SELECT count(*) FROM all_events") == 3


# --- a parser session resumed in the middle of its file -----------------------------------

EVE_QUERY = (
    '{"timestamp":"2026-11-19T10:00:01.000000+0000","flow_id":7,"event_type":"dns",'
    '"src_ip":"10.0.0.9","src_port":53000,"dest_ip":"10.0.0.53","dest_port":53,'
    '"dns":{"type":"query","id":42,"rrname":"www.bbc.co.uk","rrtype":"A"}}\n'
)
EVE_ANSWER = (
    '{"timestamp":"2026-11-19T10:00:01.001000+0000","flow_id":7,"event_type":"dns",'
    '"src_ip":"10.0.0.53","src_port":53,"dest_ip":"10.0.0.9","dest_port":53000,'
    '"dns":{"version":2,"type":"answer","id":42,"rrname":"www.bbc.co.uk","rrtype":"A",'
    '"rcode":"NOERROR"}}\n'
)
PIHOLE_QUERY = "Nov 19 10:00:01 dnsmasq[811]: query[A] www.pornhub.com from 10.0.0.9\n"
PIHOLE_BLOCK = "Nov 19 10:00:01 dnsmasq[811]: gravity blocked www.pornhub.com is 0.0.0.0\n"


def stop_between(app: App, clock: FixedClock, log: Path, fmt: str, lines: list[str]) -> Any:
    """``lines`` written; the first stored by one daemon, which then stops; the second read by
    the next daemon, resuming the file at the position committed. What the second gave."""
    log.write_text("".join(lines), encoding="utf-8")
    records = [rec for rec, _ in iter_records(log, "src")]
    parser = load_parser(fmt)
    for daemon, part in ((Daemon(app, clock), records[:1]), (Daemon(app, clock), records[1:])):
        end = part[-1].origin.offset + len(part[-1].data) + 1
        cp = Checkpoint("src", str(log), part[0].origin.file_id, log.stat().st_ino, end)
        session = daemon._session(_Work(fmt, parser, Batch(part, cp)))
        result = app.processor.process(fmt, session, part, cp)
    return result


def test_a_reply_read_after_a_restart_is_not_a_second_lookup(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    # Suricata logs a DNS query and then its answer; monitord stopped between the two. The
    # resumed session is shown the lines before its position, so it knows the answer's query.
    result = stop_between(app, clock, tmp_path / "eve.json", "suricata", [EVE_QUERY, EVE_ANSWER])
    assert (result.events, result.skipped) == (0, 1)
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM all_events")).scalar_one() == 1


def test_a_block_line_read_after_a_restart_marks_its_query(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    stop_between(app, clock, tmp_path / "pihole.log", "dnsmasq", [PIHOLE_QUERY, PIHOLE_BLOCK])
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT blocked, action FROM all_events")).one() == (
            True,
            "gravity blocked",
        )
