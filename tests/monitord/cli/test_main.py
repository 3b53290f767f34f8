"""The command line as a whole: exit codes, one line for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli.main import main
from tests.monitord.cli.school import monitord


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


def test_usage_errors_exit_2() -> None:
    assert monitord("alerts", "frobnicate").returncode == 2
    assert monitord("ingest", "x.log").returncode == 2
