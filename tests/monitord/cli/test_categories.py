"""``monitord categories``: every category id with its name, no config needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitord.cli.main import main
from monitord.core.categories import CATEGORIES, NAMES, TECHNICAL


def test_categories_lists_every_id_with_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)  # no config anywhere: not needed
    monkeypatch.setenv("MONITORD_CONFIG", str(tmp_path / "absent.toml"))
    assert main(["categories", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in listed] == list(CATEGORIES)
    assert all(c["name"] == NAMES[c["id"]] for c in listed)
    assert {c["id"] for c in listed if c["technical"]} == TECHNICAL
    assert {c["id"] for c in listed if c["illegal"]} == {"child_abuse", "terrorist_content"}
    assert main(["categories"]) == 0
    table = capsys.readouterr().out
    for c in CATEGORIES:
        assert f"{c}  " in table
    assert "unauthorised_device  Unauthorised devices" in table
