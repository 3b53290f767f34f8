"""``monitord people``: the roster."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from monitord.cli.main import main
from monitord.settings.config import Config
from tests.monitord.cli.school import monitord, opened
from tests.stores import rows


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


def test_pupils_and_staff_imported_from_their_own_exports(tmp_path: Path) -> None:
    root = tmp_path / "school"
    assert monitord("init", str(root)).returncode == 0
    cfg = root / "monitord.toml"
    whole = tmp_path / "whole.csv"
    whole.write_text(
        "username,display_name,role\njayden.s,Jayden Smith,pupil\nhelen.p,Helen Price,staff\n"
    )
    assert monitord("people", "import", str(whole), config=cfg).returncode == 0
    pupils = tmp_path / "pupils.csv"
    pupils.write_text("username,display_name,role\namelia.k,Amelia Khan,pupil\n")
    r = monitord("people", "import", str(pupils), "--scope", "pupils", config=cfg)
    assert r.returncode == 0, r.stderr
    assert "people: 1 added, 0 updated, 0 unchanged, 1 no longer listed" in r.stdout
    # The staff export read as pupils: refused, the line named, nothing changed.
    staff = tmp_path / "staff.csv"
    staff.write_text("username,display_name,role\nhelen.p,Helen Price,staff\n")
    r = monitord("people", "import", str(staff), "--scope", "pupils", config=cfg)
    assert r.returncode == 1
    assert r.stderr.strip() == (
        f"{staff}: line 2: role 'staff' is not in scope pupils (expected pupil; is this the "
        "right file?)"
    )
    r = monitord("people", "import", str(staff), "--merge", config=cfg)
    assert "people: 0 added, 0 updated, 1 unchanged, 0 no longer listed" in r.stdout
    r = monitord("people", "import", str(staff), "--merge", "--scope", "staff", config=cfg)
    assert r.returncode == 2
    assert "not allowed with argument" in r.stderr
    with sqlite3.connect(root / "var" / "monitord.db") as db:
        active = dict(db.execute("SELECT username, active FROM people ORDER BY username"))
    assert active == {"amelia.k": 1, "helen.p": 1, "jayden.s": 0}


@pytest.mark.stores
def test_people_list_with_filters_audited(
    config: Config, options: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = options
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,display_name,role,year_group,class,email\n"
        "jayden.s,Jayden Smith,pupil,6,6B,\nmia.k,Mia Khan,pupil,R,RA,\n"
        "helen.p,Helen Price,staff,,,helen.p@school.example\n",
        encoding="utf-8",
    )
    assert main([*cfg, "people", "import", str(roster)]) == 0
    roster.write_text(
        "username,display_name,role,year_group,class,email\n"
        "jayden.s,Jayden Smith,pupil,6,6B,\nhelen.p,Helen Price,staff,,,\n",
        encoding="utf-8",
    )
    assert main([*cfg, "people", "import", str(roster)]) == 0  # Mia has left
    capsys.readouterr()

    def listed(*args: str) -> list[str]:
        assert main([*cfg, "people", "list", *args, "--json"]) == 0
        return [p["username"] for p in json.loads(capsys.readouterr().out)]

    assert listed() == ["helen.p", "jayden.s"]
    assert listed("--all") == ["helen.p", "jayden.s", "mia.k"]
    assert listed("--role", "pupil", "--all") == ["jayden.s", "mia.k"]
    assert listed("--year", "r", "--all") == ["mia.k"]
    assert listed("--class", "6b") == ["jayden.s"]
    assert listed("--find", "PRICE") == ["helen.p"]
    assert main([*cfg, "people", "list", "--all"]) == 0
    table = capsys.readouterr().out
    assert "mia.k     Mia Khan" in table
    assert "no, left" in table
    assert "3 people" in table
    with opened(config) as engine:
        [(detail,)] = rows(
            engine, "SELECT detail FROM audit WHERE action = 'people.list' ORDER BY id LIMIT 1"
        )
    assert json.loads(detail)["people"] == 2
