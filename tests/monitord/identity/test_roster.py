from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitord.identity.roster import (
    ImportError_,
    import_devices,
    import_people,
    normalise_mac,
    person_name,
    year_group,
)
from monitord.service.app import App
from monitord.settings.sections import Roster, RosterColumns
from monitord.store.database import table_of
from monitord.store.tables import AuditRow, DeviceRow, PersonRow, ReservationRow

pytestmark = pytest.mark.stores

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


WHOLE_SCHOOL = """username,display_name,role,year_group
amelia.s,Amelia Smith,pupil,5
kwame.o,Kwame Okafor,pupil,R
david.o,David Owen,staff,
helen.p,Helen Price,headteacher,
"""


def on_roster(app: App, folder: Path, text: str) -> None:
    """Import ``text`` as the whole school's roster."""
    csv = folder / "whole-school.csv"
    csv.write_text(text, encoding="utf-8")
    import_people(app.engine, csv, "office", app.clock.now())


def _active(app: App) -> dict[str, bool]:
    pt = table_of(PersonRow)
    with app.engine.connect() as conn:
        return {r.username: r.active for r in conn.execute(select(pt.c.username, pt.c.active))}


def test_pupils_and_staff_from_separate_exports(app: App, tmp_path: Path) -> None:
    """A pupils' export leaves the staff alone and the other way round; only someone of the
    file's scope who is missing from it has left."""
    now = app.clock.now()
    on_roster(app, tmp_path, WHOLE_SCHOOL)
    pupils = tmp_path / "pupils.csv"
    pupils.write_text(
        "username,display_name,role,year_group\namelia.s,Amelia Smith,pupil,6\n",
        encoding="utf-8",
    )
    r = import_people(app.engine, pupils, "office", now, scope="pupils")
    assert (r.added, r.updated, r.unchanged, r.retired) == (0, 1, 0, 1)
    assert _active(app) == {"amelia.s": True, "kwame.o": False, "david.o": True, "helen.p": True}

    staff = tmp_path / "staff.csv"
    staff.write_text(
        "username,display_name,role\nhelen.p,Helen Price,headteacher\nsam.t,Sam Tran,supply\n",
        encoding="utf-8",
    )
    r = import_people(app.engine, staff, "office", now, scope="staff")
    assert (r.added, r.updated, r.unchanged, r.retired) == (1, 0, 1, 1)
    assert _active(app) == {
        "amelia.s": True,
        "kwame.o": False,
        "david.o": False,
        "helen.p": True,
        "sam.t": True,
    }


def test_a_pupils_export_takes_its_role_from_the_config(app: App, tmp_path: Path) -> None:
    now = app.clock.now()
    on_roster(app, tmp_path, WHOLE_SCHOOL)
    pupils = tmp_path / "pupils.csv"
    pupils.write_text("username,display_name\nkwame.o,Kwame Okafor\n", encoding="utf-8")
    roster = Roster(default_role="pupil")
    r = import_people(app.engine, pupils, "office", now, roster, scope="pupils")
    assert r.retired == 1
    assert _active(app)["amelia.s"] is False
    assert _active(app)["david.o"] is True


