"""The command line as an operator uses it, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.cli.main import main
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


def monitord(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "monitord"]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """init, lists import (UT1), people, devices, leases and a dnsmasq log, as in the README."""
    root = tmp_path_factory.mktemp("cli")
    assert monitord("init", str(root / "site")).returncode == 0
    config = root / "site" / "monitord.toml"
    r = monitord("lists", "import", str(UT1), "--format", "ut1", config=config)
    assert r.returncode == 0, r.stderr
    (root / "roster.csv").write_text(
        "username,display_name,role,year_group,class,email\n"
        "jayden.s,Jayden Smith,pupil,6,6B,\nhelen.p,Helen Price,staff,,,\n",
        encoding="utf-8",
    )
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


def test_classify_explains_with_policy_for_a_person(site: Path) -> None:
    gambling = (UT1 / "gambling" / "domains").read_text().split()[0]
    r = monitord(
        "classify", f"https://www.{gambling}/poker", "--user", "jayden.s",
        "--at", "2026-11-19T11:00", "--json", config=site,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["categories"] == ["gambling"]
    [m] = result["matches"]
    assert (m["list"], m["entry"]) == ("ut1/gambling", gambling)
    assert isinstance(m["version"], int)
    assert result["person"] == {"username": "jayden.s", "role": "pupil", "year_group": "6"}
    assert result["at"].startswith("2026-11-19T11:00")
    [d] = result["decisions"]
    assert d["severity"] == result["severity"]
    assert "pupil" in d["rule"]
    assert d["addresses"] == {"dsl": ["dsl@school.example"]}
    human = monitord("classify", gambling, config=site)
    assert human.returncode == 0, human.stderr
    assert f"entry {gambling}" in human.stdout
    assert "result: " in human.stdout
    # lists import compiled the index that classify (and the daemon) maps.
    assert list((site.parent / "var" / "lists").glob("index-*.mdi"))


def test_classify_batch_writes_one_json_line_per_line(site: Path) -> None:
    gambling = (UT1 / "gambling" / "domains").read_text().split()[0]
    lines = [f"www.{gambling}", "http://clean-school-site.example/", "some words", ""]
    r = subprocess.run(
        [sys.executable, "-m", "monitord", "--config", str(site), "classify", "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["item"] for o in out] == lines
    assert [o["categories"] for o in out] == [["gambling"], [], [], []]
    assert [o["kind"] for o in out] == ["domain", "url", "text", "text"]


def test_classify_bad_user_or_time_is_one_line(site: Path) -> None:
    r = monitord("classify", "example.com", "--user", "nobody", config=site)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("--user nobody: no one with that user name")
    r = monitord("classify", "example.com", "--at", "teatime", config=site)
    assert r.returncode == 1
    assert "is not a time" in r.stderr
    assert "Traceback" not in r.stderr


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


def test_outbox_flush_writes_eml_to_pickup_dir(site: Path) -> None:
    r = monitord("outbox", "flush", config=site)
    assert r.returncode == 0, r.stderr
    mails = list((site.parent / "var" / "outbox-mail").glob("*.eml"))
    assert len(mails) == 1
    body = mails[0].read_text()
    assert "Subject: [monitord #1] MEDIUM gambling - J.S." in body
    assert "Jayden Smith" in body  # in the body, never the subject


def test_bad_input_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "monitord.toml"
    cfg.write_text("")
    assert (
        main(["--config", str(cfg), "ingest", str(tmp_path / "nope.log"), "--format", "squid"]) == 1
    )
    assert capsys.readouterr().err.strip() == f"{tmp_path / 'nope.log'}: file not found"
    assert main(["--config", str(cfg), "alerts", "show", "99"]) == 1
    assert capsys.readouterr().err.strip() == "no alert 99"
    with pytest.raises(SystemExit) as usage:
        main(["--config", str(cfg), "ingest", str(cfg), "--format", "syslogd"])
    assert usage.value.code == 2


def test_ingest_of_nothing_readable_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of the wrong format is every line rejected: that is bad input, exit 1, while a
    file with some readable lines is not."""
    from monitord.service.initdir import init_dir

    cfg = str(init_dir(tmp_path / "site")[0])
    squid = tmp_path / "access.log"
    squid.write_text(
        "1700000000.000    120 10.20.6.50 TCP_MISS/200 512 GET http://example.org/ - "
        "HIER_DIRECT/93.184.216.34 text/html\n"
        "not a log line\n"
    )
    assert main(["--config", cfg, "ingest", str(squid), "--format", "dnsmasq", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["rejected"] == 2
    assert captured.err.strip() == (
        "no line was read: all 2 were rejected as dnsmasq "
        "(is --format right? the reasons are stored with the rejected lines)"
    )
    assert main(["--config", cfg, "ingest", str(squid), "--format", "squid", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rejected"] == 1


def test_usage_errors_exit_2() -> None:
    assert monitord("alerts", "frobnicate").returncode == 2
    assert monitord("ingest", "x.log").returncode == 2


def test_windows_dns_date_order_per_source(tmp_path: Path) -> None:
    import sqlite3

    from monitord.service.initdir import init_dir

    config = init_dir(tmp_path / "site")[0]
    log = tmp_path / "dns.log"
    log.write_text(
        "6/5/2026 10:20:46 AM 0E70 PACKET  00000000033397A0 UDP Rcv 10.161.60.71    5b47   "
        "Q [0001   D   NOERROR] A      (7)example(3)com(0)\n",
        encoding="utf-8",
    )
    assert (
        main(
            [
                "--config",
                str(config),
                "ingest",
                str(log),
                "--format",
                "windows-dns",
                "--date-order",
                "dmy",
            ]
        )
        == 0
    )
    with sqlite3.connect(tmp_path / "site" / "var" / "monitord.db") as db:
        (ts,) = db.execute("SELECT ts FROM events").fetchone()
    assert ts.startswith("2026-05-06 09:20:46")  # 6 May, 10:20 BST
    assert (
        main(
            [
                "--config",
                str(config),
                "ingest",
                str(log),
                "--format",
                "squid",
                "--date-order",
                "dmy",
            ]
        )
        == 1
    )


def test_date_order_is_only_for_windows_dns(tmp_path: Path) -> None:
    from monitord.settings.config import ConfigError, load_config

    (tmp_path / "a.log").touch()
    cfg = tmp_path / "monitord.toml"
    cfg.write_text(
        '[[sources]]\nname = "a"\nformat = "dnsmasq"\npath = "a.log"\ndate_order = "dmy"\n'
    )
    with pytest.raises(ConfigError, match="date_order applies only to format windows-dns"):
        load_config(cfg)


def test_supply_checkin_and_import(tmp_path: Path) -> None:
    root = tmp_path / "school"
    assert monitord("init", str(root)).returncode == 0
    cfg = root / "monitord.toml"
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,display_name,role\nsupply1,Supply 1,supply\nhelen.p,Helen Price,staff\n",
        encoding="utf-8",
    )
    assert monitord("people", "import", str(roster), config=cfg).returncode == 0
    ok = monitord(
        "supply", "checkin", "Supply1", "--name", "Jane Doe", "--class", "4B",
        "--date", "2026-11-19", config=cfg,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "supply1 is Jane Doe (covering 4B) on Thursday 19 November 2026" in ok.stdout
    refused = monitord(
        "supply", "checkin", "helen.p", "--name", "Jane Doe", "--class", "4B", config=cfg
    )
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "'helen.p' is not a supply login on the roster (import a roster that lists it with "
        "role supply)"
    )
    bad_date = monitord(
        "supply", "checkin", "supply1", "--name", "J", "--class", "4B", "--date", "Thursday",
        config=cfg,
    )  # fmt: skip
    assert bad_date.returncode == 1
    assert "'Thursday' is not a time" in bad_date.stderr
    assert "Traceback" not in bad_date.stderr
    assert monitord("supply", "checkin", "supply1", "--name", "J", config=cfg).returncode == 2
    visits = tmp_path / "visits.csv"
    visits.write_text("login,name,class,date\nsupply1,Sam Lee,6A,2026-11-20\n", encoding="utf-8")
    imported = monitord("supply", "import", str(visits), config=cfg)
    assert (imported.returncode, imported.stdout.strip()) == (0, "supply: 1 visit(s) recorded")


def test_people_import_reads_the_roster_column_mapping(tmp_path: Path) -> None:
    root = tmp_path / "school"
    assert monitord("init", str(root)).returncode == 0
    cfg = root / "monitord.toml"
    with cfg.open("a", encoding="utf-8") as fh:
        fh.write('\n[roster]\ndefault_role = "pupil"\n[roster.columns]\nusername = "Login"\n')
        fh.write('display_name = "Name"\nyear_group = "Year"\nclass = "Reg Group"\n')
    export = tmp_path / "sims.csv"
    export.write_text('Login,Name,Year,Reg Group\njayden.s,"Smith, Jayden",Year 6,6B\n')
    result = monitord("people", "import", str(export), config=cfg)
    assert result.returncode == 0, result.stderr
    assert "people: 1 added" in result.stdout


def test_lists_import_hosts_and_e2guardian(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from monitord.service.initdir import init_dir
    from tests.conftest import SHARED

    config = str(init_dir(tmp_path / "site")[0])
    hosts = tmp_path / "hosts"
    hosts.write_text("# a block list\n0.0.0.0 casino.example\n0.0.0.0 poker.example # two\n")
    assert (
        main(
            [
                "--config",
                config,
                "lists",
                "import",
                str(hosts),
                "--format",
                "hosts",
                "--category",
                "gambling",
            ]
        )
        == 0
    )
    assert main(["--config", config, "lists", "import", str(hosts), "--format", "hosts"]) == 1
    assert "needs --category" in capsys.readouterr().err
    assert main(["--config", config, "classify", "www.casino.example", "--json"]) == 0
    assert '"gambling"' in capsys.readouterr().out
    phrases = SHARED / "data" / "e2guardian-phraselists" / "ukenglish"
    assert (
        main(["--config", config, "lists", "import", str(phrases), "--format", "e2guardian"]) == 0
    )
    shown = capsys.readouterr().out
    assert "pornography" in shown
    with sqlite3.connect(tmp_path / "site" / "var" / "monitord.db") as db:
        formats = {r[0] for r in db.execute("SELECT fmt FROM list_versions WHERE active")}
    assert {"e2guardian", "hosts"} <= formats


def test_retention_run_dry_then_for_real_and_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    from tests.monitord.store.test_retention import _school

    cfg, _clock, _app = _school(tmp_path, store_url)
    assert cfg.path is not None
    config = str(cfg.path)
    # The store's data is from June and November 2026; "now" is today, so June is long gone.
    assert main(["--config", config, "retention", "run", "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] is True
    assert dry["removed"]["rejected"] >= 1  # June's, at least
    assert main(["--config", config, "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["last_retention"] is None
    assert main(["--config", config, "retention", "run"]) == 0
    shown = capsys.readouterr().out
    assert "removed" in shown
    assert "recorded in the audit trail" in shown
    assert main(["--config", config, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["last_retention"]["removed"] == dry["removed"]
    assert status["store"]["schema_current"] is True
    assert main(["--config", config, "status"]) == 0
    assert "last retention run:" in capsys.readouterr().out


def test_classify_explains_text_with_its_phrases_and_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitord.service.initdir import init_dir

    config = str(init_dir(tmp_path / "site")[0])
    assert main(["--config", config, "classify", "how to kill myself", "--json"]) == 0
    text = json.loads(capsys.readouterr().out)["text"]
    assert "suicide" in text["categories"]
    assert "kill myself" in [p["phrase"] for p in text["judgement"]["phrases"]]
    assert text["decisions"][0]["severity"] == "high"
    assert text["decisions"][0]["addresses"] == ["dsl@school.example"]
    assert main(["--config", config, "classify", "holocaust year 6 lesson", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["text"]["categories"] == []
    roster = tmp_path / "roster.csv"
    roster.write_text("username,display_name,role,year_group\njayden.s,Jayden Smith,pupil,6\n")
    assert main(["--config", config, "people", "import", str(roster)]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "--config",
                config,
                "classify",
                "how to stop self harming",
                "--user",
                "jayden.s",
                "--json",
            ]
        )
        == 0
    )
    helped = json.loads(capsys.readouterr().out)["text"]
    assert helped["age_band"] == "junior"
    assert helped["support_seeking"] is True
    assert "self_harm" in helped["categories"]
