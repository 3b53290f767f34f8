"""``monitord devices``: the inventory imported, and listed with filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitord.cli.main import main
from monitord.settings.config import Config
from tests.monitord.cli.school import opened
from tests.stores import rows

INVENTORY = (
    "device_id,mac,hostname,ownership,assigned_to,location\n"
    "Y6-LT-07,aa:00:00:00:00:07,y6-lt-07,school_single,jayden.s,\n"
    "SUITE-PC-04,aa:00:00:00:00:44,suite-pc-04,school_shared,,ICT suite\n"
    "HP-LT-01,aabb.ccdd.ee01,hp-lt-01,staff_owned,helen.p,\n"
)


@pytest.mark.stores
def test_devices_list_with_filters_audited(
    config: Config, options: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = options
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,display_name,role,year_group\njayden.s,Jayden Smith,pupil,6\n"
        "helen.p,Helen Price,staff,\n",
        encoding="utf-8",
    )
    devices = tmp_path / "devices.csv"
    devices.write_text(INVENTORY, encoding="utf-8")
    assert main([*cfg, "people", "import", str(roster)]) == 0
    assert main([*cfg, "devices", "import", str(devices)]) == 0
    capsys.readouterr()

    def listed(*args: str) -> list[str]:
        assert main([*cfg, "devices", "list", *args, "--json"]) == 0
        return [d["device_id"] for d in json.loads(capsys.readouterr().out)]

    assert listed() == ["HP-LT-01", "SUITE-PC-04", "Y6-LT-07"]
    assert listed("--ownership", "school_shared") == ["SUITE-PC-04"]
    assert listed("--assigned-to", "Jayden.S") == ["Y6-LT-07"]
    assert listed("--unassigned") == ["SUITE-PC-04"]
    assert listed("--find", "ee:01") == ["HP-LT-01"]  # a Cisco-style MAC, stored with colons
    assert listed("--find", "ict") == ["SUITE-PC-04"]
    assert main([*cfg, "devices", "list"]) == 0
    table = capsys.readouterr().out
    assert "SUITE-PC-04  aa:00:00:00:00:44  suite-pc-04" in table
    assert "3 devices" in table
    with pytest.raises(SystemExit) as usage:
        main([*cfg, "devices", "list", "--assigned-to", "x", "--unassigned"])
    assert usage.value.code == 2
    with opened(config) as engine:
        [(n,)] = rows(engine, "SELECT count(*) FROM audit WHERE action = 'devices.list'")
    assert n == 7
