"""``monitord init``: a working config and its store; refused over one already there."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli.main import main


def test_init_writes_a_config_that_checks_and_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path / "site")]) == 0
    shown = capsys.readouterr().out
    config = tmp_path / "site" / "monitord.toml"
    assert f"wrote {config}" in shown
    assert "created the store at sqlite:///" in shown
    assert (tmp_path / "site" / "var" / "monitord.db").is_file()
    assert main(["--config", str(config), "config", "check"]) == 0
    capsys.readouterr()
    assert main(["init", str(tmp_path / "site")]) == 1
    refused = capsys.readouterr().err.strip()
    assert len(refused.splitlines()) == 1
    assert "Traceback" not in refused
