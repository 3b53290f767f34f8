"""Case work that two senior people sign off, escalation, and evidence bundles that hold up:
the zip opens, its manifest's hashes match, its raw lines are the bytes read, and the
school's review form is filled in."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
import pyzipper  # type: ignore[import-untyped]

from monitord.casework.cases import (
    CaseError,
    assign,
    close,
    note,
    review,
)
from monitord.casework.evidence import EvidenceError, export_bundle
from monitord.cli.main import main
from monitord.core.clock import FixedClock
from monitord.store.database import verify_audit
from tests.alerting.test_manager import (
    School,
    at,
    parse,
)
from tests.monitord.casework.test_cases import critical_alert
from tests.stores import rows

pytestmark = pytest.mark.stores


# --- evidence bundles -------------------------------------------------------------------------


def opened(path: Path, password: str | None = None) -> dict[str, bytes]:
    if password is None:
        with zipfile.ZipFile(path) as z:
            return {name: z.read(name) for name in z.namelist()}
    with pyzipper.AESZipFile(path) as z:
        z.setpassword(password.encode())
        return {name: z.read(name) for name in z.namelist()}


def test_exported_bundle_opens_its_hashes_match_and_its_form_is_filled_in(
    school: School, clock: FixedClock, tmp_path: Path
) -> None:
    engine = school.app.engine
    alert_id = critical_alert(school, clock)
    now = clock.now()
    assign(engine, alert_id, "dsl", "dsl.jones", now)
    note(engine, alert_id, "dsl.jones", "Laptop <LAP-ALICE> secured; police informed", now)
    review(engine, alert_id, "dsl.jones", "helen.h", now)
    close(engine, alert_id, "dsl.jones", "referred_police", now)

    out = tmp_path / "alert.zip"
    done = export_bundle(engine, school.cfg, alert_id, out, "dsl.jones", now)

    assert done.encrypted is False
    assert done.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    files = opened(out)
    manifest = json.loads(files["manifest.json"])
    assert manifest["alert"] == alert_id
    assert set(manifest["files"]) == set(files) - {"manifest.json", "SHA256SUMS"}
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == entry["sha256"], name
        assert len(files[name]) == entry["bytes"]
    sums = files["SHA256SUMS"].decode().splitlines()
    assert len(sums) == len(manifest["files"])
    for line in sums:
        digest, name = line.split("  ", 1)
        assert hashlib.sha256(files[name]).hexdigest() == digest

    # The raw lines are the bytes as read, with their origin.
    events = json.loads(files["events.json"])
    assert len(events) == 2
    stored = dict(rows(school.app.engine, "SELECT id, raw FROM events"))
    for ev in events:
        assert files[ev["raw_file"]] == stored[ev["id"]]
        assert ev["raw_sha256"] == hashlib.sha256(stored[ev["id"]]).hexdigest()
        assert ev["source"] == "dns"
        assert ev["file_id"] == "dns-file"
        assert isinstance(ev["offset"], int)
        assert "assigned to alice.p" in ev["attribution"]
        assert ev["matches"][0]["list"] == "test/child_abuse"
    assert b"csam-test.invalid from 10.0.0.11" in files[events[0]["raw_file"]]

    lists = json.loads(files["lists.json"])
    assert lists["when_the_alert_was_made"]["test/child_abuse"] == (
        hashlib.sha256(b"csam-test.invalid\n").hexdigest()
    )
    assert lists["imported"][0]["name"] == "test/child_abuse"
    trail = json.loads(files["audit.json"])
    assert trail["chain"]["broken_at"] is None
    assert [r["action"] for r in trail["records"]][:2] == ["alert.create", "alert.update"]
    assert "alert.review" in [r["action"] for r in trail["records"]]
    assert {(r["site"], r["version"]) for r in trail["records"]} == {("default", 1)}
    mail = json.loads(files["mail.json"])
    assert mail[0]["subject"] == f"[monitord #{alert_id}] CRITICAL child_abuse - A.P."
    assert parse(files[mail[0]["file"]])["Message-ID"] == mail[0]["message_id"]
    assert json.loads(files["alert.json"])["reviewer"] == "helen.h"

    form = files["review-form.html"].decode()
    for filled in (
        "Record of reviewing devices / internet sites",
        school.cfg.settings.school.name,
        "monitord alert #",
        "CRITICAL child_abuse",
        "Alice Pupil (alice.p), pupil, Year 5, class Oak",
        "<tr><th>Name</th><td>dsl.jones</td></tr>",  # neither an account nor on the roster
        "<tr><th>Reviewed</th><td>added a note in monitord ",
        "<tr><th>Name</th><td>Helen Head (helen.h)</td></tr>",
        '<tr><th>Position</th><td class="sign">headteacher</td></tr>',
        "<tr><th>Reviewed</th><td>signed off in monitord ",
        "csam-test[.]invalid",
        "cdn[.]csam-test[.]invalid",
        "child_abuse: csam-test[.]invalid on list test/child_abuse",
        "Referred to the police",
        "Laptop &lt;LAP-ALICE&gt; secured; police informed",
        "verified:",
    ):
        assert filled in form, filled
    assert "csam-test.invalid" not in form
    assert "<LAP-ALICE>" not in form

    # The export is itself in the audit trail, with the bundle's hash; the chain holds.
    [record] = school.audit("alert.export")
    detail = json.loads(record["detail"])
    assert (record["subject"], record["actor"]) == (f"alert:{alert_id}", "dsl.jones")
    assert detail["sha256"] == done.sha256
    assert detail["manifest_sha256"] == hashlib.sha256(files["manifest.json"]).hexdigest()
    assert detail["encrypted"] is False
    with engine.connect() as conn:
        assert verify_audit(conn)[1] is None

    with pytest.raises(EvidenceError, match="already exists"):
        export_bundle(engine, school.cfg, alert_id, out, "dsl.jones", now)
    with pytest.raises(CaseError, match="no alert 999"):
        export_bundle(engine, school.cfg, 999, tmp_path / "none.zip", "dsl", now)
    assert not (tmp_path / "none.zip").exists()
    assert len(school.audit("alert.export")) == 1


def test_bundle_with_a_password_is_aes_encrypted(
    school: School, clock: FixedClock, tmp_path: Path
) -> None:
    engine = school.app.engine
    alert_id = critical_alert(school, clock)
    out = tmp_path / "for-the-police.zip"
    with pytest.raises(EvidenceError, match="at least 8"):
        export_bundle(engine, school.cfg, alert_id, out, "dsl", clock.now(), "short")
    done = export_bundle(
        engine, school.cfg, alert_id, out, "dsl", clock.now(), "correct horse battery"
    )
    assert done.encrypted
    raw = out.read_bytes()
    assert b"csam-test" not in raw  # nothing readable without the password
    with zipfile.ZipFile(out) as z:
        info = z.infolist()[0]
        assert info.flag_bits & 0x1  # encrypted
        with pytest.raises(RuntimeError, match="encrypted"):
            z.read(info.filename)
    with pytest.raises(RuntimeError):
        opened(out, "wrong password")
    files = opened(out, "correct horse battery")
    manifest = json.loads(files["manifest.json"])
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == entry["sha256"]
    assert json.loads(school.audit("alert.export")[0]["detail"])["encrypted"] is True


# --- the command line -------------------------------------------------------------------------


def test_case_work_silences_and_export_from_the_command_line(
    school: School, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert school.cfg.path is not None
    cfg = ["--config", str(school.cfg.path)]
    alert_id = str(critical_alert(school, clock))
    school.app.engine.dispose()

    assert main([*cfg, "alerts", "close", alert_id, "--outcome", "referred_police"]) == 1
    assert "monitord alerts review" in capsys.readouterr().err
    assert main([*cfg, "alerts", "assign", alert_id, "dsl.jones"]) == 0
    assert main([*cfg, "alerts", "review", alert_id, "--reviewer", "helen.h"]) == 0
    assert main([*cfg, "alerts", "escalate", alert_id, "--severity", "high", "--reason", "x"]) == 1
    assert "already critical" in capsys.readouterr().err
    assert main([*cfg, "alerts", "close", alert_id, "--outcome", "referred_police"]) == 0

    assert main([*cfg, "silence", "add", "--person", "ben.p", "--for", "2h", "--reason", "t"]) == 0
    assert "silence 1: alerts about person ben.p in every category" in capsys.readouterr().out
    assert main([*cfg, "silence", "add", "--device", "D", "--for", "soon", "--reason", "t"]) == 1
    assert "expected a duration" in capsys.readouterr().err
    assert main([*cfg, "silence", "add", "--person", "x", "--for", "1h", "--reason", " "]) == 1
    assert "needs a --reason" in capsys.readouterr().err
    assert main([*cfg, "silence", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["person"], listed["active"]) == ("ben.p", True)
    assert main([*cfg, "silence", "expire", "1"]) == 0
    assert "silence 1 ended" in capsys.readouterr().out
    assert main([*cfg, "silence", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main([*cfg, "silence", "list", "--all"]) == 0
    assert "ended by" in capsys.readouterr().out

    out = tmp_path / "bundle.zip"
    export = [*cfg, "evidence", "export", alert_id, "-o", str(out)]
    # Never a password on the command line (any user sees it in ps): a file, or a prompt.
    assert main([*export, "--password", "s3cret-pw!"]) == 1
    assert "visible to every user of the server" in capsys.readouterr().err
    assert not out.exists()
    secret = tmp_path / "bundle.secret"
    secret.write_text("s3cret-pw!\n")
    assert main([*export, "--password-file", str(secret)]) == 0
    printed = capsys.readouterr().out
    assert "AES-256 encrypted" in printed
    assert hashlib.sha256(out.read_bytes()).hexdigest() in printed
    assert json.loads(opened(out, "s3cret-pw!")["alert.json"])["status"] == "closed"
    assert main([*cfg, "evidence", "export", alert_id, "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([*cfg, "evidence", "verify"]) == 0


def test_a_bundle_names_the_agent_that_reported_each_event(
    school: School, clock: FixedClock, tmp_path: Path
) -> None:
    reported = {
        "schema": "monitord.agent/1",
        "agent_id": "lap-alice-agent",
        "hostname": "LAP-ALICE",
        "ts": at(clock, 30).isoformat(),
        "user": "alice.p",
        "ip": None,
        "mac": None,
        "kind": "url",
        "data": {"url": "https://csam-test.invalid/x"},
    }
    assert school.feed("agent", "agents", [json.dumps(reported)]).events == 1
    [alert] = school.alerts(category="child_abuse")
    out = tmp_path / "alert.zip"
    export_bundle(school.app.engine, school.cfg, int(alert["id"]), out, "dsl.jones", clock.now())
    [event] = json.loads(opened(out)["events.json"])
    assert (event["agent"], event["hostname"], event["format"]) == (
        "lap-alice-agent",
        "LAP-ALICE",
        "agent",
    )
