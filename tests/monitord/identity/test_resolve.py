from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitord.core.model import Attribution, Device, Event, EventKind, Person
from monitord.identity.intervals import Binding
from monitord.identity.resolve import Identity, vendor_of
from monitord.identity.roster import import_devices, import_people
from monitord.identity.supply import Visit, VisitBook
from monitord.service.app import App, ingest_files, open_app
from monitord.settings.config import Config
from tests.conftest import FIXTURES
from tests.stores import row, rows

pytestmark = pytest.mark.stores

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
PEOPLE = {
    "jayden.s": Person("jayden.s", "Jayden Smith", "pupil", "6", "6B"),
    "amelia.k": Person("amelia.k", "Amelia Khan", "pupil", "6", "6B"),
    "kwame.o": Person("kwame.o", "Kwame Okafor", "pupil", "5", "5C"),
    "david.o": Person("david.o", "David Owen", "staff"),
    "supply1": Person("supply1", "Supply 1", "supply"),
}
DEVICES = {
    "Y6-LT-07": Device("Y6-LT-07", "aa:00:00:00:00:07", "y6-lt-07", "school_single", "jayden.s"),
    "Y6-LT-08": Device("Y6-LT-08", "aa:00:00:00:00:08", "y6-lt-08", "school_single", "amelia.k"),
    "IPAD-01": Device(
        "IPAD-01", "aa:00:00:00:00:99", "ipad-01", "school_shared", location="Class 4B"
    ),
    "CART-03": Device("CART-03", "aa:00:00:00:00:33", "cart-03", "school_shared"),
    "SUITE-PC-01": Device(
        "SUITE-PC-01", None, "suite-pc-01", "school_shared", ip="10.0.7.40", location="ICT suite"
    ),
    "GUEST-1": Device("GUEST-1", "aa:00:00:00:00:66", "guest-1", "visitor_owned"),
    "PHONE-1": Device("PHONE-1", "aa:00:00:00:00:67", None, "pupil_owned", "jayden.s"),
    "STAFF-1": Device("STAFF-1", "aa:00:00:00:00:68", None, "staff_owned", "david.o"),
}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ident(visits: VisitBook | None = None) -> Identity:
    i = Identity(PEOPLE, DEVICES, timedelta(hours=1), tz=LONDON, visits=visits)
    # 10.0.0.5 is Y6-LT-07's until 10:30, then Y6-LT-08's.
    i.add_binding("10.0.0.5", Binding(T0, at(90), "aa:00:00:00:00:07", None, "a1" * 16))
    i.add_binding("10.0.0.5", Binding(at(90), at(180), "aa:00:00:00:00:08", None, "b2" * 16))
    i.add_binding("10.0.0.9", Binding(T0, None, "aa:00:00:00:00:99", None, "c3" * 16))
    i.add_binding("10.0.0.33", Binding(T0, at(600), "aa:00:00:00:00:33", None, "d4" * 16))
    i.add_reservation("10.0.7.40", "SUITE-PC-01", datetime(1970, 1, 1, tzinfo=UTC), None, "r1")
    return i


def dns(ip: str, when: datetime, user: str | None = None) -> Event:
    return Event(kind=EventKind.DNS, ts=when, client_ip=ip, domain="example.com", user=user)


def agent(kind: EventKind, when: datetime, user: str | None, **where: Any) -> Event:
    return Event(kind=kind, ts=when, user=user, **where)


# --- the rules, one by one -------------------------------------------------------------------


def test_ip_moving_between_devices_mid_morning() -> None:
    i = ident()
    before = i.resolve(dns("10.0.0.5", at(30)))
    after = i.resolve(dns("10.0.0.5", at(95)))
    assert before.person is not None
    assert before.person.username == "jayden.s"
    assert after.person is not None
    assert after.person.username == "amelia.k"
    assert "lease a1a1a1a1a1a1: 10.0.0.5 -> aa:00:00:00:00:07" in before.reason
    assert "Y6-LT-07 is assigned to jayden.s" in before.reason
    assert (before.how, after.device) == ("assigned_device", DEVICES["Y6-LT-08"])


def test_outside_every_lease_is_unattributed() -> None:
    a = ident().resolve(dns("10.0.0.5", T0 + timedelta(hours=5)))
    assert (a.person, a.device, a.reason, a.how) == (None, None, "unattributed", "unattributed")


def test_shared_device_gives_device_and_location_without_person() -> None:
    a = ident().resolve(dns("10.0.0.9", T0 + timedelta(days=3)))
    assert a.device == DEVICES["IPAD-01"]
    assert a.person is None
    assert a.how == "device_only"
    assert "IPAD-01 is a shared device in Class 4B: no logon names its user" in a.reason


