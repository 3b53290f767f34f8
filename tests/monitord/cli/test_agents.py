"""``monitord agents``: enrol, list (times on the school's clock) and revoke."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli.main import main
from monitord.identity.agents import list_agents
from monitord.settings.config import Config
from monitord.store.database import utc
from tests.monitord.cli.school import opened


@pytest.mark.stores
def test_agents_add_list_and_revoke(
    config: Config, options: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = options
    devices = tmp_path / "devices.csv"
    devices.write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "Y6-LT-07,aa:00:00:00:00:07,y6-lt-07,school_shared,\n"
    )
    assert main([*cfg, "devices", "import", str(devices)]) == 0
    capsys.readouterr()
    assert main([*cfg, "agents", "add", "y6-lt-07", "--device", "Y6-LT-07"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].startswith("agent y6-lt-07 added for device Y6-LT-07")
    token = shown[-1]
    assert len(token) >= 32
    assert main([*cfg, "agents", "list"]) == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if "y6-lt-07" in line]
    with opened(config) as engine:
        [agent] = list_agents(engine)
    added = utc(agent.created_at)
    assert added.astimezone(config.tz).strftime("%Y-%m-%d %H:%M") in row
    assert row.rstrip().endswith("never")  # not seen yet
    assert main([*cfg, "agents", "revoke", "y6-lt-07"]) == 0
    assert "token revoked" in capsys.readouterr().out
    assert main([*cfg, "agents", "revoke", "nobody"]) == 1
    assert "Traceback" not in capsys.readouterr().err
