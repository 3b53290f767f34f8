"""``monitord alerts``: the list's contract shape and case work, audited."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitord.cli.main import main
from monitord.settings.config import Config
from tests.conftest import UT1
from tests.monitord.cli.school import CONTRACT_FIELDS, RECENT, ZONE, mixed_alerts, monitord


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


@pytest.fixture
def mixed(config: Config, tmp_path: Path) -> tuple[list[str], dict[str, list[int]]]:
    """A school with three technical alerts and one about a pupil, on either store."""
    assert config.path is not None
    return ["--config", str(config.path)], mixed_alerts(config.path, tmp_path)


def _listed(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main([*args, "--json"]) == 0
    found: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return found


@pytest.mark.stores
def test_alerts_list_filters_pages_and_local_times(
    mixed: tuple[list[str], dict[str, list[int]]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: each row on one line
    cfg, ids = mixed
    devices, [pupil] = ids["unauthorised_device"], ids["pornography"]
    assert len(devices) == 3
    every = [a["id"] for a in _listed(capsys, *cfg, "alerts", "list")]
    assert every == sorted(every)
    assert set(every) == {*devices, pupil}
    by_category = _listed(capsys, *cfg, "alerts", "list", "--category", "unauthorised_device")
    assert [a["id"] for a in by_category] == devices
    assert [a["id"] for a in _listed(capsys, *cfg, "alerts", "list", "--person", "JAYDEN.S")] == [
        pupil
    ]
    high = _listed(capsys, *cfg, "alerts", "list", "--severity", "high")
    assert [a["id"] for a in high] == [pupil]
    assert _listed(capsys, *cfg, "alerts", "list", "--severity", "low") == []
    # Pages: the newest two, then the page before them.
    newest = [a["id"] for a in _listed(capsys, *cfg, "alerts", "list", "--limit", "2")]
    assert newest == every[-2:]
    before = ["--limit", "2", "--before", str(newest[0])]
    assert [a["id"] for a in _listed(capsys, *cfg, "alerts", "list", *before)] == every[:2]
    assert main([*cfg, "alerts", "list", "--limit", "2"]) == 0
    table = capsys.readouterr().out
    assert f"--before {newest[0]}" in table
    # The time column is the school's clock, an hour past UTC.
    [shown] = [a for a in _listed(capsys, *cfg, "alerts", "list") if a["id"] == pupil]
    utc_seen = datetime.fromisoformat(shown["last_seen"].replace("Z", "+00:00"))
    local = utc_seen.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M")
    assert main([*cfg, "alerts", "list", "--person", "jayden.s"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "jayden.s" in line)
    assert local in row
    assert utc_seen.strftime("%H:%M") not in row
    assert main([*cfg, "alerts", "list", "--limit", "0"]) == 1
    assert capsys.readouterr().err.strip() == "--limit: at least 1"


@pytest.mark.stores
def test_bulk_ack_and_close_only_technical_alerts(
    mixed: tuple[list[str], dict[str, list[int]]], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, ids = mixed
    devices, [pupil] = ids["unauthorised_device"], ids["pornography"]
    # A person's alert among them: refused, and nothing changed.
    several = [str(devices[0]), str(pupil)]
    assert main([*cfg, "alerts", "ack", *several]) == 1
    refused = capsys.readouterr().err.strip()
    assert f"alert {pupil} (pornography) is about what a person did" in refused
    assert refused.endswith("(nothing was changed)")
    assert {a["status"] for a in _listed(capsys, *cfg, "alerts", "list")} == {"open"}
    assert main([*cfg, "alerts", "ack", str(devices[0]), str(devices[1])]) == 0
    assert capsys.readouterr().out.strip() == (
        f"ack recorded for 2 alerts: {devices[0]}, {devices[1]}"
    )
    closing = ["--category", "unauthorised_device", "--outcome", "no_concern"]
    assert main([*cfg, "alerts", "close", *closing]) == 0
    assert "close recorded for 3 alerts" in capsys.readouterr().out
    statuses = {a["id"]: a["status"] for a in _listed(capsys, *cfg, "alerts", "list")}
    assert statuses == {**dict.fromkeys(devices, "closed"), pupil: "open"}
    # None left open: nothing to do, and not an error.
    assert main([*cfg, "alerts", "ack", "--category", "unauthorised_device"]) == 0
    assert "nothing to ack" in capsys.readouterr().out
    # A person's alert on its own is acknowledged as before; never by category.
    assert main([*cfg, "alerts", "ack", str(pupil)]) == 0
    with pytest.raises(SystemExit) as usage:
        main([*cfg, "alerts", "ack", "--category", "pornography"])
    assert usage.value.code == 2
    assert main([*cfg, "alerts", "ack"]) == 1
    assert "give alert ids, or --category C" in capsys.readouterr().err
    assert main([*cfg, "evidence", "verify"]) == 0


@pytest.mark.stores
def test_reopen_a_closed_alert(
    mixed: tuple[list[str], dict[str, list[int]]], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, ids = mixed
    first = str(ids["unauthorised_device"][0])
    assert main([*cfg, "alerts", "close", first, "--outcome", "no_concern"]) == 0
    assert main([*cfg, "alerts", "reopen", first, "--reason", "the visitor came back"]) == 0
    assert main([*cfg, "alerts", "show", first, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out.split("\n", 2)[-1])
    assert (shown["alert"]["status"], shown["alert"]["outcome"]) == ("open", None)
    [reopened] = [h for h in shown["history"] if h["action"] == "alert.reopen"]
    assert reopened["detail"]["reason"] == "the visitor came back"
    again = [first, "--reason", "again"]
    assert main([*cfg, "alerts", "reopen", *again]) == 1
    assert capsys.readouterr().err.strip() == f"alert {first} is open, not closed"
    assert main([*cfg, "alerts", "reopen", "999", "--reason", "x"]) == 1
    assert capsys.readouterr().err.strip() == "no alert 999"
    with pytest.raises(SystemExit) as usage:
        main([*cfg, "alerts", "reopen", first])
    assert usage.value.code == 2
    assert main([*cfg, "evidence", "verify"]) == 0


def test_alerts_show_prints_readable_values(
    mixed: tuple[list[str], dict[str, list[int]]], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, ids = mixed
    [pupil] = ids["pornography"]
    assert main([*cfg, "alerts", "note", str(pupil), "spoke to Jayden"]) == 0
    capsys.readouterr()
    assert main([*cfg, "alerts", "show", str(pupil)]) == 0
    shown = capsys.readouterr().out
    assert f"Alert {pupil}: high pornography (Pornography), open" in shown
    assert "person:      Jayden Smith (jayden.s), pupil, year 6" in shown
    assert "sources:     dnsmasq\n" in shown
    assert "blocked:     no\n" in shown
    # When the pupil's query was logged, in the school's zone (its name shown).
    assert f"{RECENT.astimezone(ZoneInfo(ZONE)):%a %d %b %Y} 10:01:02 CET" in shown
    assert "alert.note: text spoke to Jayden" in shown
    for raw in ("['", "{'", "None", "T09:01:02Z"):
        assert raw not in shown