def test_user_name_in_record_wins() -> None:
    a = ident().resolve(dns("10.0.0.5", at(30), user="david.o"))
    assert a.person == PEOPLE["david.o"]
    assert a.how == "user_in_record"
    assert a.reason.startswith("user name 'david.o' in the record")
    unknown = ident().resolve(dns("10.0.0.5", T0, user="visitor7"))
    assert unknown.person is None
    assert "not on the roster" in unknown.reason


def test_reserved_address_gives_its_device() -> None:
    a = ident().resolve(dns("10.0.7.40", at(10)))
    assert a.device == DEVICES["SUITE-PC-01"]
    assert "10.0.7.40 is reserved for device SUITE-PC-01 in the devices file" in a.reason
    assert "ICT suite" in a.reason


def test_a_lease_outranks_a_reservation() -> None:
    i = ident()
    i.add_binding("10.0.7.40", Binding(at(60), at(120), "aa:00:00:00:00:07", None, "e5" * 16))
    assert i.resolve(dns("10.0.7.40", at(90))).device == DEVICES["Y6-LT-07"]
    assert i.resolve(dns("10.0.7.40", at(130))).device == DEVICES["SUITE-PC-01"]


def test_laptop_handed_over_at_lunch_follows_the_logons() -> None:
    """CART-03 is a shared laptop: Kwame logs on at 09:00 and off at 12:00; Amelia logs on at
    13:00 and never logs off; the sessions, not the lease, say who."""
    i = ident()
    where = {"client_mac": "aa:00:00:00:00:33", "hostname": "CART-03"}
    i.add_session_event(agent(EventKind.LOGON, at(0), "kwame.o", **where), "f6" * 16)
    i.add_session_event(agent(EventKind.LOGOFF, at(180), "kwame.o", **where), "f7" * 16)
    i.add_session_event(agent(EventKind.LOGON, at(240), "amelia.k", **where), "f8" * 16)
    morning = i.resolve(dns("10.0.0.33", at(60)))
    lunch = i.resolve(dns("10.0.0.33", at(200)))
    afternoon = i.resolve(dns("10.0.0.33", at(300)))
    assert morning.person == PEOPLE["kwame.o"]
    assert morning.how == "logon_session"
    assert "kwame.o logged on to CART-03 at 2026-11-19T09:00:00Z" in morning.reason
    assert (lunch.person, lunch.how) == (None, "device_only")
    assert afternoon.person == PEOPLE["amelia.k"]
    # The next morning the session is over: the day ended.
    assert i.resolve(dns("10.0.0.33", T0 + timedelta(hours=23))).person is None


def test_a_logon_outranks_the_assignment_and_the_next_logon_ends_it() -> None:
    i = ident()
    host = {"hostname": "Y6-LT-07.school.local"}  # an agent without a MAC: by host name
    i.add_session_event(agent(EventKind.LOGON, at(10), "amelia.k", **host), "g1" * 16)
    i.add_session_event(agent(EventKind.LOGON, at(40), "kwame.o", **host), "g2" * 16)
    # A logoff naming someone else (a stale report) does not end Kwame's session.
    i.add_session_event(agent(EventKind.LOGOFF, at(50), "amelia.k", **host), "g3" * 16)
    assert i.resolve(dns("10.0.0.5", at(5))).person == PEOPLE["jayden.s"]  # assigned
    assert i.resolve(dns("10.0.0.5", at(20))).person == PEOPLE["amelia.k"]
    assert i.resolve(dns("10.0.0.5", at(60))).person == PEOPLE["kwame.o"]
    i.add_session_event(agent(EventKind.LOGOFF, at(70), None, **host), "g4" * 16)
    assert i.resolve(dns("10.0.0.5", at(75))).person == PEOPLE["jayden.s"]


def test_an_agents_own_report_names_its_user_and_device() -> None:
    ev = Event(
        kind=EventKind.SEARCH,
        ts=at(5),
        user="amelia.k",
        hostname="Y6-LT-08",
        client_ip="10.0.0.77",
        text="x",
    )
    a = ident().resolve(ev)
    assert (a.person, a.device, a.how) == (
        PEOPLE["amelia.k"],
        DEVICES["Y6-LT-08"],
        "user_in_record",
    )


def test_an_agent_address_binds_when_no_lease_does() -> None:
    i = ident()
    logon = agent(
        EventKind.LOGON,
        at(0),
        "kwame.o",
        client_ip="10.0.9.9",
        client_mac="aa:00:00:00:00:33",
        hostname="cart-03",
    )
    i.add_session_event(logon, "h1" * 16)
    a = i.resolve(dns("10.0.9.9", at(30)))
    assert (a.person, a.device) == (PEOPLE["kwame.o"], DEVICES["CART-03"])
    assert "the agent on CART-03 reported 10.0.9.9 at its logon" in a.reason
    # osquery's logged_in_users gives the remote address, with no MAC: no binding.
    remote = agent(EventKind.LOGON, at(0), "david.o", client_ip="10.0.9.10", hostname="srv")
    i.add_session_event(remote, "h2" * 16)
    assert i.resolve(dns("10.0.9.10", at(30))).person is None


