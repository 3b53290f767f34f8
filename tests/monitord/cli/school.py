"""A school as a new technician sets one up with the command line (init, lists, roster,
devices, leases and a day's DNS log, as in the README), and monitord run as a process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from monitord.settings.config import Config
from monitord.store.database import open_store
from tests.conftest import UT1

DAY = datetime(2026, 11, 19, 18, 0, tzinfo=UTC)
CONTRACT_FIELDS = {
    "id",
    "created_at",
    "updated_at",
    "severity",
    "category",
    "status",
    "person",
    "role",
    "year_group",
    "device",
    "ip",
    "indicator",
    "first_seen",
    "last_seen",
    "count",
    "sources",
    "recipients",
}


ROSTER = (
    "username,display_name,role,year_group,class,email\n"
    "jayden.s,Jayden Smith,pupil,6,6B,\nhelen.p,Helen Price,staff,,,\n"
)


def monitord(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "monitord"]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)


@contextmanager
def opened(config: Config) -> Iterator[Engine]:
    """The store of a config, for a test to read."""
    engine = open_store(config.database_url, site=config.site_id)
    try:
        yield engine
    finally:
        engine.dispose()


def copy_school(template: Path, where: Path) -> Path:
    """A copy of a school built by ``build_school``: its config's path."""
    shutil.copytree(template.parent, where / "site")
    return where / "site" / "monitord.toml"


def build_school(root: Path) -> Path:
    """init, lists import (UT1), people, devices, leases and a dnsmasq log, as in the README."""
    assert monitord("init", str(root / "site")).returncode == 0
    config = root / "site" / "monitord.toml"
    r = monitord("lists", "import", str(UT1), "--format", "ut1", config=config)
    assert r.returncode == 0, r.stderr
    (root / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (root / "devices.csv").write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "Y6-LT-07,aa:00:00:00:00:07,y6-lt-07,school_single,jayden.s\n"
        "STAFF-LT-01,aa:00:00:00:00:31,staff-lt-01,school_single,helen.p\n",
        encoding="utf-8",
    )
    assert monitord("people", "import", str(root / "roster.csv"), config=config).returncode == 0
    assert monitord("devices", "import", str(root / "devices.csv"), config=config).returncode == 0
    (root / "dnsmasq.leases").write_text(
        f"{int(DAY.timestamp())} aa:00:00:00:00:07 10.20.6.7 y6-lt-07 *\n"
        f"{int(DAY.timestamp())} aa:00:00:00:00:31 10.20.9.31 staff-lt-01 *\n",
        encoding="utf-8",
    )
    r = monitord(
        "ingest", str(root / "dnsmasq.leases"), "--format", "dnsmasq-leases", config=config
    )
    assert r.returncode == 0, r.stderr
    gambling = (UT1 / "gambling" / "domains").read_text().split()[0]
    dating = (UT1 / "dating" / "domains").read_text().split()[0]
    log = root / "pihole.log"
    log.write_text(
        f"Nov 19 10:01:02 dnsmasq[811]: query[A] www.{gambling} from 10.20.6.7\n"
        f"Nov 19 10:01:02 dnsmasq[811]: forwarded www.{gambling} to 1.1.1.3\n"
        "Nov 19 10:03:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7\n"
        "Nov 19 10:04:00 dnsmasq[811]: query[A] classroom.google.com from 10.20.6.7\n"
        f"Nov 19 11:15:00 dnsmasq[811]: query[A] {dating} from 10.20.9.31\n",
        encoding="utf-8",
    )
    os.utime(log, (DAY.timestamp(), DAY.timestamp()))
    r = monitord("ingest", str(log), "--format", "dnsmasq", "--json", config=config)
    assert r.returncode == 0, r.stderr
    counts = json.loads(r.stdout)
    assert counts["lines"] == 5
    assert counts["events"] == 4
    assert counts["rejected"] == 0
    return config


# A school abroad (an hour ahead of UTC in winter), two days ago: identity reads the
# leases of the last 35 days, so the day moves with the clock.
ZONE = "Europe/Paris"
RECENT = (datetime.now(UTC) - timedelta(days=2)).replace(hour=17, minute=0, second=0, microsecond=0)


def mixed_alerts(config: Path, root: Path) -> dict[str, list[int]]:
    """Three unknown devices on the network (technical alerts) and a pupil's visit to a
    site of the starter pornography list at 10:01:02 school time (an alert about a person),
    in a school whose clock is an hour ahead of UTC; run in this process. Returns the
    alerts' ids by category."""
    from monitord.cli.main import main

    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('"Europe/London"', f'"{ZONE}"'), encoding="utf-8")
    cfg = ["--config", str(config)]
    (root / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (root / "devices.csv").write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "Y6-LT-07,aa:00:00:00:00:07,y6-lt-07,school_single,jayden.s\n",
        encoding="utf-8",
    )
    assert main([*cfg, "people", "import", str(root / "roster.csv")]) == 0
    assert main([*cfg, "devices", "import", str(root / "devices.csv")]) == 0
    end = int(RECENT.timestamp())
    leases = root / "dnsmasq.leases"
    leases.write_text(
        f"{end} aa:00:00:00:00:07 10.20.6.7 y6-lt-07 *\n"
        + "".join(f"{end} 02:00:00:00:00:0{n} 10.20.7.{n} visitor{n} *\n" for n in (1, 2, 3)),
        encoding="utf-8",
    )
    assert main([*cfg, "ingest", str(leases), "--format", "dnsmasq-leases"]) == 0
    log = root / "pihole.log"
    day = RECENT.astimezone(ZoneInfo(ZONE)).strftime("%b %e")
    log.write_text(f"{day} 10:01:02 dnsmasq[811]: query[A] www.pornhub.com from 10.20.6.7\n")
    os.utime(log, (RECENT.timestamp(), RECENT.timestamp()))
    assert main([*cfg, "ingest", str(log), "--format", "dnsmasq"]) == 0
    from monitord.casework.cases import list_alerts
    from monitord.settings.config import load_config

    found: dict[str, list[int]] = {}
    with opened(load_config(config)) as engine:
        for a in list_alerts(engine):
            found.setdefault(a["category"], []).append(int(a["id"]))
    return found
