"""``monitord people``: the roster."""

from __future__ import annotations

import sqlite3
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