def test_a_proxy_user_speaks_for_its_address_for_a_while() -> None:
    i = ident()
    for minute in (60, 62, 65):
        i.add_sighting(dns("10.0.0.5", at(minute), user="david.o"))
    a = i.resolve(dns("10.0.0.5", at(70)))
    assert (a.person, a.how) == (PEOPLE["david.o"], "proxy_user")
    assert "the proxy authenticated david.o from 10.0.0.5 between" in a.reason
    # Ten minutes after the last sighting, back to the assignment.
    assert i.resolve(dns("10.0.0.5", at(76))).person == PEOPLE["jayden.s"]
    # A sighting from before the address moved to another device does not follow it.
    i.add_sighting(dns("10.0.0.5", at(88), user="david.o"))
    assert i.resolve(dns("10.0.0.5", at(91))).person == PEOPLE["amelia.k"]


def test_supply_login_names_the_checked_in_person() -> None:
    book = VisitBook()
    book.add(Visit("supply1", date(2026, 11, 19), "Jane Doe", "4B", T0, "office", "checkin"))
    i = ident(book)
    host = {"hostname": "suite-pc-01"}
    i.add_session_event(agent(EventKind.LOGON, at(5), "supply1", **host), "j1" * 16)
    a = i.resolve(dns("10.0.7.40", at(30)))
    assert a.person is not None
    assert (a.person.username, a.person.display_name, a.person.role) == (
        "supply1",
        "Jane Doe",
        "supply",
    )
    assert a.person.class_name == "4B"
    assert a.how == "supply_checkin"
    assert "supply1 is a shared supply login: Jane Doe was checked in on it for 2026-11-19" in (
        a.reason
    )
    # Another day, no check-in: the shared login is all that is known.
    i.add_session_event(agent(EventKind.LOGON, at(24 * 60 + 5), "supply1", **host), "j2" * 16)
    other = i.resolve(dns("10.0.7.40", at(24 * 60 + 30)))
    assert (other.person, other.how) == (PEOPLE["supply1"], "logon_session")


# --- device policy ---------------------------------------------------------------------------


def lease(mac: str, when: datetime, host: str | None = None) -> Event:
    return Event(
        kind=EventKind.LEASE,
        ts=when,
        client_ip="10.0.0.200",
        client_mac=mac,
        hostname=host,
        lease_end=when + timedelta(hours=1),
    )


def test_unknown_and_visitor_devices_are_unauthorised_once_a_day() -> None:
    i = ident()
    flagged = i.unauthorised(lease("f0:18:98:12:34:56", at(0), "Jaydens-iPhone"), at(0))
    assert flagged is not None
    eid, ev, attribution = flagged
    assert (ev.kind, ev.category, ev.client_mac) == (
        EventKind.DEVICE,
        "unauthorised_device",
        "f0:18:98:12:34:56",
    )
    assert ev.text == (
        "f0:18:98:12:34:56 (Apple, Inc.), host name 'Jaydens-iPhone', leased 10.0.0.200: "
        "not in the device inventory"
    )
    assert (attribution.person, attribution.device) == (None, None)
    later = i.unauthorised(lease("f0:18:98:12:34:56", at(300)), at(300))
    tomorrow = i.unauthorised(lease("f0:18:98:12:34:56", at(24 * 60)), at(24 * 60))
    assert later is not None
    assert tomorrow is not None
    assert later[0] == eid  # one event per device per day
    assert tomorrow[0] != eid

    guest = i.unauthorised(lease("aa:00:00:00:00:66", at(0)), at(0))
    assert guest is not None
    assert guest[2].device == DEVICES["GUEST-1"]
    assert guest[2].person is None
    assert "device GUEST-1 is visitor_owned: not allowed on this network" in str(guest[1].text)
    phone = i.unauthorised(lease("aa:00:00:00:00:67", at(0)), at(0))
    assert phone is not None
    assert "registered to jayden.s" in str(phone[1].text)
    assert phone[2].person is None
    for allowed in ("aa:00:00:00:00:68", "aa:00:00:00:00:07"):  # staff-owned, school
        assert i.unauthorised(lease(allowed, at(0)), at(0)) is None
    # A DHCPv6 client id is not a MAC: nothing to say about it.
    assert i.unauthorised(lease("00:01:00:01:2c:ab:cd:ef:aa:00:00:00:00:07", at(0)), at(0)) is None


