"""``monitord outbox flush``: queued mail goes out now."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import UT1
from tests.monitord.cli.school import DAY, copy_school, monitord


def test_outbox_flush_writes_eml_to_pickup_dir(site: Path) -> None:
    r = monitord("outbox", "flush", config=site)
    assert r.returncode == 0, r.stderr
    mails = list((site.parent / "var" / "outbox-mail").glob("*.eml"))
    assert len(mails) == 1
    body = mails[0].read_text()
    assert "Subject: [monitord #1] MEDIUM gambling - J.S." in body
    assert "Jayden Smith" in body  # in the body, never the subject


def test_a_flush_keeps_the_hourly_cap(school_template: Path, tmp_path: Path) -> None:
    """Two alert mails queued and a cap of one an hour: the flush sends one and says the
    other waits."""
    site = copy_school(school_template, tmp_path)
    with site.open("a", encoding="utf-8") as fh:
        fh.write("\n[alerts]\nmax_mails_per_hour = 1\n")
    gambling = (UT1 / "gambling" / "domains").read_text().split()[0]
    log = tmp_path / "pihole.log"
    log.write_text(f"Nov 19 11:20:00 dnsmasq[811]: query[A] {gambling} from 10.20.9.31\n")
    os.utime(log, (DAY.timestamp(), DAY.timestamp()))
    assert monitord("ingest", str(log), "--format", "dnsmasq", config=site).returncode == 0
    r = monitord("outbox", "flush", config=site)
    assert r.returncode == 0, r.stderr
    assert "sent 1, retrying 0, failed 0" in r.stdout
    assert "1 wait for the hourly cap ([alerts] max_mails_per_hour = 1)" in r.stdout
    assert len(list((site.parent / "var" / "outbox-mail").glob("*.eml"))) == 1
