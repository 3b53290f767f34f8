"""``monitord silence``: a silence's id, device and end (on the school's clock) are never
cut, however narrow the terminal."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from monitord.cli.main import main
from monitord.settings.config import Config


@pytest.mark.stores
def test_silence_list_shows_ids_and_ends_whole_on_a_narrow_terminal(
    config: Config, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "50")
    assert config.path is not None
    cfg = ["--config", str(config.path)]
    why = ["--reason", "a week of lessons on online gambling, agreed with the DSL"]
    assert main([*cfg, "silence", "add", "--device", "SUITE-PC-04", "--for", "7d", *why]) == 0
    capsys.readouterr()
    assert main([*cfg, "silence", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    ends = datetime.fromisoformat(listed["expires_at"].replace("Z", "+00:00"))
    assert main([*cfg, "silence", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    [row] = [line for line in lines if "SUITE-PC-04" in line]
    assert ends.astimezone(config.tz).strftime("%Y-%m-%d %H:%M") in row
    assert row.split()[0] == str(listed["id"])
    assert "in force" in row
    # The reason folds over several lines; the whole table is narrower than 80.
    assert len(lines) > 3
    assert max(len(line.rstrip()) for line in lines) < 80
