"""The records that cross module boundaries: frozen, and with ids that depend on what was
read, never on who read it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitord.core.model import (
    SKIP,
    Attribution,
    Decision,
    Event,
    EventKind,
    Judged,
    Origin,
    Parsed,
    Person,
    Severity,
    content_event_id,
    reject,
)

T = datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC)
LEASE = Event(
    kind=EventKind.LEASE,
    ts=T,
    client_ip="10.20.6.7",
    client_mac="aa:00:00:00:00:07",
    lease_start=T,
    lease_end=T + timedelta(hours=1),
)


@given(st.text(max_size=20), st.integers(0, 2**40), st.integers(0, 5))
def test_an_events_id_is_what_was_read_not_who_read_it(
    file_id: str, offset: int, index: int
) -> None:
    one = Origin("resolver", file_id, offset, "/var/log/a.log")
    other = Origin("backfill", file_id, offset, "/tmp/a.log.1.gz")
    assert one.event_id(index) == other.event_id(index)
    assert len(one.event_id(index)) == 32
    assert one.event_id(index) != one.event_id(index + 1)
    assert dataclasses.replace(one, scope="school-b").event_id(index) != one.event_id(index)
    assert dataclasses.replace(one, content="x").event_id(index) != one.event_id(index)


def test_a_snapshots_event_is_known_by_its_content() -> None:
    assert content_event_id("", LEASE) == content_event_id("", dataclasses.replace(LEASE))
    assert content_event_id("", LEASE) != content_event_id("school-b", LEASE)
    renewed = dataclasses.replace(LEASE, lease_end=T + timedelta(hours=2))
    assert content_event_id("", renewed) != content_event_id("", LEASE)


def test_severities_rank_in_order() -> None:
    ranks = [s.rank for s in Severity]
    assert ranks == sorted(ranks) == list(range(5))
    assert Severity("critical") is Severity.CRITICAL


def test_a_rejection_and_a_known_line() -> None:
    assert reject("bad") == Parsed(rejected="bad")
    assert (SKIP.events, SKIP.rejected, SKIP.updates, SKIP.passed_over) == ((), None, (), None)


@pytest.mark.parametrize(
    ("name", "username", "initials"),
    [("Jayden Smith", "jayden.s", "JS"), ("Smith, Jayden", "jayden.s", "SJ"), ("", "ab12", "AB")],
)
def test_initials(name: str, username: str, initials: str) -> None:
    assert Person(username, name, "pupil").initials == initials


def test_the_top_decision_is_the_most_severe() -> None:
    origin = Origin("s", "f", 0)
    judged = Judged("id", origin, b"raw", LEASE, "dhcpd-leases", Attribution())
    assert judged.top is None
    low = Decision("gaming", Severity.LOW, "default")
    high = Decision("gambling", Severity.HIGH, "default")
    assert dataclasses.replace(judged, decisions=(low, high, low)).top is high


def test_every_record_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        LEASE.domain = "example.org"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        SKIP.rejected = "no"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("severity", "exempt", "weighty"),
    [
        (Severity.NONE, False, False),
        (Severity.LOW, False, False),
        (Severity.MEDIUM, False, True),
        (Severity.HIGH, False, True),
        (Severity.CRITICAL, False, True),
        (Severity.NONE, True, True),
    ],
)
def test_a_decision_weighs_when_it_alerts_or_is_an_exemption(
    severity: Severity, exempt: bool, weighty: bool
) -> None:
    assert Decision("gaming", severity, "default", exempt=exempt).weighty is weighty
