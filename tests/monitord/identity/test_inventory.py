"""Listing the roster and the device inventory, with filters, one school's only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from monitord.identity.inventory import (
    DeviceFilter,
    PeopleFilter,
    display_names,
    last_leased,
    list_devices,
    list_people,
)
from monitord.identity.roster import import_devices, import_people
from monitord.store.database import for_site, table_of
from monitord.store.tables import LeaseRow

pytestmark = pytest.mark.stores
NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


@pytest.fixture
def school(store_url: str, tmp_path: Path) -> Engine:
    from monitord.store.database import open_store

    engine = open_store(store_url)
    people = tmp_path / "people.csv"
    people.write_text(
        "username,display_name,role,year_group,class,email\n"
        "jayden.s,Jayden Smith,pupil,6,6B,\nmia.k,Mia Khan,pupil,R,RA,\n"
        "helen.p,Helen Price,staff,,,\n",
        encoding="utf-8",
    )
    import_people(engine, people, "tech", NOW)
    devices = tmp_path / "devices.csv"
    devices.write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "Y6-LT-07,aa:00:00:00:00:07,y6-lt-07,school_single,jayden.s\n"
        "SUITE-PC-04,aa:00:00:00:00:44,suite-pc-04,school_shared,\n",
        encoding="utf-8",
    )
    import_devices(engine, devices, "tech", NOW)
    # Another school in the same store: never listed here.
    other = for_site(engine, "north")
    north = tmp_path / "north.csv"
    north.write_text("username,display_name,role\njayden.s,Jayden North,pupil\n")
    import_people(other, north, "tech", NOW)
    return engine


def test_people_by_role_year_class_and_text(school: Engine) -> None:
    names = lambda where: [p.entry.username for p in list_people(school, where)]  # noqa: E731
    assert names(PeopleFilter()) == ["helen.p", "jayden.s", "mia.k"]
    assert names(PeopleFilter(role="staff")) == ["helen.p"]
    assert names(PeopleFilter(year_group="r")) == ["mia.k"]
    assert names(PeopleFilter(class_name="6b")) == ["jayden.s"]
    assert names(PeopleFilter(text="KHAN")) == ["mia.k"]
    [jayden] = list_people(school, PeopleFilter(text="jayden"))
    assert jayden.entry.display_name == "Jayden Smith"  # this school's, not north's
    assert jayden.as_json()["updated_at"] == "2026-11-20T16:00:00Z"


def test_people_who_left_only_when_asked(school: Engine, tmp_path: Path) -> None:
    again = tmp_path / "again.csv"
    again.write_text("username,display_name,role\nhelen.p,Helen Price,staff\n")
    import_people(school, again, "tech", NOW)
    assert [p.entry.username for p in list_people(school)] == ["helen.p"]
    everyone = list_people(school, PeopleFilter(inactive=True))
    assert {p.entry.username: p.active for p in everyone} == {
        "helen.p": True,
        "jayden.s": False,
        "mia.k": False,
    }


def test_devices_by_ownership_owner_and_text(school: Engine) -> None:
    ids = lambda where: [d.entry.device_id for d in list_devices(school, where)]  # noqa: E731
    assert ids(DeviceFilter()) == ["SUITE-PC-04", "Y6-LT-07"]
    assert ids(DeviceFilter(ownership="school_shared")) == ["SUITE-PC-04"]
    assert ids(DeviceFilter(assigned_to="JAYDEN.S")) == ["Y6-LT-07"]
    assert ids(DeviceFilter(unassigned=True)) == ["SUITE-PC-04"]
    assert ids(DeviceFilter(text="00:44")) == ["SUITE-PC-04"]
    assert ids(DeviceFilter(text="nothing-like-it")) == []


def test_display_names_of_this_school(school: Engine) -> None:
    assert display_names(school, ["jayden.s", "nobody", ""]) == {"jayden.s": "Jayden Smith"}
    assert display_names(school, []) == {}


def test_when_each_device_last_leased_an_address(school: Engine) -> None:
    def lease(site: str, n: int, mac: str, hours: int) -> None:
        with school.begin() as conn:
            conn.execute(
                insert(table_of(LeaseRow)).values(
                    site_id=site,
                    id=f"lease-{n}",
                    ip=f"10.0.0.{n}",
                    mac=mac,
                    starts=NOW - timedelta(hours=hours),
                    source="dhcp",
                )
            )

    lease("default", 1, "aa:00:00:00:00:07", 5)
    lease("default", 2, "aa:00:00:00:00:07", 2)
    lease("north", 3, "aa:00:00:00:00:44", 1)  # another school's
    assert last_leased(school, ["AA:00:00:00:00:07", "aa:00:00:00:00:44", None]) == {
        "aa:00:00:00:00:07": NOW - timedelta(hours=2)
    }
    assert last_leased(school, []) == {}
