"""``monitord digest`` and ``monitord report`` from the command line, on a generated week."""

from __future__ import annotations

import email
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerting.reports.digest.week import Week
from monitord.cli.main import main
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config
from monitord.store.database import open_store
from tests.alerting.reports.digestweek import generate


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = init_dir(tmp_path / "site")[0]
    text = path.read_text().replace(
        "online_safety_group = []", 'online_safety_group = ["osg@school.example"]'
    )
    path.write_text(text)
    engine = open_store(load_config(path).database_url)
    generate(engine, Week(2026, 47, ZoneInfo("Europe/London")))
    engine.dispose()
    return path


def test_digest_out_writes_the_preview(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "preview"
    assert main(["--config", str(config), "digest", "--week", "2026-W47", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "alerts-per-day.png",
        "digest.html",
        "digest.txt",
        "flagged-by-hour.png",
        "twelve-week-trend.png",
    ]
    said = capsys.readouterr().out
    assert "--send mails it to osg@school.example" in said
    assert "Alerts:                 15 (last week 9)" in (out / "digest.txt").read_text()


def test_digest_prints_the_text_and_names_only_when_asked(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "digest", "--week", "2026-W47"]) == 0
    group = capsys.readouterr().out
    assert "Online Safety Group" in group
    assert "Isla Jones" not in group
    assert main(["--config", str(config), "digest", "--week", "2026-W47", "--named"]) == 0
    assert "Isla Jones (isla.j)" in capsys.readouterr().out


def test_digest_send_goes_through_the_outbox_once(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(config), "digest", "--week", "2026-W47", "--send"]
    assert main(argv) == 0
    assert "digest 2026-W47 sent to osg@school.example" in capsys.readouterr().out
    [eml] = (config.parent / "var" / "outbox-mail").glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=default_policy)
    assert msg["Subject"] == "[monitord] Weekly digest 2026-W47 - Example Primary"
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "the digest for 2026-W47 was already queued on" in err
    assert len(err.strip().splitlines()) == 1
    assert len(list((config.parent / "var" / "outbox-mail").glob("*.eml"))) == 1


def test_digest_refuses_a_bad_week_and_both_ways_at_once(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "digest", "--week", "2026-47"]) == 1
    assert "expected an ISO week such as 2026-W47" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["--config", str(config), "digest", "--send", "--out", "x"])
    assert usage.value.code == 2


def test_report_writes_html_and_pdf(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "governors"
    argv = ["--config", str(config), "report", "--from", "2026-09-01", "--to", "2026-11-22"]
    assert main([*argv, "--out", str(out)]) == 0
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert "report.html" in capsys.readouterr().out
    bad = ["--config", str(config), "report", "--from", "2026-11-22", "--to", "2026-09-01"]
    assert main([*bad, "--out", str(out)]) == 1
    assert "is before --from" in capsys.readouterr().err
