"""``monitord people``: the roster."""

from __future__ import annotations

from pathlib import Path

from tests.monitord.cli.school import monitord


def test_people_import_reads_the_roster_column_mapping(tmp_path: Path) -> None:
    root = tmp_path / "school"
    assert monitord("init", str(root)).returncode == 0
    cfg = root / "monitord.toml"
    with cfg.open("a", encoding="utf-8") as fh:
        fh.write('\n[roster]\ndefault_role = "pupil"\n[roster.columns]\nusername = "Login"\n')
        fh.write('display_name = "Name"\nyear_group = "Year"\nclass = "Reg Group"\n')
    export = tmp_path / "sims.csv"
    export.write_text('Login,Name,Year,Reg Group\njayden.s,"Smith, Jayden",Year 6,6B\n')
    result = monitord("people", "import", str(export), config=cfg)
    assert result.returncode == 0, result.stderr
    assert "people: 1 added" in result.stdout
