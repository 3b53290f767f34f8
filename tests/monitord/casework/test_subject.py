"""A subject access request gathers everything held about the person: not only the events
carrying their user name, but their device's, the mail about them, silences, unreadable lines
with their name, and the searches, timelines and notes about them."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import text

from monitord.casework import cases
from monitord.casework.accounts import add_account, set_role
from monitord.casework.query import Query
from monitord.casework.rights import subject_access
from monitord.casework.search import search
from monitord.casework.sessions import Limits, open_session
from monitord.casework.signin import sign_in
from monitord.casework.silences import add_silence
from monitord.casework.timeline import timeline
from monitord.casework.totpkey import TotpKey
from monitord.core.clock import FixedClock
from monitord.service.app import App, ingest_files
from monitord.store.database import insert_ignore, table_of
from monitord.store.tables import EventRow
from tests.monitord.casework.conftest import FAST, PASSWORD
from tests.monitord.service.test_pipeline import log, school

pytestmark = pytest.mark.stores


def _part(bundle: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(bundle.read(f"{name}.json"))
    return found


def test_a_subject_access_request_is_complete(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)  # jayden.s, whose laptop is Y6-LT-07
    now = app.clock.now()
    lines = [
        "Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7",
        "Nov 19 10:03:00 dnsmasq[811]: query[A] www.pornhub.com from 10.99.9.9",  # no one known
        "Nov 19 10:04:00 dnsmasq[811]: not a line dnsmasq writes, from JAYDEN.S",
        "Nov 19 10:05:00 dnsmasq[811]: not a line dnsmasq writes either, from someone.else",
    ]
    ingest_files(app, [log(tmp_path, lines)], "dnsmasq", "resolver")
    # An event of his laptop that names no one (read before the laptop was his, say).
    quiet = {
        "id": "f" * 32,
        "ts": datetime(2026, 11, 19, 11, 0, tzinfo=UTC),
        "source": "agents",
        "fmt": "agent",
        "kind": "process",
        "device_id": "Y6-LT-07",
        "text": "minecraft.exe",
        "file_id": "e" * 32,
        "offset": 0,
        "raw": b"{}",
    }
    with app.engine.begin() as conn:
        insert_ignore(conn, table_of(EventRow), [quiet])
    his, other = (a["id"] for a in sorted(cases.list_alerts(app.engine), key=lambda a: a["id"]))
    # What staff did about him: searched, looked at his day, held his mail, wrote about him
    # in a case that is not his.
    search(app.engine, Query(user="jayden.s"), "dsl", "DSL ref 1", now)
    search(app.engine, Query(device="Y6-LT-07"), "dsl", "DSL ref 2", now)
    search(app.engine, Query(user="helen.p"), "dsl", "not about him", now)
    day = datetime(2026, 11, 19, tzinfo=UTC).date()
    timeline(app.engine, day, app.cfg.tz, "dsl", "DSL ref 3", now, user="jayden.s")
    add_silence(
        app.engine,
        person="jayden.s",
        device=None,
        category=None,
        duration=timedelta(days=1),
        reason="parents informed",
        actor="dsl",
        now=now,
    )
    cases.note(app.engine, other, "dsl", "Jayden Smith says this was his friend's phone", now)
    cases.note(app.engine, other, "dsl", "nothing about anyone", now)

    target = tmp_path / "sar.zip"
    counts = subject_access(app.engine, "jayden.s", target, "dpo", "SAR 7", now)
    with zipfile.ZipFile(target) as bundle:
        events = _part(bundle, "events")
        mail = _part(bundle, "mail")
        silences = _part(bundle, "silences")
        rejected = _part(bundle, "rejected")
        records = _part(bundle, "audit")
        readme = bundle.read("README.txt").decode()
    assert counts["alerts"] == 1
    assert {e["domain"] for e in events if e["kind"] == "dns"} == {"www.bet365.com"}
    assert "minecraft.exe" in {e["text"] for e in events}
    assert [m["alert_id"] for m in mail] == [his]
    assert "bet365" in mail[0]["subject"] or "gambling" in mail[0]["subject"]
    assert [s["reason"] for s in silences] == ["parents informed"]
    assert [r["raw"] for r in rejected] == [lines[2]]
    done = {(r["action"], r["subject"]) for r in records}
    assert ("search", "user:jayden.s") in done
    assert ("search", "device:Y6-LT-07") in done
    assert ("timeline", "user:jayden.s") in done
    assert ("silence.add", f"silence:{silences[0]['id']}") in done
    notes = [json.loads(r["detail"])["text"] for r in records if r["action"] == "alert.note"]
    assert notes == ["Jayden Smith says this was his friend's phone"]
    assert ("search", "user:helen.p") not in done
    for part in ("mail.json", "silences.json", "rejected.json"):
        assert part in readme


def test_a_persons_console_account_is_in_their_request(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)  # helen.p, staff
    key = TotpKey(tmp_path / "keys" / "totp.key")
    clock = app.clock
    assert isinstance(clock, FixedClock)
    with app.engine.begin() as conn:
        conn.execute(text("UPDATE people SET email = 'Helen.Price@school.example'"))
    made = {}
    for name, role, email in (
        ("helen.p", "deputy_dsl", ""),
        ("hprice", "governor", "helen.price@school.example"),  # found by her roster email
        ("other.t", "dsl", "other@school.example"),
    ):
        made[name] = add_account(
            app.engine, name, role, "root", clock.now(), email=email, password=PASSWORD,
            ph=FAST, key=key,
        )  # fmt: skip
    uri = made["helen.p"].totp_uri
    assert uri is not None
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    sign_in(app.engine, "helen.p", PASSWORD, "000000", "10.0.0.9", clock.now(), key=key, ph=FAST)
    signed = sign_in(
        app.engine,
        "helen.p",
        PASSWORD,
        totp.at(clock.now()),
        "10.0.0.8",
        clock.now(),
        key=key,
        ph=FAST,
    )
    assert signed.account is not None
    open_session(app.engine, signed.account, "10.0.0.8", clock.now(), Limits())
    set_role(app.engine, "helen.p", "dsl", "root", clock.now())
    sign_in(app.engine, "other.t", PASSWORD, "000000", "10.0.0.7", clock.now(), key=key, ph=FAST)

    target = tmp_path / "helen.zip"
    counts = subject_access(app.engine, "helen.p", target, "dpo", "SAR 9", clock.now())
    with zipfile.ZipFile(target) as bundle:
        accounts = _part(bundle, "accounts")
        signins = _part(bundle, "signins")
        sessions = _part(bundle, "sessions")
        records = _part(bundle, "audit")
        everything = b"".join(bundle.read(n) for n in bundle.namelist())
        readme = bundle.read("README.txt").decode()
    assert (counts["accounts"], counts["signins"]) == (2, 2)
    assert [(a["username"], a["role"], a["two_factor"]) for a in accounts] == [
        ("helen.p", "dsl", True),
        ("hprice", "governor", True),
    ]
    assert set(accounts[0]) == {
        "username", "role", "full_name", "email", "state", "disabled", "two_factor",
        "created_at", "updated_at",
    }  # fmt: skip
    assert accounts[0]["disabled"] is False
    assert [(s["address"], s["outcome"]) for s in signins] == [
        ("10.0.0.9", "failed"),
        ("10.0.0.8", "ok"),
    ]
    assert [(s["username"], s["address"]) for s in sessions] == []  # the role change ended it
    done = {(r["action"], r["subject"]) for r in records}
    for action in ("account.add", "account.sign_in_failed", "account.sign_in", "account.role"):
        assert (action, "account:helen.p") in done
    assert ("account.add", "account:hprice") in done
    assert not any(subject == "account:other.t" for _, subject in done)
    # Never a hash, a secret or a code.
    with app.engine.connect() as conn:
        kept = conn.execute(text("SELECT password_hash, totp_secret FROM accounts")).all()
        hashes = conn.execute(text("SELECT code_hash FROM recovery_codes")).scalars().all()
    for value in [totp.secret, *(v for r in kept for v in r), *hashes]:
        assert value.encode() not in everything
    assert "accounts.json" in readme
    # A session still open is shown by its times and address only.
    other = pyotp.TOTP(pyotp.parse_uri(made["hprice"].totp_uri or "").secret)
    signed = sign_in(
        app.engine, "hprice", PASSWORD, other.at(clock.now()), "10.0.0.6", clock.now(),
        key=key, ph=FAST,
    )  # fmt: skip
    assert signed.account is not None
    token, session = open_session(app.engine, signed.account, "10.0.0.6", clock.now(), Limits())
    subject_access(app.engine, "helen.p", target, "dpo", "SAR 9", clock.now())
    with zipfile.ZipFile(target) as bundle:
        [shown] = _part(bundle, "sessions")
        everything = b"".join(bundle.read(n) for n in bundle.namelist())
    assert set(shown) == {"username", "created_at", "last_seen", "address"}
    assert (shown["username"], shown["address"]) == ("hprice", "10.0.0.6")
    assert token.encode() not in everything
    assert session.csrf.encode() not in everything


def test_an_account_with_no_roster_entry_has_its_request(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)
    add_account(app.engine, "gov.g", "governor", "root", app.clock.now(), full_name="Gina G")
    counts = subject_access(app.engine, "gov.g", tmp_path / "g.zip", "dpo", "SAR", app.clock.now())
    assert (counts["person"], counts["accounts"], counts["events"]) == (0, 1, 0)
    with zipfile.ZipFile(tmp_path / "g.zip") as bundle:
        [account] = _part(bundle, "accounts")
    assert (account["state"], account["two_factor"]) == ("pending", False)