def test_nothing_on_a_guest_network_is_unauthorised() -> None:
    i = Identity(PEOPLE, DEVICES, timedelta(hours=1), tz=LONDON, guest_networks=["10.0.0.0/24"])
    for mac in ("f0:18:98:12:34:56", "aa:00:00:00:00:66"):  # unknown, visitor-owned
        assert i.unauthorised(lease(mac, at(0)), at(0)) is None
    elsewhere = Event(
        kind=EventKind.LEASE, ts=at(0), client_ip="10.0.1.200", client_mac="f0:18:98:12:34:56"
    )
    assert i.unauthorised(elsewhere, at(0)) is not None


def test_vendor_from_the_offline_oui_registry() -> None:
    assert vendor_of("b8:27:eb:00:00:01") == "Raspberry Pi Foundation"
    assert vendor_of("3c:22:fb:11:22:33") == "Apple, Inc."
    assert vendor_of("da:a1:19:00:00:01").startswith("randomised address")
    assert vendor_of("fc:ff:ff:00:00:00") == "maker not registered"


# --- the interval structure ------------------------------------------------------------------


def test_renewals_merge_into_one_binding() -> None:
    i = Identity(PEOPLE, DEVICES, timedelta(hours=1))
    for k in range(20):  # a renewal every half hour
        start = at(30 * k)
        i.add_binding(
            "10.0.0.5",
            Binding(start, start + timedelta(hours=1), "aa:00:00:00:00:07", None, f"{k:032x}"),
        )
    entry = i._leases["10.0.0.5"]
    assert len(entry) == 1
    b = i.binding_at("10.0.0.5", at(600))
    assert b is not None
    assert (b.starts, b.ends, b.mac, b.lease_id) == (
        T0,
        at(30 * 19 + 60),
        "aa:00:00:00:00:07",
        "000000000000",  # the first 12 hex digits, as reasons give it
    )


def test_history_is_bounded() -> None:
    """Sixty days of daily leases for one address keep only the configured history."""
    i = Identity(PEOPLE, DEVICES, timedelta(hours=1), history=timedelta(days=35))
    for day in range(60):
        start = T0 - timedelta(days=60 - day)
        mac = "aa:00:00:00:00:07" if day % 2 else "aa:00:00:00:00:08"
        i.add_binding(
            "10.0.0.5", Binding(start, start + timedelta(hours=8), mac, None, f"{day:032x}")
        )
    assert 35 <= len(i._leases["10.0.0.5"]) <= 37
    assert i.binding_at("10.0.0.5", T0 - timedelta(days=59, hours=-1)) is None
    assert i.binding_at("10.0.0.5", T0 - timedelta(days=1, hours=-1)) is not None


def test_unknown_devices_slots_are_let_go_with_their_history() -> None:
    """Phones with randomised MACs come and go: what is kept of them stays bounded too, and
    what remains still resolves after the slots are renumbered."""
    i = Identity(PEOPLE, DEVICES, timedelta(hours=1), history=timedelta(days=10))
    for day in range(40):
        start = T0 - timedelta(days=40 - day)
        for phone in range(20):
            mac = f"da:00:00:00:{day:02x}:{phone:02x}"
            i.add_binding(
                f"10.9.0.{phone}",
                Binding(start, start + timedelta(hours=8), mac, None, f"{day:032x}"),
            )
        where = {"client_mac": "aa:00:00:00:00:33", "hostname": "cart-03"}
        i.add_session_event(agent(EventKind.LOGON, start, "kwame.o", **where), f"{day:032x}")
    assert len(i._slot_key) <= len(DEVICES) + 20 * 12  # about 11 days of 40 kept
    last = T0 - timedelta(days=1) + timedelta(hours=1)
    b = i.binding_at("10.9.0.3", last)
    assert b is not None
    assert b.mac == "da:00:00:00:27:03"
    lease = Binding(last, last + timedelta(hours=1), "aa:00:00:00:00:33", None, "f" * 32)
    i.add_binding("10.0.0.33", lease)
    assert i.lookup("10.0.0.33", last + timedelta(minutes=1))[1] == PEOPLE["kwame.o"]


@st.composite
def histories(draw: st.DrawFn) -> tuple[Identity, list[Event]]:
    book = VisitBook()
    if draw(st.booleans()):
        book.add(Visit("supply1", date(2026, 11, 19), "Jane Doe", "4B", T0, "office", "x"))
    i = ident(book)
    macs = [d.mac for d in DEVICES.values() if d.mac] + ["f0:18:98:00:00:01"]
    ips = ["10.0.0.5", "10.0.0.9", "10.0.0.33", "10.0.7.40", "10.0.0.77"]
    users = [*PEOPLE, "stranger"]
    minute = st.integers(0, 600)
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["lease", "logon", "logoff", "proxy"]))
        t = at(draw(minute))
        if kind == "lease":
            end = t + timedelta(minutes=draw(st.integers(1, 300)))
            i.add_binding(
                draw(st.sampled_from(ips)),
                Binding(t, end, draw(st.sampled_from(macs)), None, "ab" * 16),
            )
        elif kind == "proxy":
            i.add_sighting(dns(draw(st.sampled_from(ips)), t, user=draw(st.sampled_from(users))))
        else:
            ev = agent(
                EventKind.LOGON if kind == "logon" else EventKind.LOGOFF,
                t,
                draw(st.sampled_from(users)) if kind == "logon" or draw(st.booleans()) else None,
                client_mac=draw(st.sampled_from(macs)),
            )
            i.add_session_event(ev, "cd" * 16)
    probes = [dns(draw(st.sampled_from(ips)), at(draw(minute))) for _ in range(10)]
    return i, probes


