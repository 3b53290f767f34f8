"""The trail proves who did what: anchors outside the store catch records taken from it,
each alert's state is covered by the chain, the actor is the real login, and reading
personal data in bulk is recorded."""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from monitord.casework.cases import close
from monitord.casework.trail import Anchoring, anchor_file, parse_anchor, read_anchors, verify_trail
from monitord.cli.main import main
from monitord.service.app import App, ingest_files
from monitord.store.database import _chain_hash, utc, verify_audit
from monitord.store.retention import run_retention
from tests.monitord.service.test_pipeline import log, school
from tests.stores import row, rows

LOGIN = pwd.getpwuid(os.getuid()).pw_name


def with_alerts(app: App, tmp_path: Path) -> tuple[App, list[str]]:
    """Alert 1 (gambling) and alert 2 (pornography) about jayden.s."""
    app = school(app, tmp_path)
    lines = [
        "Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7",
        "Nov 19 10:05:00 dnsmasq[811]: query[A] www.pornhub.com from 10.20.6.7",
    ]
    ingest_files(app, [log(tmp_path, lines)], "dnsmasq", "resolver")
    assert row(app.engine, "SELECT count(*) FROM alerts") == (2,)
    return app, ["--config", str(app.cfg.path)]


def recompute_chain(engine: Engine) -> None:
    """What someone with write access to the store does to hide a deletion: every record's
    link and hash made again, so that the chain alone verifies."""
    prev = "0" * 64
    with engine.begin() as conn:
        for r in conn.execute(text("SELECT * FROM audit ORDER BY id")).mappings().all():
            ts = r["ts"] if isinstance(r["ts"], datetime) else datetime.fromisoformat(r["ts"])
            digest = _chain_hash(
                prev, utc(ts), r["actor"], r["action"], r["subject"], r["detail"], r["site_id"]
            )
            conn.execute(
                text("UPDATE audit SET prev_hash = :p, hash = :h WHERE id = :id"),
                {"p": prev, "h": digest, "id": r["id"]},
            )
            prev = digest


def hide_alert(engine: Engine, alert_id: int) -> None:
    """An alert, its links, its mail and its audit records deleted, the chain recomputed."""
    with engine.begin() as conn:
        for sql in (
            "DELETE FROM outbox WHERE alert_id = :id",
            "DELETE FROM alert_events WHERE alert_id = :id",
            "DELETE FROM alerts WHERE id = :id",
            "DELETE FROM audit WHERE subject = 'alert:' || :sid",
        ):
            conn.execute(text(sql), {"id": alert_id, "sid": str(alert_id)})
    recompute_chain(engine)


