"""``monitord users ...`` and case work ``--as USERNAME [--totp CODE]`` as an operator runs
them: the contract's JSON, one clear line for each mistake, the audit trail naming the
operator's login for administration and the account for case work, lock-out, and the code
asked for on a real terminal."""

from __future__ import annotations

import json
import os
import pty
import pwd
import select
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import insert, text

from monitord.cli.main import main
from monitord.settings.config import Config
from monitord.store.database import open_store, table_of
from monitord.store.tables import AlertRow
from tests.stores import rows

LOGIN = pwd.getpwuid(os.getuid()).pw_name
PASSWORD = "correct horse battery"


def run(config: Config, *args: str) -> int:
    return main(["--config", str(config.path), *args])


def add(config: Config, capsys: pytest.CaptureFixture[str], name: str, role: str) -> pyotp.TOTP:
    """An account with a password; its TOTP from the URI ``--json`` prints."""
    password = config.base_dir / "pw"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    capsys.readouterr()
    assert (
        run(
            config, "users", "add", name, "--role", role, "--password-file", str(password), "--json"
        )
        == 0
    )
    value = json.loads(capsys.readouterr().out)
    assert set(value) == {"username", "role", "totp_uri"}
    assert (value["username"], value["role"]) == (name, role)
    totp = pyotp.parse_uri(value["totp_uri"])
    assert isinstance(totp, pyotp.TOTP)
    return totp


def alert(config: Config, person: str | None, role: str | None, category: str) -> int:
    now = datetime.now(UTC)
    engine = open_store(config.database_url)
    values: dict[str, Any] = {"group_key": f"{person}:{category}", "created_at": now}
    values |= {"updated_at": now, "severity": "high", "category": category, "person": person}
    values |= {"role": role, "indicator": "www.bet365.com", "first_seen": now, "last_seen": now}
    values |= {"sources": "[]", "recipients": "[]", "rule": ""}
    with engine.begin() as conn:
        conn.execute(insert(table_of(AlertRow)).values(**values))
    [(alert_id,)] = rows(engine, "SELECT max(id) FROM alerts")
    engine.dispose()
    return int(alert_id)


def audit(config: Config, prefix: str) -> list[tuple[str, str, str]]:
    engine = open_store(config.database_url)
    found = rows(
        engine,
        "SELECT actor, action, subject FROM audit WHERE action LIKE :p ORDER BY id",
        p=prefix + "%",
    )
    engine.dispose()
    return [(str(a), str(b), str(c)) for a, b, c in found]


def code(totp: pyotp.TOTP, steps: int = 0) -> str:
    return totp.at(datetime.now(UTC) + timedelta(seconds=30 * steps))


def test_users_are_added_listed_and_administered(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    add(config, capsys, "helen.h", "dsl")
    assert run(config, "users", "add", "ben.t", "--role", "governor", "--name", "Ben Todd") == 0
    out = capsys.readouterr().out
    assert "account ben.t (governor) added" in out
    assert "One-time enrolment code for ben.t (shown once, valid 7 days): " in out
    assert run(config, "users", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(a["username"], a["role"], a["state"], a["two_factor"]) for a in listed] == [
        ("ben.t", "governor", "pending", False),
        ("helen.h", "dsl", "active", True),
    ]
    assert listed[0]["name"] == "Ben Todd"
    assert run(config, "users", "set-role", "ben.t", "chair") == 0
    assert run(config, "users", "reset-2fa", "helen.h") == 0
    assert "One-time enrolment code for helen.h" in capsys.readouterr().out
    assert run(config, "users", "disable", "helen.h") == 0
    assert run(config, "users", "list") == 0
    table = capsys.readouterr().out
    assert "disabled" in table
    assert "pending" in table
    # Administration is recorded under the operator's login, never an environment variable.
    assert audit(config, "account.") == [
        (LOGIN, "account.add", "account:helen.h"),
        (LOGIN, "account.add", "account:ben.t"),
        (LOGIN, "account.role", "account:ben.t"),
        (LOGIN, "account.reset_2fa", "account:helen.h"),
        (LOGIN, "account.disable", "account:helen.h"),
    ]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["add", "Helen H", "--role", "dsl"], "user name 'Helen H': expected 1 to 64"),
        (["add", "a.b", "--role", "dsl", "--password-file", "/nonexistent"], "cannot read"),
        (["set-role", "nobody", "dsl"], "no account nobody (monitord users list shows them)"),
        (["disable", "nobody"], "no account nobody"),
    ],
)
def test_mistakes_are_one_line(
    config: Config, capsys: pytest.CaptureFixture[str], args: list[str], line: str
) -> None:
    assert run(config, "users", *args) == 1
    err = capsys.readouterr().err.strip()
    assert line in err
    assert len(err.splitlines()) == 1


