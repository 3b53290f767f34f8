"""Identity read back from the store, as the daemon builds it at start: the roster and the
inventory, the leases and agent logons within the history it keeps, nothing older."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitord.core.model import Event, EventKind
from monitord.identity.load import load_identity
from monitord.identity.roster import import_devices, import_people
from monitord.service.app import App, ingest_files

DAY = datetime(2026, 11, 19, tzinfo=UTC)


def at(hh: int, mm: int = 0) -> datetime:
    return DAY.replace(hour=hh, minute=mm)


def stock(app: App, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,display_name,role,year_group,class,email\n"
        "jayden.s,Jayden Smith,pupil,6,6B,\n"
        "amelia.k,Amelia Khan,pupil,6,6B,\n",
        encoding="utf-8",
    )
    devices = tmp_path / "devices.csv"
    devices.write_text(
        "device_id,mac,hostname,ownership,assigned_to,ip,location\n"
        "Y6-LT-07,aa:00:00:00:00:07,y6-lt-07,school_single,jayden.s,,\n"
        "SUITE-01,aa:00:00:00:00:21,suite-01,school_shared,,,ICT suite\n",
        encoding="utf-8",
    )
    import_people(app.engine, roster, "technician", at(7))
    import_devices(app.engine, devices, "technician", at(7))


def test_leases_and_logons_in_the_store_are_read_back(app: App, tmp_path: Path) -> None:
    stock(app, tmp_path)
    leases = tmp_path / "dnsmasq.leases"
    expiry = int(at(15).timestamp())
    leases.write_text(
        f"{expiry} aa:00:00:00:00:07 10.20.6.50 y6-lt-07 *\n"
        f"{expiry} aa:00:00:00:00:21 10.20.6.60 suite-01 *\n",
        encoding="utf-8",
    )
    assert ingest_files(app, [leases], "dnsmasq-leases", "dhcp").rejected == 0
    report = tmp_path / "agent.jsonl"
    report.write_text(
        json.dumps(
            {
                "schema": "monitord.agent/1",
                "agent_id": "suite-01",
                "hostname": "suite-01",
                "ts": "2026-11-19T09:05:00Z",
                "user": "amelia.k",
                "ip": "10.20.6.60",
                "mac": "aa:00:00:00:00:21",
                "kind": "logon",
                "data": {},
            }
        )
        + "\n",
        encoding="utf-8",
    )
    assert ingest_files(app, [report], "agent", "agents").rejected == 0

    ident = load_identity(app.engine, timedelta(hours=8), now=at(10))
    device, person, how = ident.lookup("10.20.6.50", at(9, 30))
    assert (device and device.device_id, person and person.username, how) == (
        "Y6-LT-07",
        "jayden.s",
        "assigned_device",
    )
    seen = ident.resolve(Event(kind=EventKind.DNS, ts=at(9, 30), client_ip="10.20.6.60"))
    assert (seen.device and seen.device.device_id, seen.person and seen.person.username) == (
        "SUITE-01",
        "amelia.k",
    )
    assert seen.how == "logon_session"


def test_history_older_than_kept_is_not_read(app: App, tmp_path: Path) -> None:
    stock(app, tmp_path)
    leases = tmp_path / "dnsmasq.leases"
    leases.write_text(
        f"{int(at(15).timestamp())} aa:00:00:00:00:07 10.20.6.50 y6-lt-07 *\n", encoding="utf-8"
    )
    assert ingest_files(app, [leases], "dnsmasq-leases", "dhcp").rejected == 0
    later = at(15) + timedelta(days=40)
    ident = load_identity(app.engine, timedelta(hours=8), history=timedelta(days=35), now=later)
    assert ident.binding_at("10.20.6.50", at(9, 30)) is None
    assert ident.people["jayden.s"].display_name == "Jayden Smith"
