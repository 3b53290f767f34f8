"""A subject access request gathers everything held about the person: not only the events
carrying their user name, but their device's, the mail about them, silences, unreadable lines
with their name, and the searches, timelines and notes about them."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitord.casework import cases
from monitord.casework.query import Query
from monitord.casework.rights import subject_access
from monitord.casework.search import search
from monitord.casework.silences import add_silence
from monitord.casework.timeline import timeline
from monitord.service.app import App, ingest_files
from monitord.store.database import insert_ignore, table_of
from monitord.store.tables import EventRow
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
