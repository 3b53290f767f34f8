"""``monitord alerts``: the list's contract shape and case work, audited."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import UT1
from tests.monitord.cli.school import CONTRACT_FIELDS, monitord


def test_alerts_list_json_has_the_contract_shape(site: Path) -> None:
    r = monitord("alerts", "list", "--json", config=site)
    assert r.returncode == 0, r.stderr
    alerts = json.loads(r.stdout)
    gambling = (UT1 / "gambling" / "domains").read_text().split()[0]
    assert len(alerts) == 1  # the staff dating lookup is low: recorded, no alert
    a = alerts[0]
    assert set(a) >= CONTRACT_FIELDS
    assert a["category"] == "gambling"
    assert a["severity"] == "medium"
    assert a["status"] == "open"
    assert (a["person"], a["role"], a["year_group"]) == ("jayden.s", "pupil", "6")
    assert (a["device"], a["ip"]) == ("Y6-LT-07", "10.20.6.7")
    assert a["indicator"] == f"www.{gambling}"
    assert a["sources"] == ["dnsmasq"]
    assert a["recipients"] == ["dsl@school.example"]
    assert a["first_seen"] == "2026-11-19T10:01:02Z"
    assert a["created_at"].endswith("Z")


def test_case_work_is_audited_and_verifiable(site: Path) -> None:
    assert monitord("alerts", "ack", "1", config=site).returncode == 0
    assert monitord("alerts", "note", "1", "spoke to pupil", config=site).returncode == 0
    r = monitord("alerts", "close", "1", "--outcome", "internal_action", config=site)
    assert r.returncode == 0, r.stderr
    shown = json.loads(monitord("alerts", "show", "1", "--json", config=site).stdout)
    actions = [h["action"] for h in shown["history"]]
    assert actions[:4] == ["alert.create", "alert.ack", "alert.note", "alert.close"]
    assert shown["alert"]["status"] == "closed"
    assert shown["events"][0]["raw"].startswith("Nov 19 10:01:02 dnsmasq[811]: query[A] www.")
    assert shown["events"][0]["matches"][0]["list"] == "ut1/gambling"
    r = monitord("evidence", "verify", config=site)
    assert r.returncode == 0
    assert "intact" in r.stdout
    assert (
        monitord("alerts", "list", "--status", "open", "--json", config=site).stdout.strip() == "[]"
    )
