from __future__ import annotations

import json
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import make_url, select

from monitord.casework.rights import RightsError, backup, subject_access
from monitord.cli.main import main
from monitord.service.app import App, ingest_files
from monitord.store.database import make_engine, table_of
from monitord.store.tables import AuditRow
from tests.monitord.service.test_pipeline import log, school
from tests.pgserver import PostgresServer
from tests.stores import row


@pytest.mark.stores
def test_backup_is_a_consistent_working_copy(
    app: App, tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    app = school(app, tmp_path)
    ingest_files(
        app,
        [log(tmp_path, ["Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7"])],
        "dnsmasq",
        "resolver",
    )
    target = tmp_path / "backups" / "monitord.db"
    assert backup(app.engine, target) > 0
    if store_kind == "postgresql":
        # Restored as the README says, into an empty database: the alert is there.
        server: PostgresServer = request.getfixturevalue("postgres_server")
        restored = server.url(server.new_database(migrated=False))
        plain = make_url(restored).set(drivername="postgresql")
        done = subprocess.run(
            ["pg_restore", "--no-owner", "--dbname", plain.render_as_string(False), str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert row(make_engine(restored), "SELECT count(*) FROM alerts") == (1,)
        return
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT count(*) FROM alerts").fetchone() == (1,)


@pytest.mark.stores
def test_subject_access_gathers_one_person_and_is_audited(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)
    lines = [
        "Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7",
        "Nov 19 10:02:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7",
        "Nov 19 10:03:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.99.9.9",  # someone else
    ]
    ingest_files(app, [log(tmp_path, lines)], "dnsmasq", "resolver")
    target = tmp_path / "sar" / "jayden.zip"
    counts = subject_access(app.engine, "Jayden.S", target, "dpo", "SAR 2026-14", app.clock.now())
    assert counts["events"] == 3  # two lookups and his laptop's DHCP lease
    assert counts["alerts"] == 1
    assert counts["devices"] == 1
    with zipfile.ZipFile(target) as bundle:
        events = json.loads(bundle.read("events.json"))
        lookups = [e for e in events if e["kind"] == "dns"]
        assert {e["domain"] for e in lookups} == {"www.bet365.com", "www.bbc.co.uk"}
        assert lookups[0]["raw"].startswith("Nov 19 10:01:02 dnsmasq[811]")
        assert json.loads(bundle.read("person.json"))[0]["display_name"] == "Jayden Smith"
    with app.engine.connect() as conn:
        row = conn.execute(
            select(table_of(AuditRow)).where(table_of(AuditRow).c.action == "sar.export")
        ).one()
    assert row.actor == "dpo"
    assert json.loads(row.detail)["reason"] == "SAR 2026-14"
    with pytest.raises(RightsError, match="no one with the user name"):
        subject_access(app.engine, "nobody", target, "dpo", "x", app.clock.now())


def test_cli_backup_and_sar(app: App, tmp_path: Path) -> None:
    assert app.cfg.path is not None
    config = str(app.cfg.path)
    assert main(["--config", config, "backup", "-o", str(tmp_path / "b.db")]) == 0
    assert (tmp_path / "b.db").exists()
    with app.engine.connect() as conn:
        [done] = conn.execute(
            select(table_of(AuditRow)).where(table_of(AuditRow).c.action == "store.backup")
        ).all()
    assert done.subject == str(tmp_path / "b.db")
    assert main(["--config", config, "sar", "ghost", "-o", str(tmp_path / "s.zip")]) == 1