def test_a_row_outside_the_scope_is_refused(app: App, tmp_path: Path) -> None:
    """The staff file imported as pupils names its lines and changes nothing."""
    csv = tmp_path / "staff.csv"
    csv.write_text(
        "username,display_name,role\ndavid.o,David Owen,staff\namelia.s,Amelia Smith,pupil\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportError_) as info:
        import_people(app.engine, csv, "office", app.clock.now(), scope="pupils")
    assert info.value.problems == [
        f"{csv}: line 2: role 'staff' is not in scope pupils (expected pupil; is this the "
        "right file?)"
    ]
    assert _active(app) == {}


def test_merge_marks_no_one_as_left(app: App, tmp_path: Path) -> None:
    now = app.clock.now()
    on_roster(app, tmp_path, WHOLE_SCHOOL)
    extra = tmp_path / "extra.csv"
    extra.write_text(
        "username,display_name,role\nvol.a,Ann Vale,volunteer\nkwame.o,Kwame Okafor,pupil\n",
        encoding="utf-8",
    )
    r = import_people(app.engine, extra, "office", now, merge=True)
    assert (r.added, r.updated, r.unchanged, r.retired) == (1, 1, 0, 0)  # kwame.o's year went
    assert all(_active(app).values())
    assert len(_active(app)) == 5


def test_missing_columns(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text("device_id,hostname\nX,x\n", encoding="utf-8")
    with pytest.raises(ImportError_, match="line 1: missing column"):
        import_devices(app.engine, csv, "office", app.clock.now())


def test_devices_import(app: App, tmp_path: Path) -> None:
    on_roster(app, tmp_path, "username,display_name,role\njayden.s,Jayden Smith,pupil\n")
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
    assert "line 2: mac 'zz:zz' is not a MAC address (expected e.g." in info.value.problems[0]
    assert "line 3: ownership 'stolen' is not one of" in info.value.problems[1]


@pytest.mark.parametrize(
    "text",
    [
        "AA:bb:CC:dd:EE:ff",
        "aa-bb-cc-dd-ee-ff",
        "aabb.ccdd.eeff",  # Cisco
        "AABB.CCDD.EEFF",
        "aabb-ccdd-eeff",
        "aabbcc-ddeeff",
        "aabbcc:ddeeff",
        "aabbccddeeff",
        " aabbccddeeff ",
    ],
)
def test_normalise_mac_spellings(text: str) -> None:
    assert normalise_mac(text) == "aa:bb:cc:dd:ee:ff"


def test_normalise_mac_pads_single_digits_and_refuses_the_rest() -> None:
    assert normalise_mac("a:b:c:d:e:f") == "0a:0b:0c:0d:0e:0f"  # as macOS prints it
    for bad in (
        "aa:bb-cc:dd:ee:ff",  # two separators
        "aabb.ccdd-eeff",
        "aa:bb:cc:dd:ee",
        "aa:bb:cc:dd:ee:ff:00:11",
        "aabbccddeef",
        "aabbccddeeffa",
        "1",
        "aabb.ccdd.eefg",
        "aa bb cc dd ee ff",
        "",
    ):
        assert normalise_mac(bad) is None, bad


def test_devices_import_stores_every_spelling_normalised(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "SW-01,0011.2233.4455,sw-01,school_shared,\n"
        "PC-01,AABBCCDDEE01,pc-01,school_shared,\n"
        "PC-02,aabbcc-ddee02,pc-02,school_shared,\n",
        encoding="utf-8",
    )
    import_devices(app.engine, csv, "office", app.clock.now())
    with app.engine.connect() as conn:
        macs = {r.device_id: r.mac for r in conn.execute(select(table_of(DeviceRow)))}
    assert macs == {
        "SW-01": "00:11:22:33:44:55",
        "PC-01": "aa:bb:cc:dd:ee:01",
        "PC-02": "aa:bb:cc:dd:ee:02",
    }


def test_one_mac_on_two_devices_and_unknown_owners_are_refused(app: App, tmp_path: Path) -> None:
    on_roster(app, tmp_path, "username,display_name,role\njayden.s,Jayden Smith,pupil\n")
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "Y6-LT-07,aa:bb:cc:00:11:22,y6-lt-07,school_single,Jayden.S\n"
        "Y6-LT-08,AABB.CC00.1122,y6-lt-08,school_single,\n"
        "Y6-LT-09,aa:bb:cc:00:11:23,y6-lt-09,school_single,jaden.s\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportError_) as info:
        import_devices(app.engine, csv, "office", app.clock.now())
    assert info.value.problems == [
        f"{csv}: line 3: mac aa:bb:cc:00:11:22 is already device 'Y6-LT-07''s (line 2); "
        "a MAC belongs to one device",
        f"{csv}: line 4: assigned_to 'jaden.s' is not on the roster (import the people first, "
        "or correct the user name)",
    ]
    with app.engine.connect() as conn:
        assert conn.execute(select(table_of(DeviceRow))).all() == []  # nothing half-imported


def test_sims_style_export_through_the_column_mapping(app: App, tmp_path: Path) -> None:
    """A SIMS-style export: its own header names, names as 'Surname, Forename', year groups
    as 'Year 6' and 'Reception', and no role column (every row a pupil)."""
    csv = tmp_path / "sims.csv"
    csv.write_text(
        "Adno,Login,Name,Year,Reg Group,Primary Email\n"
        '001234,jayden.s,"Smith, Jayden",Year 6,6B,jayden.s@school.example\n'
        '001235,kwame.o,"Okafor,  Kwame ",Reception,RB,\n'
        '001236,ana.lp,"López Pérez, Ana María",Y3,3A,\n',
        encoding="utf-8",
    )
    roster = Roster(
        columns=RosterColumns(
            username="Login",
            display_name="Name",
            year_group="YEAR",  # header names match in any case
            class_name="reg group",
            email="Primary Email",
        ),
        default_role="pupil",
    )
    r = import_people(app.engine, csv, "office", app.clock.now(), roster)
    assert r.added == 3
    with app.engine.connect() as conn:
        people = {p.username: p for p in conn.execute(select(table_of(PersonRow)))}
    j = people["jayden.s"]
    assert (j.display_name, j.role, j.year_group, j.class_name, j.email) == (
        "Jayden Smith",
        "pupil",
        "6",
        "6B",
        "jayden.s@school.example",
    )
    assert (people["kwame.o"].display_name, people["kwame.o"].year_group) == ("Kwame Okafor", "R")
    assert (people["ana.lp"].display_name, people["ana.lp"].year_group) == (
        "Ana María López Pérez",
        "3",
    )


def test_arbor_style_export_with_separate_name_columns(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "arbor.csv"
    csv.write_text(
        "Username,First Name,Last Name,Role,Year Group,Registration Form,Email Address\n"
        "helen.p,Helen,Price,Staff,,,helen.p@school.example\n"
        "amelia.k,Amelia,Khan,pupil,Year 5,5C,\n"
        "supply1,,,supply,,,\n",
        encoding="utf-8",
    )
    cols = RosterColumns.model_validate(
        {
            "username": "Username",
            "forename": "First Name",
            "surname": "Last Name",
            "year_group": "Year Group",
            "class": "Registration Form",
            "email": "Email Address",
        }
    )
    import_people(app.engine, csv, "office", app.clock.now(), Roster(columns=cols))
    with app.engine.connect() as conn:
        people = {p.username: p for p in conn.execute(select(table_of(PersonRow)))}
    assert (people["helen.p"].display_name, people["helen.p"].role) == ("Helen Price", "staff")
    assert (people["amelia.k"].year_group, people["amelia.k"].class_name) == ("5", "5C")
    assert people["supply1"].display_name == "supply1"  # no name: the login stands for it


def test_mapped_columns_missing_from_the_file_are_named(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "export.csv"
    csv.write_text("Login,Name\njayden.s,Jayden Smith\n", encoding="utf-8")
    roster = Roster(columns=RosterColumns(username="Login", display_name="Name", role="Type"))
    with pytest.raises(ImportError_) as info:
        import_people(app.engine, csv, "office", app.clock.now(), roster)
    assert info.value.problems == [
        f"{csv}: line 1: missing column(s) type (expected login,name,type)"
    ]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Smith, Jayden", "Jayden Smith"),
        ("  Smith ,  Jayden  Lee ", "Jayden Lee Smith"),
        ("Jayden Smith", "Jayden Smith"),
        ("Smith,", "Smith,"),  # not a surname and a forename: kept as written
        ("a, b, c", "a, b, c"),
    ],
)
def test_person_name(text: str, name: str) -> None:
    assert person_name(text) == name


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("6", "6"),
        ("Year 6", "6"),
        ("year  06", "6"),
        ("Y1", "1"),
        ("R", "R"),
        ("Reception", "R"),
        ("YR", "R"),
        ("Nursery", "N"),
        ("n", "N"),
        ("Year 7", None),
        ("13", None),
        ("Year", None),
    ],
)
def test_year_group(text: str, year: str | None) -> None:
    assert year_group(text) == year