def verify(cfg: list[str], capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main([*cfg, "evidence", "verify", *extra])
    said = capsys.readouterr()
    return code, said.out + said.err


# --- the actor ------------------------------------------------------------------------------


def test_the_actor_is_the_real_login_never_an_environment_variable(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, cfg = with_alerts(app, tmp_path)
    env = {**os.environ, "SUDO_USER": "x", "USER": "x", "LOGNAME": "x", "USERNAME": "x"}
    done = subprocess.run(
        [sys.executable, "-m", "monitord", *cfg, "alerts", "ack", "1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for var in ("SUDO_USER", "USER", "LOGNAME"):
        monkeypatch.setenv(var, "x")
    assert main([*cfg, "alerts", "note", "1", "spoke to the class teacher"]) == 0
    actors = rows(app.engine, "SELECT action, actor FROM audit WHERE subject = 'alert:1'")
    assert ("alert.ack", LOGIN) in actors
    assert ("alert.note", LOGIN) in actors
    assert all(actor != "x" for _, actor in actors)


# --- truncation and records taken away --------------------------------------------------------


@pytest.mark.stores
def test_deleting_the_last_records_fails_verify_naming_them(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, cfg = with_alerts(app, tmp_path)
    assert main([*cfg, "alerts", "ack", "1"]) == 0  # the command anchors the trail as it ends
    assert main([*cfg, "alerts", "note", "1", "parents told"]) == 0
    (top,) = row(app.engine, "SELECT max(id) FROM audit")
    [*_, last] = read_anchors(anchor_file(app.cfg))[0]
    assert (last.seq, last.why) == (top, "monitord alerts note")
    code, said = verify(cfg, capsys)
    assert code == 0, said
    assert f"audit trail intact: {top} records verified" in said

    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit WHERE id > :n"), {"n": top - 2})
    with app.engine.connect() as conn:
        assert verify_audit(conn) == (top - 2, None)  # the chain alone cannot tell
    code, said = verify(cfg, capsys)
    assert code == 1
    assert f"audit records {top - 1}-{top} are missing" in said
    assert "deleted from the end of the trail" in said
    # The ack went with them: the alert no longer matches its last record either.
    assert "alert 1 was changed outside monitord: status is 'acknowledged'" in said


@pytest.mark.stores
def test_a_record_and_its_alert_removed_and_the_chain_recomputed_is_found(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, cfg = with_alerts(app, tmp_path)
    assert main([*cfg, "alerts", "ack", "1"]) == 0
    removed = [
        int(r[0]) for r in rows(app.engine, "SELECT id FROM audit WHERE subject = 'alert:2'")
    ]
    hide_alert(app.engine, 2)
    with app.engine.connect() as conn:
        _, broken = verify_audit(conn)
    assert broken is None  # the chain is whole again: only the anchor knows
    code, said = verify(cfg, capsys)
    assert code == 1
    assert "is not the one the anchor of" in said
    assert "were removed or changed and the chain recomputed" in said
    holes = ", ".join(str(i) for i in removed)
    assert f"records not in the store before it: {holes}" in said or (
        f"records not in the store before it: {removed[0]}-{removed[-1]}" in said
    )


@pytest.mark.stores
def test_an_alert_closed_with_sql_is_detected(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, cfg = with_alerts(app, tmp_path)
    with app.engine.begin() as conn:
        conn.execute(text("UPDATE alerts SET status = 'closed', outcome = 'no_concern'"))
    code, said = verify(cfg, capsys)
    assert code == 1
    for alert_id in (1, 2):
        assert f"alert {alert_id} was changed outside monitord: status is 'closed'" in said
    assert "where audit record" in said
    assert "outcome is 'no_concern'" in said


def test_an_alert_deleted_by_hand_is_named_but_not_one_retention_removed(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, cfg = with_alerts(app, tmp_path)
    now = app.clock.now()
    close(app.engine, 2, "dsl", "no_concern", now)
    later = now + timedelta(days=365 * 8)
    result = run_retention(app.engine, app.cfg, later, "root", pause=0)
    assert result.alerts_removed == [2]
    with app.engine.connect() as conn:
        assert verify_trail(conn, []).intact
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM alert_events WHERE alert_id = 1"))
        conn.execute(text("DELETE FROM outbox WHERE alert_id = 1"))
        conn.execute(text("DELETE FROM alerts WHERE id = 1"))
    code, said = verify(cfg, capsys)
    assert code == 1
    assert "alert 1 is missing from the store: it was removed by hand" in said
    assert "alert 2" not in said


def test_a_digest_carries_an_anchor_that_verify_checks(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, cfg = with_alerts(app, tmp_path)
    assert main([*cfg, "digest", "--week", "2026-W47"]) == 0
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith("Audit trail anchor: "))
    given = line.split()[3]
    anchor = parse_anchor(given)
    (top,) = row(app.engine, "SELECT max(id) FROM audit")
    assert anchor.seq == top
    code, said = verify(cfg, capsys, "--anchor", given)
    assert code == 0, said
    assert "1 given" in said
    # Records up to it removed, the chain recomputed and the anchor file removed too: the
    # anchor that left the server in the mail still tells.
    hide_alert(app.engine, 2)
    anchor_file(app.cfg).unlink()
    code, said = verify(cfg, capsys, "--anchor", given)
    assert code == 1
    assert f"the anchor (given) names record {top}" in said
    assert main([*cfg, "evidence", "verify", "--anchor", "12:nothex"]) == 1
    assert "expected RECORD:SHA256" in capsys.readouterr().err


# --- anchors ----------------------------------------------------------------------------------


def test_anchors_are_private_appended_once_per_change_and_logged(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    app, cfg = with_alerts(app, tmp_path)
    path = anchor_file(app.cfg)
    assert path == Path(str(app.engine.url.database) + ".anchors")
    assert main([*cfg, "sources"]) == 0  # writes no audit record, still anchors the trail
    assert main([*cfg, "sources"]) == 0  # nothing new: nothing appended
    anchors, bad = read_anchors(path)
    assert (len(anchors), bad) == (1, [])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with caplog.at_level("INFO", logger="monitord.casework.trail"):
        assert main([*cfg, "alerts", "ack", "2"]) == 0
    (top,) = row(app.engine, "SELECT max(id) FROM audit")
    assert f"audit anchor: record {top} sha256 " in caplog.text
    assert len(read_anchors(path)[0]) == 2
    with path.open("a") as fh:
        fh.write("not an anchor\n")
    code, said = verify(cfg, capsys)
    assert code == 1
    assert f"{path}:3: not an anchor (the file was edited)" in said


def test_the_daemon_anchors_every_n_records(app: App, tmp_path: Path) -> None:
    app, _ = with_alerts(app, tmp_path)
    path = tmp_path / "daemon.anchors"
    anchoring = Anchoring(app.engine, path, every=3)
    now = app.clock.now()
    first = anchoring.check(now)
    assert first is not None  # the trail has more than 3 records none anchored yet
    assert anchoring.check(now) is None
    for n in range(2):
        main(["--config", str(app.cfg.path), "alerts", "note", "1", f"note {n}"])
    assert anchoring.check(now) is None  # two records since: not yet
    main(["--config", str(app.cfg.path), "alerts", "note", "1", "third"])
    second = anchoring.check(now)
    assert second is not None
    assert second.seq == first.seq + 3
    stop = anchoring.write(now, "daemon stopped")
    assert stop is None  # nothing new since the last anchor
    assert [a.seq for a in read_anchors(path)[0]] == [first.seq, second.seq]


# --- bulk reads of personal data --------------------------------------------------------------


def test_reading_personal_data_in_bulk_is_audited(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, cfg = with_alerts(app, tmp_path)
    assert main([*cfg, "alerts", "list", "--json"]) == 0
    assert main([*cfg, "alerts", "list", "--status", "open"]) == 0
    assert main([*cfg, "digest", "--week", "2026-W47", "--named"]) == 0
    named = [*cfg, "digest", "--week", "2026-W47", "--named", "--out", str(tmp_path / "d")]
    assert main(named) == 0
    assert main([*cfg, "digest", "--week", "2026-W47"]) == 0  # the group's copy names no one
    sar = ["sar", "jayden.s", "-o", str(tmp_path / "sar.zip"), "--reason", "SAR 7"]
    assert main([*cfg, *sar]) == 0
    capsys.readouterr()
    found = rows(
        app.engine,
        "SELECT action, actor, subject, detail FROM audit "
        "WHERE action IN ('alerts.list', 'digest.read', 'sar.export') ORDER BY id",
    )
    assert [(a, who) for a, who, _, _ in found] == [
        ("alerts.list", LOGIN),
        ("alerts.list", LOGIN),
        ("digest.read", LOGIN),
        ("digest.read", LOGIN),
        ("sar.export", LOGIN),
    ]
    details = [json.loads(d) for _, _, _, d in found]
    assert details[0] == {"output": "json", "status": None, "since": None, "alerts": 2}
    assert (details[1]["output"], details[1]["status"]) == ("table", "open")
    assert [d["output"] for d in details[2:4]] == ["text", "files"]
    assert found[2][2] == "digest:2026-W47"
    assert found[4][2] == "person:jayden.s"


# --- configuration --------------------------------------------------------------------------


def test_config_check_warns_of_readable_secrets_and_clear_text_auth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitord.service.initdir import init_dir

    config = init_dir(tmp_path / "site")[0]
    secret = tmp_path / "site" / "smtp.secret"
    secret.write_text("pw\n")
    os.chmod(secret, 0o644)
    text_ = config.read_text()
    text_ = text_.replace('host = ""', 'host = "mail.school.example"')
    text_ = text_.replace('security = "starttls"', 'security = "none"')
    text_ = text_.replace('username = ""', 'username = "monitord"')
    text_ = text_.replace('password_file = ""', 'password_file = "smtp.secret"')
    config.write_text(text_)
    assert main(["--config", str(config), "config", "check"]) == 0
    err = capsys.readouterr().err
    assert f"warning: smtp.password_file: {secret} can be read by every user" in err
    assert f"chmod 600 {secret}" in err
    assert 'smtp.security = "none" with smtp.username' in err
    os.chmod(secret, 0o600)
    config.write_text(text_.replace('security = "none"', 'security = "starttls"'))
    assert main(["--config", str(config), "config", "check"]) == 0
    assert "warning: smtp" not in capsys.readouterr().err

    for url in ("mysql://monitord:pw@db/monitord", "oracle://x@y/z", "monitord.db"):
        config.write_text(text_.replace("sqlite:///var/monitord.db", url))
        assert main(["--config", str(config), "config", "check"]) == 1
        err = capsys.readouterr().err
        assert "storage.url:" in err
        assert "is not a store monitord supports" in err
        assert "pw@" not in err  # the password in a URL is never printed


# --- root and the service user ----------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_a_command_run_as_root_gives_its_files_to_the_service_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitord.service.initdir import init_dir

    nobody = pwd.getpwnam("nobody")
    config = init_dir(tmp_path / "site")[0]
    var = tmp_path / "site" / "var"
    db = var / "monitord.db"
    os.chown(var, nobody.pw_uid, nobody.pw_gid)  # the service's state folder, as installed
    # Without [service] user root refuses, before it writes anything, and says how.
    assert main(["--config", str(config), "alerts", "list"]) == 1
    err = capsys.readouterr().err
    assert "belongs to nobody" in err
    assert "sudo -u nobody monitord" in err
    assert "[service] user = 'nobody'" in err
    assert not db.exists()

    config.write_text(config.read_text() + '\n[service]\nuser = "nobody"\n')
    assert main(["--config", str(config), "alerts", "list"]) == 0
    made = [db, Path(f"{db}.anchors"), var / "lists", var / "outbox-mail"]
    for p in made:
        assert p.exists(), p
        assert (p.stat().st_uid, p.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid), p
    assert main(["--config", str(config), "config", "check"]) == 0
    config.write_text(config.read_text().replace('"nobody"', '"no-such-account"'))
    assert main(["--config", str(config), "config", "check"]) == 0
    assert "warning: service.user: no account named 'no-such-account'" in capsys.readouterr().err
    assert main(["--config", str(config), "alerts", "list"]) == 1
    assert "no account named 'no-such-account'" in capsys.readouterr().err
