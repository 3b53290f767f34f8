"""``monitord config check``: every problem of the config, its sources' formats and its
policy in one run, each with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli.main import main
from monitord.service.initdir import init_dir


def test_what_a_format_does_not_take_is_named_beside_other_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.log").touch()
    cfg = tmp_path / "monitord.toml"
    cfg.write_text(
        '[[sources]]\nname = "a"\nformat = "dnsmasq"\npath = "a.log"\ndate_order = "dmy"\n'
    )
    assert main(["--config", str(cfg), "config", "check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "monitord.toml: sources[0].date_order: date_order applies only to format windows-dns"
    ]
    cfg.write_text(cfg.read_text() + '[school]\nnmae = "x"\n')
    assert main(["--config", str(cfg), "config", "check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "monitord.toml: school.nmae: unknown key",
        "monitord.toml: sources[0].date_order: date_order applies only to format windows-dns",
    ]


def test_a_good_config_is_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dns.log").touch()
    cfg = tmp_path / "monitord.toml"
    cfg.write_text(
        '[[sources]]\nname = "dc"\nformat = "windows-dns"\npath = "dns.log"\ndate_order = "dmy"\n'
    )
    assert main(["--config", str(cfg), "config", "check"]) == 0
    assert capsys.readouterr().out.strip() == f"{cfg}: ok (1 sources)"


def test_a_fresh_config_is_ok_with_its_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = init_dir(tmp_path / "site")[0]
    assert main(["--config", str(path), "config", "check"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"{path}: ok (0 sources)"
    assert "Traceback" not in captured.err


def test_every_problem_in_one_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = init_dir(tmp_path / "site")[0]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('timezone = "Europe/London"', 'timezone = "Mars/Olympus"'))
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n[nonsense]\nkey = 1\n")
    assert main(["--config", str(path), "config", "check"]) == 1
    problems = capsys.readouterr().err.strip().splitlines()
    assert len(problems) >= 2
    assert any("timezone" in p for p in problems)
    assert any("nonsense" in p for p in problems)