def test_devices_with_reserved_address_and_location(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "device_id,mac,hostname,ownership,assigned_to,ip,location\n"
        "SUITE-PC-01,aa:00:00:00:01:01,suite-pc-01,school_shared,,10.20.7.40,ICT suite\n"
        "IPAD-01,,ipad-01,school_shared,,,Class 4B\n",
        encoding="utf-8",
    )
    t0 = app.clock.now()
    import_devices(app.engine, csv, "office", t0)
    dt, rt = table_of(DeviceRow), table_of(ReservationRow)
    with app.engine.connect() as conn:
        rows = {r.device_id: r for r in conn.execute(select(dt))}
        reservations = conn.execute(select(rt)).all()
    assert (rows["SUITE-PC-01"].ip, rows["SUITE-PC-01"].location) == ("10.20.7.40", "ICT suite")
    assert (rows["IPAD-01"].ip, rows["IPAD-01"].location) == (None, "Class 4B")
    # First known: the reservation is taken to have held all along.
    ((device, ip, starts, ends),) = [(r.device_id, r.ip, r.starts, r.ends) for r in reservations]
    assert (device, ip, starts.year, ends) == ("SUITE-PC-01", "10.20.7.40", 1970, None)

    # The suite PC's reservation moves; the iPad gets one; history is kept.
    csv.write_text(
        "device_id,mac,hostname,ownership,assigned_to,ip,location\n"
        "SUITE-PC-01,aa:00:00:00:01:01,suite-pc-01,school_shared,,10.20.7.41,ICT suite\n"
        "IPAD-01,,ipad-01,school_shared,,10.20.8.9,Class 4B\n",
        encoding="utf-8",
    )
    t1 = t0 + timedelta(days=1)
    r = import_devices(app.engine, csv, "office", t1)
    assert r.updated == 2
    with app.engine.connect() as conn:
        history = sorted(
            (r.device_id, r.ip, r.starts.year, r.ends is None)
            for r in conn.execute(select(rt).order_by(rt.c.id))
        )
    assert history == [
        ("IPAD-01", "10.20.8.9", 1970, True),
        ("SUITE-PC-01", "10.20.7.40", 1970, False),
        ("SUITE-PC-01", "10.20.7.41", t1.year, True),
    ]

    # The suite PC leaves the inventory: its reservation ends.
    csv.write_text(
        "device_id,mac,hostname,ownership,assigned_to\nIPAD-01,,ipad-01,school_shared,\n",
        encoding="utf-8",
    )
    import_devices(app.engine, csv, "office", t1 + timedelta(days=1))
    with app.engine.connect() as conn:
        still_open = [
            (r.device_id, r.ip) for r in conn.execute(select(rt).where(rt.c.ends.is_(None)))
        ]
    assert still_open == []  # IPAD-01's file lost its ip column: its reservation ended too


def test_bad_reserved_addresses(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "device_id,mac,hostname,ownership,assigned_to,ip\n"
        "A,,a,school_shared,,10.20.7.400\n"
        "B,,b,school_shared,,10.20.7.40\n"
        "C,,c,school_shared,,10.20.7.40\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportError_) as info:
        import_devices(app.engine, csv, "office", app.clock.now())
    assert info.value.problems == [
        f"{csv}: line 2: ip '10.20.7.400' is not an IP address",
        f"{csv}: line 4: ip 10.20.7.40 is already reserved for 'B'",
    ]