@given(histories())
def test_the_fast_lookup_answers_as_resolve_does(case: tuple[Identity, list[Event]]) -> None:
    i, probes = case
    for ev in probes:
        full = i.resolve(ev)
        assert i.lookup(ev.client_ip or "", ev.ts) == (full.device, full.person, full.how)


def _full_path(i: Identity, ev: Event) -> Attribution:
    """What resolve says of a lookup (with the user and host names it may carry) without
    the attributions made once a lease."""
    device, person, how, reasons = i._resolve(
        ev.ts.timestamp(), ev.client_ip, None, ev.hostname, ev.user, ev.ts, []
    )
    return Attribution(person, device, "; ".join(reasons or ()) or "unattributed", how)


@given(histories(), st.data())
def test_an_attribution_made_once_a_lease_is_the_full_paths(
    case: tuple[Identity, list[Event]], data: st.DataObject
) -> None:
    # Whatever comes between two lookups (a logon on a device, a proxy user, a renewal, a
    # new lease, history pruned), each is attributed as the full path would.
    i, probes = case
    macs = [d.mac for d in DEVICES.values() if d.mac] + ["f0:18:98:00:00:01"]
    users = [None, "", *PEOPLE, "stranger"]
    hosts = [None, "", "Y6-LT-07", "ipad-01.school.local", "pc105"]
    for probe in probes:
        # A proxy's record carries a user name, an agent's report a host name too: each
        # attributed once a lease, user and host name (or host and user name alone).
        user, host = data.draw(st.sampled_from(users)), data.draw(st.sampled_from(hosts))
        ev = replace(probe, user=user, hostname=host)
        assert i.resolve(ev) == _full_path(i, ev)
        assert i.resolve(ev) == _full_path(i, ev)
        change = data.draw(st.sampled_from(["logon", "proxy", "lease", "prune", "none"]))
        mac = data.draw(st.sampled_from(macs))
        if change == "logon":
            where = {"client_mac": mac}
            i.add_session_event(agent(EventKind.LOGON, ev.ts, "amelia.k", **where), "ef" * 16)
        elif change == "proxy":
            i.add_sighting(dns(ev.client_ip or "", ev.ts, user="kwame.o"))
        elif change == "lease":
            end = ev.ts + timedelta(minutes=data.draw(st.integers(1, 300)))
            i.add_binding(ev.client_ip or "", Binding(T0, end, mac, None, "12" * 16))
        elif change == "prune":
            i.prune(ev.ts.timestamp())
        assert i.resolve(ev) == _full_path(i, ev)


def test_a_leased_address_is_attributed_once_a_lease() -> None:
    i = ident()
    first, later = i.resolve(dns("10.0.0.5", at(5))), i.resolve(dns("10.0.0.5", at(50)))
    assert later is first  # one attribution, shared
    named = i.resolve(dns("10.0.0.5", at(6), user="kwame.o"))
    assert i.resolve(dns("10.0.0.5", at(51), user="kwame.o")) is named  # and a user name
    assert (named.person, named.how) == (PEOPLE["kwame.o"], "user_in_record")
    assert first.person == PEOPLE["jayden.s"]
    assert i.resolve(dns("10.0.0.5", at(95))).person == PEOPLE["amelia.k"]  # the next lease


# --- with real files, through the whole pipeline ---------------------------------------------

DAY = datetime(2026, 11, 19, tzinfo=UTC)  # a Thursday; London is on UTC in November


def stamp(path: Path) -> Path:
    os.utime(path, (DAY.timestamp() + 18 * 3600, DAY.timestamp() + 18 * 3600))
    return path