def test_a_short_password_in_the_file_is_refused(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    (config.base_dir / "pw").write_text("short\n", encoding="utf-8")
    pw = str(config.base_dir / "pw")
    assert run(config, "users", "add", "a.b", "--role", "dsl", "--password-file", pw) == 1
    assert capsys.readouterr().err.strip() == "the password is too short: at least 10 characters"
    with pytest.raises(SystemExit) as info:
        run(config, "users", "add", "a.b", "--role", "admin")
    assert info.value.code == 2


def test_case_work_as_an_account_is_recorded_as_it(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    helen = add(config, capsys, "helen.h", "dsl")
    head = add(config, capsys, "head.t", "headteacher")
    tech = add(config, capsys, "tech.t", "technician")
    pupil = alert(config, "amy.p", "pupil", "gambling")
    assert run(config, "alerts", "ack", str(pupil), "--as", "helen.h", "--totp", code(helen)) == 0
    note = ["note", str(pupil), "called home", "--as", "helen.h", "--totp", code(helen, 1)]
    assert run(config, "alerts", *note) == 0
    reviewed = code(head)
    assert run(config, "alerts", "review", str(pupil), "--as", "head.t", "--totp", reviewed) == 0
    # A code is never taken twice.
    escalate = ["escalate", str(pupil), "--severity", "critical", "--reason", "repeated"]
    assert run(config, "alerts", *escalate, "--as", "head.t", "--totp", reviewed) == 1
    assert "refused" in capsys.readouterr().err
    close = ["close", str(pupil), "--outcome", "internal_action"]
    assert run(config, "alerts", *close, "--as", "head.t", "--totp", code(head, 1)) == 0
    assert audit(config, "alert.") == [
        ("helen.h", "alert.ack", f"alert:{pupil}"),
        ("helen.h", "alert.note", f"alert:{pupil}"),
        ("head.t", "alert.review", f"alert:{pupil}"),
        ("head.t", "alert.close", f"alert:{pupil}"),
    ]
    engine = open_store(config.database_url)
    assert rows(engine, "SELECT reviewer, status FROM alerts") == [("head.t", "closed")]
    engine.dispose()
    # The technician does no case work on a pupil's alert, but acknowledges a device's.
    other = alert(config, "ben.p", "pupil", "gambling")
    assert run(config, "alerts", "ack", str(other), "--as", "tech.t", "--totp", code(tech)) == 1
    message = f"--as tech.t: a technician account may not act on alert {other}"
    assert capsys.readouterr().err.strip() == message
    device = alert(config, None, None, "unauthorised_device")
    assert run(config, "alerts", "ack", str(device), "--as", "tech.t", "--totp", code(tech, 1)) == 0


def test_the_second_reviewer_is_another_account(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    helen = add(config, capsys, "helen.h", "dsl")
    amy = add(config, capsys, "amy.p", "deputy_dsl")
    about_amy = alert(config, "amy.p", "staff", "gambling")
    pupil = alert(config, "ben.p", "pupil", "gambling")
    as_helen = ["--as", "helen.h", "--totp"]
    assert run(config, "alerts", "assign", str(pupil), "amy.p", *as_helen, code(helen)) == 0
    # Refused before a code is taken: the assignee must be an account, the reviewer the one
    # signed in.
    assert run(config, "alerts", "assign", str(pupil), "nobody", *as_helen, "000000") == 1
    assert "assign: nobody is not an account that can sign in" in capsys.readouterr().err
    assert run(config, "alerts", "review", str(pupil), "--reviewer", "amy.p", *as_helen, "0") == 1
    assert "leave out --reviewer" in capsys.readouterr().err
    assert run(config, "alerts", "review", str(pupil)) == 1
    assert "needs --as USERNAME" in capsys.readouterr().err
    # Nobody acts on an alert about themselves.
    as_amy = ["--as", "amy.p", "--totp"]
    assert run(config, "alerts", "ack", str(about_amy), *as_amy, code(amy)) == 1
    assert f"may not act on alert {about_amy}" in capsys.readouterr().err
    # amy.p handles the alert (assigned): her own sign-off is not a second person's.
    assert run(config, "alerts", "review", str(pupil), *as_amy, code(amy, 1)) == 1
    assert "amy.p is the first reviewer" in capsys.readouterr().err
    assert run(config, "alerts", "review", str(pupil), *as_helen, code(helen, 1)) == 0
    engine = open_store(config.database_url)
    assert rows(engine, "SELECT assignee, reviewer FROM alerts WHERE id = :i", i=pupil) == [
        ("amy.p", "helen.h")
    ]
    engine.dispose()


def test_wrong_codes_lock_the_account(config: Config, capsys: pytest.CaptureFixture[str]) -> None:
    helen = add(config, capsys, "helen.h", "dsl")
    pupil = alert(config, "amy.p", "pupil", "gambling")
    for _ in range(5):
        assert run(config, "alerts", "ack", str(pupil), "--as", "helen.h", "--totp", "000000") == 1
    capsys.readouterr()
    assert run(config, "alerts", "ack", str(pupil), "--as", "helen.h", "--totp", code(helen)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("--as helen.h: locked after repeated failures; try again in 1")
    assert [a for a in audit(config, "account.") if a[1] == "account.locked"] == [
        ("helen.h", "account.locked", "account:helen.h")
    ]


def test_without_as_the_login_is_recorded(
    config: Config, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pupil = alert(config, "amy.p", "pupil", "gambling")
    monkeypatch.setenv("SUDO_USER", "someone.else")
    monkeypatch.setenv("USER", "someone.else")
    assert run(config, "alerts", "ack", str(pupil)) == 0
    assert run(config, "alerts", "note", str(pupil), "x", "--totp", "123456") == 1
    assert capsys.readouterr().err.strip() == "--totp goes with --as USERNAME"
    assert audit(config, "alert.") == [(LOGIN, "alert.ack", f"alert:{pupil}")]


def test_the_code_is_asked_for_on_the_terminal(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    helen = add(config, capsys, "helen.h", "dsl")
    pupil = alert(config, "amy.p", "pupil", "gambling")
    cmd = [
        sys.executable,
        "-m",
        "monitord",
        "--config",
        str(config.path),
        "alerts",
        "ack",
        str(pupil),
        "--as",
        "helen.h",
    ]
    pid, fd = pty.fork()
    if pid == 0:  # the child: a process whose terminal is the pty
        os.execv(sys.executable, cmd)
    seen = b""
    deadline = time.monotonic() + 60
    while b"TOTP code for helen.h: " not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 1)[0]:
            seen += os.read(fd, 1024)
    os.write(fd, code(helen).encode() + b"\n")
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 1)[0]:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert code(helen).encode() not in seen  # not echoed
    assert audit(config, "alert.") == [("helen.h", "alert.ack", f"alert:{pupil}")]


def test_as_needs_an_account_that_does_case_work(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    governor = add(config, capsys, "gov.g", "governor")
    pupil = alert(config, "amy.p", "pupil", "gambling")
    assert run(config, "alerts", "ack", str(pupil), "--as", "gov.g", "--totp", code(governor)) == 1
    assert "a governor account may not act on alert" in capsys.readouterr().err


def test_secrets_kept_plain_are_encrypted_by_the_next_users_command(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    helen = add(config, capsys, "helen.h", "dsl")
    key = config.resolve("var/totp.key")
    assert key.exists()
    # As a store from before encryption holds it: the secret in the clear, no key file.
    engine = open_store(config.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET totp_secret = :s"), {"s": helen.secret})
    key.unlink()
    assert run(config, "users", "list", "--json") == 0
    result = capsys.readouterr()
    assert [a["username"] for a in json.loads(result.out)] == ["helen.h"]
    assert result.err.strip() == (
        f"encrypted the two-factor secrets of 1 account(s) with the key in {key}: keep a copy "
        "of that file apart from the store's backups"
    )
    [(kept,)] = rows(engine, "SELECT totp_secret FROM accounts")
    assert kept.startswith("aesgcm1:")
    engine.dispose()
    pupil = alert(config, "amy.p", "pupil", "gambling")
    assert run(config, "alerts", "ack", str(pupil), "--as", "helen.h", "--totp", code(helen)) == 0
    # Without the key, case work says which file is missing, in one line.
    key.unlink()
    capsys.readouterr()
    assert run(config, "alerts", "note", str(pupil), "x", "--as", "helen.h", "--totp", "1") == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"{key}: the key the accounts' two-factor secrets are encrypted")
    assert run(config, "users", "list") == 0  # nothing plain left: no key needed to list
