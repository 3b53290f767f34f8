from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitord.app import App
from monitord.roster import ImportError_, import_devices, import_people, normalise_mac
from monitord.store import table_of
from monitord.tables import AuditRow, DeviceRow, PersonRow

ROSTER = """username,display_name,role,year_group,class,email
amelia.s,Amelia Smith,pupil,5,5B,amelia.s@school.example
david.o,David Owen,staff,,,david.o@school.example
"""


def test_people_import_and_reimport_records_changes(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "roster.csv"
    csv.write_text(ROSTER, encoding="utf-8")
    now = app.clock.now()
    first = import_people(app.engine, csv, "office", now)
    assert (first.added, first.updated, first.retired) == (2, 0, 0)
    # Amelia moves class; David leaves; a new pupil arrives.
    csv.write_text(
        "username,display_name,role,year_group,class,email\n"
        "Amelia.S,Amelia Smith,pupil,5,5C,amelia.s@school.example\n"
        "kwame.o,Kwame Okafor,pupil,R,RB,\n",
        encoding="utf-8",
    )
    second = import_people(app.engine, csv, "office", now + timedelta(days=1))
    assert (second.added, second.updated, second.unchanged, second.retired) == (1, 1, 0, 1)
    pt, at = table_of(PersonRow), table_of(AuditRow)
    with app.engine.connect() as conn:
        people = {r.username: r for r in conn.execute(select(pt))}
        actions = [r.action for r in conn.execute(select(at.c.action).order_by(at.c.id))]
    assert people["amelia.s"].class_name == "5C"
    assert people["david.o"].active is False  # kept for past events, marked as left
    assert people["kwame.o"].year_group == "R"
    assert actions.count("person.update") == 1
    assert actions.count("person.retire") == 1


def test_people_import_names_each_bad_line(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "roster.csv"
    csv.write_text(
        "username,display_name,role,year_group\n"
        "a,A,wizard,\n"
        "b,B,pupil,13\n"
        ",C,pupil,1\n"
        "d,D,pupil,2\n"
        "d,D,pupil,2\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportError_) as info:
        import_people(app.engine, csv, "office", app.clock.now())
    assert info.value.problems == [
        f"{csv}: line 2: role 'wizard' is not one of pupil, staff, headteacher, governor, "
        "volunteer, supply, guest",
        f"{csv}: line 3: year_group '13' is not one of N, R, 1, 2, 3, 4, 5, 6",
        f"{csv}: line 4: username is empty",
        f"{csv}: line 6: username 'd' appears twice",
    ]


def test_missing_columns(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text("device_id,hostname\nX,x\n", encoding="utf-8")
    with pytest.raises(ImportError_, match="line 1: missing column"):
        import_devices(app.engine, csv, "office", app.clock.now())


def test_devices_import(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "Y6-LT-07,AA-BB-CC-00-11-22,y6-lt-07,school_single,Jayden.S\n"
        "IPAD-01,,ipad-01,school_shared,\n",
        encoding="utf-8",
    )
    r = import_devices(app.engine, csv, "office", app.clock.now())
    assert r.added == 2
    with app.engine.connect() as conn:
        rows = {r.device_id: r for r in conn.execute(select(table_of(DeviceRow)))}
    assert rows["Y6-LT-07"].mac == "aa:bb:cc:00:11:22"
    assert rows["Y6-LT-07"].assigned_to == "jayden.s"
    assert rows["IPAD-01"].mac is None


def test_bad_device_rows(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "device_id,mac,hostname,ownership,assigned_to\nA,zz:zz,a,school_single,\nB,,b,stolen,\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportError_) as info:
        import_devices(app.engine, csv, "office", app.clock.now())
    assert "line 2: mac 'zz:zz' is not a MAC address" in info.value.problems[0]
    assert "line 3: ownership 'stolen' is not one of" in info.value.problems[1]


def test_normalise_mac() -> None:
    assert normalise_mac("AA:bb:CC:dd:EE:ff") == "aa:bb:cc:dd:ee:ff"
    assert normalise_mac("aa-bb-cc-dd-ee-ff") == "aa:bb:cc:dd:ee:ff"
    assert normalise_mac("aa:bb-cc:dd:ee:ff") is None
    assert normalise_mac("aabbccddeeff") is None