def school(app: App, tmp_path: Path) -> App:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,display_name,role,year_group,class,email\n"
        "jayden.s,Jayden Smith,pupil,6,6B,\n"
        "amelia.k,Amelia Khan,pupil,6,6B,\n"
        "kwame.o,Kwame Okafor,pupil,5,5C,\n"
        "helen.p,Helen Price,staff,,,\n"
        "supply1,Supply 1,supply,,,\n",
        encoding="utf-8",
    )
    devices = tmp_path / "devices.csv"
    devices.write_text(
        "device_id,mac,hostname,ownership,assigned_to,ip,location\n"
        "Y6-LT-07,aa:00:00:00:00:07,y6-lt-07,school_single,jayden.s,,\n"
        "Y6-LT-08,aa:00:00:00:00:08,y6-lt-08,school_single,amelia.k,,\n"
        "CART-03,aa:00:00:00:00:33,cart-03,school_shared,,,Year 5 laptop trolley\n"
        "SUITE-PC-01,aa:00:00:00:01:01,suite-pc-01,school_shared,,10.20.7.40,ICT suite\n"
        "GUEST-1,aa:00:00:00:00:66,guest-1,visitor_owned,,,\n",
        encoding="utf-8",
    )
    import_people(app.engine, roster, "office", app.clock.now())
    import_devices(app.engine, devices, "office", app.clock.now())
    return open_app(app.cfg, app.clock)


def resolver_log(tmp_path: Path, lines: list[tuple[str, str, str]]) -> Path:
    """dnsmasq log-queries lines: (HH:MM:SS, domain, client)."""
    path = tmp_path / "pihole.log"
    path.write_text(
        "".join(
            f"Nov 19 {t} dnsmasq[811]: query[A] {domain} from {ip}\n" for t, domain, ip in lines
        ),
        encoding="utf-8",
    )
    return stamp(path)


