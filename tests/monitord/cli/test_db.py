"""``monitord retention run`` and the store's commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitord.cli.main import main


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
