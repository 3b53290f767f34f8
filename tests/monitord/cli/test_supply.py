"""``monitord supply``: supply teachers on shared logins."""

from __future__ import annotations

from pathlib import Path

from tests.monitord.cli.school import monitord


def test_supply_checkin_and_import(tmp_path: Path) -> None:
    root = tmp_path / "school"
    assert monitord("init", str(root)).returncode == 0
    cfg = root / "monitord.toml"
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,display_name,role\nsupply1,Supply 1,supply\nhelen.p,Helen Price,staff\n",
        encoding="utf-8",
    )
    assert monitord("people", "import", str(roster), config=cfg).returncode == 0
    ok = monitord(
        "supply", "checkin", "Supply1", "--name", "Jane Doe", "--class", "4B",
        "--date", "2026-11-19", config=cfg,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "supply1 is Jane Doe (covering 4B) on Thursday 19 November 2026" in ok.stdout
    refused = monitord(
        "supply", "checkin", "helen.p", "--name", "Jane Doe", "--class", "4B", config=cfg
    )
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "'helen.p' is not a supply login on the roster (import a roster that lists it with "
        "role supply)"
    )
    bad_date = monitord(
        "supply", "checkin", "supply1", "--name", "J", "--class", "4B", "--date", "Thursday",
        config=cfg,
    )  # fmt: skip
    assert bad_date.returncode == 1
    assert "'Thursday' is not a time" in bad_date.stderr
    assert "Traceback" not in bad_date.stderr
    assert monitord("supply", "checkin", "supply1", "--name", "J", config=cfg).returncode == 2
    visits = tmp_path / "visits.csv"
    visits.write_text("login,name,class,date\nsupply1,Sam Lee,6A,2026-11-20\n", encoding="utf-8")
    imported = monitord("supply", "import", str(visits), config=cfg)
    assert (imported.returncode, imported.stdout.strip()) == (0, "supply: 1 visit(s) recorded")