def agent_reports(tmp_path: Path, reports: list[dict[str, Any]]) -> Path:
    path = tmp_path / "agent.jsonl"
    lines = []
    for r in reports:
        lines.append(
            json.dumps(
                {
                    "schema": "monitord.agent/1",
                    "agent_id": r["hostname"].lower(),
                    "hostname": r["hostname"],
                    "ts": f"2026-11-19T{r['at']}Z",
                    "user": r.get("user"),
                    "ip": r.get("ip"),
                    "mac": r.get("mac"),
                    "kind": r["kind"],
                    "data": r.get("data", {}),
                }
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stored(app: App) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(time, domain) -> (username, role, year_group, device, attributed_by, attribution)."""
    found = rows(
        app.engine,
        "SELECT ts, domain, username, role, year_group, device_id, attributed_by, attribution "
        "FROM all_events WHERE kind = 'dns'",
    )
    return {(ts[11:16], domain): tuple(rest) for ts, domain, *rest in found}


def cli(app: App, *args: str) -> subprocess.CompletedProcess[str]:
    assert app.cfg.path is not None
    return subprocess.run(
        [sys.executable, "-m", "monitord", "--config", str(app.cfg.path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_real_dhcpd_leases_ip_moves_mid_morning(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)
    leases = tmp_path / "dhcpd.leases"
    leases.write_text(
        "# The format of this file is documented in the dhcpd.leases(5) manual page.\n"
        "# This lease file was written by isc-dhcp-4.4.3\n"
        "lease 10.20.6.50 {\n"
        "  starts 4 2026/11/19 08:30:00;\n"
        "  ends 4 2026/11/19 10:15:00;\n"
        "  cltt 4 2026/11/19 08:30:00;\n"
        "  binding state active;\n"
        "  hardware ethernet aa:00:00:00:00:07;\n"
        '  client-hostname "y6-lt-07";\n'
        "}\n"
        "lease 10.20.6.50 {\n"
        "  starts 4 2026/11/19 10:20:00;\n"
        "  ends 4 2026/11/19 15:30:00;\n"
        "  cltt 4 2026/11/19 10:20:00;\n"
        "  binding state active;\n"
        "  hardware ethernet aa:00:00:00:00:08;\n"
        '  client-hostname "y6-lt-08";\n'
        "}\n",
        encoding="utf-8",
    )
    assert ingest_files(app, [leases], "dhcpd-leases", "dhcp").rejected == 0
    log = resolver_log(
        tmp_path,
        [
            ("09:30:00", "www.bet365.com", "10.20.6.50"),
            ("10:17:00", "www.bbc.co.uk", "10.20.6.50"),
            ("10:45:00", "www.pornhub.com", "10.20.6.50"),
        ],
    )
    ingest_files(app, [log], "dnsmasq", "pihole")
    events = stored(app)
    assert events[("09:30", "www.bet365.com")][:6] == (
        "jayden.s",
        "pupil",
        "6",
        "Y6-LT-07",
        "assigned_device",
        events[("09:30", "www.bet365.com")][5],
    )
    assert "10.20.6.50 -> aa:00:00:00:00:07" in events[("09:30", "www.bet365.com")][5]
    assert events[("10:17", "www.bbc.co.uk")][:5] == (None, None, None, None, "unattributed")
    assert events[("10:45", "www.pornhub.com")][:5] == (
        "amelia.k",
        "pupil",
        "6",
        "Y6-LT-08",
        "assigned_device",
    )
    alerts = {a["category"]: a for a in json.loads(cli(app, "alerts", "list", "--json").stdout)}
    assert {k: alerts["gambling"][k] for k in ("person", "role", "year_group", "device")} == {
        "person": "jayden.s",
        "role": "pupil",
        "year_group": "6",
        "device": "Y6-LT-07",
    }
    assert alerts["pornography"]["person"] == "amelia.k"
    assert "Y6-LT-08 is assigned to amelia.k" in alerts["pornography"]["attribution"]


def test_laptop_handed_over_at_lunch_with_real_agent_reports(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)
    leases = tmp_path / "dnsmasq.leases"
    end = int((DAY + timedelta(hours=17)).timestamp())
    leases.write_text(f"{end} aa:00:00:00:00:33 10.20.5.33 cart-03 *\n", encoding="utf-8")
    # dnsmasq's lease time here is 10 h: the lease began at 07:00.
    ingest_files(app, [leases], "dnsmasq-leases", "leases")
    cart = {"hostname": "CART-03", "ip": "10.20.5.33", "mac": "aa:00:00:00:00:33"}
    reports = agent_reports(
        tmp_path,
        [
            {**cart, "at": "09:00:00", "kind": "logon", "user": "SCHOOL\\kwame.o"},
            {**cart, "at": "12:00:00", "kind": "logoff", "user": "SCHOOL\\kwame.o"},
            {**cart, "at": "12:40:00", "kind": "logon", "user": "amelia.k@school.example"},
            {
                **cart,
                "at": "12:41:00",
                "kind": "search",
                "user": "amelia.k@school.example",
                "data": {"engine": "google", "query": "roblox free robux"},
            },
        ],
    )
    assert ingest_files(app, [reports], "agent", "agents").rejected == 0
    log = resolver_log(
        tmp_path,
        [
            ("10:00:00", "www.bet365.com", "10.20.5.33"),
            ("12:20:00", "www.bbc.co.uk", "10.20.5.33"),
            ("13:30:00", "www.pornhub.com", "10.20.5.33"),
        ],
    )
    # The daemon would have the sessions in memory; a fresh process loads them from the store.
    fresh = open_app(app.cfg, app.clock)
    ingest_files(fresh, [log], "dnsmasq", "pihole")
    events = stored(app)
    morning = events[("10:00", "www.bet365.com")]
    assert morning[:5] == ("kwame.o", "pupil", "5", "CART-03", "logon_session")
    assert "kwame.o logged on to CART-03 at 2026-11-19T09:00:00Z" in morning[5]
    lunch = events[("12:20", "www.bbc.co.uk")]
    assert lunch[:5] == (None, None, None, "CART-03", "device_only")
    assert "CART-03 is a shared device in Year 5 laptop trolley" in lunch[5]
    assert events[("13:30", "www.pornhub.com")][:5] == (
        "amelia.k",
        "pupil",
        "6",
        "CART-03",
        "logon_session",
    )
    search = row(
        app.engine,
        "SELECT username, device_id, attributed_by FROM all_events WHERE kind = 'search'",
    )
    assert search == ("amelia.k", "CART-03", "user_in_record")


def test_supply_login_after_checkin_names_the_real_person(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)
    pc = {"hostname": "SUITE-PC-01", "ip": "10.20.7.40", "mac": "aa:00:00:00:01:01"}
    reports = agent_reports(
        tmp_path, [{**pc, "at": "09:05:00", "kind": "logon", "user": "SCHOOL\\Supply1"}]
    )
    ingest_files(app, [reports], "agent", "agents")
    # The running pipeline asked about supply1 at the logon, before the check-in; it reads
    # the check-ins again every 30 s, which this test does not wait for.
    app.processor.identity.visits.refresh = 0.0
    cli(app, "supply", "checkin", "Supply1", "--name", "Jane Doe", "--class", "4B", "--date",
        "2026-11-19")  # fmt: skip
    log = resolver_log(tmp_path, [("09:30:00", "www.bet365.com", "10.20.7.40")])
    ingest_files(app, [log], "dnsmasq", "pihole")  # the check-in is seen without a restart
    (username, role, year, device, how, why) = stored(app)[("09:30", "www.bet365.com")]
    assert (username, role, year, device, how) == (
        "supply1",
        "supply",
        None,
        "SUITE-PC-01",
        "supply_checkin",
    )
    assert "10.20.7.40 is reserved for device SUITE-PC-01" in why
    assert "Jane Doe was checked in on it for 2026-11-19, covering 4B" in why
    (alert,) = json.loads(cli(app, "alerts", "list", "--json").stdout)
    assert (alert["person"], alert["role"], alert["device"], alert["category"]) == (
        "supply1",
        "supply",
        "SUITE-PC-01",
        "gambling",
    )
    assert "Jane Doe was checked in" in alert["attribution"]
    assert alert["recipients"] == ["head@school.example"]  # a supply teacher: the head hears
    (message,) = row(app.engine, "SELECT message FROM outbox")
    body = message.decode("utf-8", "replace")
    assert "Jane Doe (supply1), supply" in body
    assert "checked in" in body


def test_unknown_and_visitor_devices_raise_unauthorised_device(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)
    leases = tmp_path / "dnsmasq.leases"
    end = int((DAY + timedelta(hours=17)).timestamp())
    leases.write_text(
        f"{end} f0:18:98:12:34:56 10.20.9.10 Jaydens-iPhone 01:f0:18:98:12:34:56\n"
        f"{end} aa:00:00:00:00:66 10.20.9.11 guest-1 *\n"
        f"{end} aa:00:00:00:00:07 10.20.6.7 y6-lt-07 *\n",
        encoding="utf-8",
    )
    first = ingest_files(app, [leases], "dnsmasq-leases", "leases")
    assert (first.events, first.stored, first.alerts_opened) == (5, 5, 2)
    # dnsmasq rewrites the file as the phone renews: a new lease, no second device event.
    leases.write_text(
        f"{end + 1800} f0:18:98:12:34:56 10.20.9.10 Jaydens-iPhone 01:f0:18:98:12:34:56\n",
        encoding="utf-8",
    )
    again = ingest_files(app, [leases], "dnsmasq-leases", "leases")
    assert (again.stored, again.alerts_opened) == (1, 0)
    alerts = json.loads(cli(app, "alerts", "list", "--json").stdout)
    assert [(a["category"], a["person"], a["device"], a["severity"]) for a in alerts] == [
        ("unauthorised_device", None, None, "medium"),
        ("unauthorised_device", None, "GUEST-1", "medium"),
    ]
    assert alerts[0]["indicator"] == (
        "f0:18:98:12:34:56 (Apple, Inc.), host name 'Jaydens-iPhone', leased 10.20.9.10: "
        "not in the device inventory"
    )
    assert "an unauthorised device names no person" in alerts[1]["attribution"]


def test_device_alerts_by_config_and_the_guest_network_left_alone(app: App, tmp_path: Path) -> None:
    """[identity] guest_networks and [alerts] unauthorised_devices_to, through the pipeline:
    the phone on the guest Wi-Fi raises nothing, the unknown laptop on the school network
    is the technician's alone."""
    settings = app.cfg.settings
    changed = settings.model_copy(
        update={
            "identity": settings.identity.model_copy(update={"guest_networks": ["10.20.9.0/24"]}),
            "alerts": settings.alerts.model_copy(update={"unauthorised_devices_to": "technician"}),
        }
    )
    app = school(open_app(Config(changed, app.cfg.base_dir, app.cfg.path), app.clock), tmp_path)
    leases = tmp_path / "dnsmasq.leases"
    end = int((DAY + timedelta(hours=17)).timestamp())
    leases.write_text(
        f"{end} f0:18:98:12:34:56 10.20.9.10 Jaydens-iPhone 01:f0:18:98:12:34:56\n"
        f"{end} aa:00:00:00:00:66 10.20.9.11 guest-1 *\n"
        f"{end} f0:18:98:ab:cd:ef 10.20.6.50 unknown-laptop *\n",
        encoding="utf-8",
    )
    ingest_files(app, [leases], "dnsmasq-leases", "leases")
    alerts = rows(app.engine, "SELECT category, ip, recipients FROM alerts")
    assert alerts == [("unauthorised_device", "10.20.6.50", '["it@school.example"]')]
    (mailed,) = row(app.engine, "SELECT recipients FROM outbox")
    assert json.loads(mailed) == ["it@school.example"]


def test_real_lease_fixtures_bind_and_flag_their_unknown_devices(app: App) -> None:
    """The shared sample leases files: every lease is a binding, and every device in them is
    unknown to this school, so each raises unauthorised_device once for its day."""
    path = FIXTURES / "dnsmasq-leases" / "dhcpmon-dnsmasq-lines1-29.leases"
    result = ingest_files(app, [path], "dnsmasq-leases", "leases")
    assert result.rejected == 0
    (leases,) = row(app.engine, "SELECT count(*) FROM leases")
    flagged = rows(
        app.engine,
        "SELECT client_mac, text, username FROM all_events WHERE category = 'unauthorised_device'",
    )
    macs = {line.split()[1] for line in path.read_text().splitlines() if line.strip()}
    assert leases == 29
    assert {mac for mac, _, _ in flagged} == macs  # each once: its leases share a day
    assert len(flagged) == len(macs)
    assert all(username is None for _, _, username in flagged)
    texts = {mac: text for mac, text, _ in flagged}
    assert texts["84:f3:eb:d5:10:16"] == (
        "84:f3:eb:d5:10:16 (Espressif Inc.), host name 'ESP_D51016', leased 192.168.0.244: "
        "not in the device inventory"
    )
    assert "randomised address" in texts["0a:5e:89:cf:5a:bd"]
