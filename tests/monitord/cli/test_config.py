"""``monitord config check``: every problem of the config, its sources' formats and its
policy in one run, each with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli.main import main


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
