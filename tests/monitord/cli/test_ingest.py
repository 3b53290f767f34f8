"""``monitord ingest``: a one-shot backfill, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitord.cli.main import main


def test_ingest_of_nothing_readable_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of the wrong format is every line rejected: that is bad input, exit 1, while a
    file with some readable lines is not."""
    from monitord.service.initdir import init_dir

    cfg = str(init_dir(tmp_path / "site")[0])
    squid = tmp_path / "access.log"
    squid.write_text(
        "1700000000.000    120 10.20.6.50 TCP_MISS/200 512 GET http://example.org/ - "
        "HIER_DIRECT/93.184.216.34 text/html\n"
        "not a log line\n"
    )
    assert main(["--config", cfg, "ingest", str(squid), "--format", "dnsmasq", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["rejected"] == 2
    assert captured.err.strip() == (
        "no line was read: all 2 were rejected as dnsmasq "
        "(is --format right? the reasons are stored with the rejected lines)"
    )
    assert main(["--config", cfg, "ingest", str(squid), "--format", "squid", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rejected"] == 1


def test_windows_dns_date_order_per_source(tmp_path: Path) -> None:
    import sqlite3

    from monitord.service.initdir import init_dir

    config = init_dir(tmp_path / "site")[0]
    log = tmp_path / "dns.log"
    log.write_text(
        "6/5/2026 10:20:46 AM 0E70 PACKET  00000000033397A0 UDP Rcv 10.161.60.71    5b47   "
        "Q [0001   D   NOERROR] A      (7)example(3)com(0)\n",
        encoding="utf-8",
    )
    assert (
        main(
            [
                "--config",
                str(config),
                "ingest",
                str(log),
                "--format",
                "windows-dns",
                "--date-order",
                "dmy",
            ]
        )
        == 0
    )
    with sqlite3.connect(tmp_path / "site" / "var" / "monitord.db") as db:
        (ts,) = db.execute("SELECT ts FROM all_events").fetchone()
    assert ts.startswith("2026-05-06 09:20:46")  # 6 May, 10:20 BST
    assert (
        main(
            [
                "--config",
                str(config),
                "ingest",
                str(log),
                "--format",
                "squid",
                "--date-order",
                "dmy",
            ]
        )
        == 1
    )


def test_a_backfill_mails_no_one_about_old_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Last week's resolver log: with --backfill its alert is recorded and nothing is
    queued; the same read without it queues the mail."""
    import os
    import sqlite3
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from monitord.service.initdir import init_dir
    from tests.conftest import UT1

    cfg = str(init_dir(tmp_path / "site")[0])
    gambling = (UT1 / "gambling" / "domains").read_text().split()[0]
    when = datetime.now(UTC) - timedelta(days=8)
    stamp = when.astimezone(ZoneInfo("Europe/London")).strftime("%b %d %H:%M:%S")
    logs = []
    for n, ip in enumerate(("10.20.6.7", "10.20.6.8")):
        log = tmp_path / f"pihole.log.{n}"
        log.write_text(f"{stamp} dnsmasq[811]: query[A] {gambling} from {ip}\n")
        os.utime(log, (when.timestamp() + 60, when.timestamp() + 60))
        logs.append(str(log))
    assert main(["--config", cfg, "lists", "import", str(UT1), "--format", "ut1"]) == 0
    capsys.readouterr()
    assert main(["--config", cfg, "ingest", logs[0], "--format", "dnsmasq", "--backfill"]) == 0
    said = capsys.readouterr().out
    assert "alerts: 1 opened" in said
    assert "alerts about events more than 48 h old are recorded, not mailed" in said
    db = tmp_path / "site" / "var" / "monitord.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
    assert main(["--config", cfg, "ingest", logs[1], "--format", "dnsmasq"]) == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (1,)
