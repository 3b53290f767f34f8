from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitord.identity import Binding, Identity, lease_interval
from monitord.model import Device, Event, EventKind, Person

T0 = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
PEOPLE = {
    "jayden.s": Person("jayden.s", "Jayden Smith", "pupil", "6", "6B"),
    "amelia.k": Person("amelia.k", "Amelia Khan", "pupil", "6", "6B"),
    "david.o": Person("david.o", "David Owen", "staff"),
}
DEVICES = {
    "Y6-LT-07": Device("Y6-LT-07", "aa:00:00:00:00:07", "y6-lt-07", "school_single", "jayden.s"),
    "Y6-LT-08": Device("Y6-LT-08", "aa:00:00:00:00:08", "y6-lt-08", "school_single", "amelia.k"),
    "IPAD-01": Device("IPAD-01", "aa:00:00:00:00:99", "ipad-01", "school_shared"),
}


def ident() -> Identity:
    i = Identity(PEOPLE, DEVICES, timedelta(hours=1))
    # 10.0.0.5 is Y6-LT-07's until 10:30, then Y6-LT-08's.
    i.add_binding(
        "10.0.0.5", Binding(T0, T0 + timedelta(minutes=90), "aa:00:00:00:00:07", None, "l1")
    )
    i.add_binding(
        "10.0.0.5",
        Binding(
            T0 + timedelta(minutes=90), T0 + timedelta(hours=3), "aa:00:00:00:00:08", None, "l2"
        ),
    )
    i.add_binding("10.0.0.9", Binding(T0, None, "aa:00:00:00:00:99", None, "l3"))
    return i


def dns(ip: str, at: datetime, user: str | None = None) -> Event:
    return Event(kind=EventKind.DNS, ts=at, client_ip=ip, domain="example.com", user=user)


def test_ip_moving_between_devices_mid_morning() -> None:
    i = ident()
    before = i.resolve(dns("10.0.0.5", T0 + timedelta(minutes=30)))
    after = i.resolve(dns("10.0.0.5", T0 + timedelta(minutes=95)))
    assert before.person is not None
    assert before.person.username == "jayden.s"
    assert after.person is not None
    assert after.person.username == "amelia.k"
    assert "lease l1" in before.reason
    assert "Y6-LT-07 is assigned to jayden.s" in before.reason
    assert after.device == DEVICES["Y6-LT-08"]


def test_outside_every_lease_is_unattributed() -> None:
    a = ident().resolve(dns("10.0.0.5", T0 + timedelta(hours=5)))
    assert a.person is None
    assert a.device is None
    assert a.reason == "unattributed"


def test_shared_device_gives_device_without_person() -> None:
    a = ident().resolve(dns("10.0.0.9", T0 + timedelta(days=3)))
    assert a.device == DEVICES["IPAD-01"]
    assert a.person is None


def test_user_name_in_record_wins() -> None:
    a = ident().resolve(dns("10.0.0.5", T0 + timedelta(minutes=30), user="david.o"))
    assert a.person == PEOPLE["david.o"]
    assert a.reason.startswith("user name 'david.o' in the record")
    unknown = ident().resolve(dns("10.0.0.5", T0, user="visitor7"))
    assert unknown.person is None
    assert "not on the roster" in unknown.reason


def test_lease_interval_from_expiry() -> None:
    assert lease_interval(T0, timedelta(hours=1)) == (T0 - timedelta(hours=1), T0)
    starts, ends = lease_interval(None, timedelta(hours=1))
    assert ends is None
    assert starts.year == 1970
