"""What the firewalls' and filters' parsers share: key=value pairs, the envelope before a
message, times, and the checks every address, MAC and user name goes through."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.appliance import (
    MAX_FIELD,
    epoch,
    ip_or_none,
    local_time,
    mac_or_none,
    message_of,
    pairs,
    user_or_none,
)
from tests.collectors.parsers.fixturelines import CTX, LONDON

STARTS = re.compile(r"date=\d")


def test_pairs_quoted_bare_escaped_empty_and_repeated() -> None:
    line = (
        'date=2026-11-19 srcip=10.20.6.7 user="SCHOOL\\\\jayden.s" msg="say \\"hi\\"" '
        'exceptions= activityname="" domain=www. google.ca srcip=10.9.9.9'
    )
    assert pairs(line) == {
        "date": "2026-11-19",
        "srcip": "10.20.6.7",  # a key given twice keeps its first value
        "user": "SCHOOL\\jayden.s",
        "msg": 'say "hi"',
        "exceptions": "",
        "activityname": "",
        "domain": "www. google.ca",  # a bare value runs on until the next key=
    }


def test_a_long_value_is_cut() -> None:
    assert len(pairs("url=" + "a" * (MAX_FIELD + 50))["url"]) == MAX_FIELD


@given(st.text(max_size=200))
def test_pairs_of_anything_are_short_strings(text: str) -> None:
    for key, value in pairs(text).items():
        assert key in text
        assert len(value) <= MAX_FIELD


def test_message_of_a_line_with_and_without_an_envelope() -> None:
    bare = "date=2026-11-19 time=10:01:02 logid=1"
    assert message_of(bare, STARTS, CTX) == (bare, None)
    message, when = message_of("<189>Nov 19 10:01:02 fw01 " + bare, STARTS, CTX)
    assert message == bare
    assert when == datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="syslog envelope"):
        message_of("<999>", STARTS, CTX)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.20.6.7", "10.20.6.7"),
        (" 10.20.6.7 ", "10.20.6.7"),
        ("2001:DB8::0:1", "2001:db8::1"),
        ("10.20.6.300", None),
        ("N/A", None),
        ("", None),
        (None, None),
    ],
)
def test_ip_or_none(value: str | None, expected: str | None) -> None:
    assert ip_or_none(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AA-00-00-00-00-07", "aa:00:00:00:00:07"),
        ("aa:00:00:00:00:07", "aa:00:00:00:00:07"),
        ("aa:0:0:0:0:7", None),
        ("aa00.0000.0007", None),
        ("", None),
        (None, None),
    ],
)
def test_mac_or_none(value: str | None, expected: str | None) -> None:
    assert mac_or_none(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("SCHOOL\\jayden.s", "jayden.s"),
        ("helen.p@school.example", "helen.p"),
        ("N/A", None),
        ("unknown", None),
        ("", None),
        (None, None),
        ("x" * 257, None),
    ],
)
def test_user_or_none(value: str | None, expected: str | None) -> None:
    assert user_or_none(value) == expected


@pytest.mark.parametrize(
    "value",
    ["1795250000", "1795250000123", "1795250000123456", "1795250000123456789"],
)
def test_epoch_in_any_unit_by_its_digits(value: str) -> None:
    when = epoch(value)
    assert when is not None
    assert when.replace(microsecond=0) == datetime.fromtimestamp(1795250000, UTC)


@pytest.mark.parametrize("value", ["", None, "-1", "12.5", "١٢٣", "9" * 20])
def test_epoch_of_anything_else_is_none(value: str | None) -> None:
    assert epoch(value) is None


def test_local_time_is_the_schools_zone_as_utc() -> None:
    assert local_time("2026-07-01 10:00:00", "%Y-%m-%d %H:%M:%S", LONDON) == datetime(
        2026, 7, 1, 9, 0, tzinfo=UTC
    )
    assert local_time("2026-13-01 10:00:00", "%Y-%m-%d %H:%M:%S", LONDON) is None


@given(st.text(max_size=30))
def test_the_checks_never_raise(value: str) -> None:
    for check in (ip_or_none, mac_or_none, user_or_none, epoch):
        got = check(value)
        assert got is None or isinstance(got, str | datetime)
