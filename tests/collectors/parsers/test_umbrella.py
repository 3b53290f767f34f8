"""The Cisco Umbrella (DNS and proxy CSV exports) parser: real lines, samples and fuzz."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.umbrella import PARSER, parse_line
from monitord.core.model import SKIP, EventKind
from tests.collectors.parsers.fixturelines import (
    CTX,
    Expected,
    check_sample,
    fixture_files,
    numbered_lines,
)
from tests.conftest import FIXTURES

UMBRELLA = FIXTURES / "umbrella"
LOGS = fixture_files(UMBRELLA)


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_every_fixture_record_is_read(path: Path) -> None:
    session = PARSER.session()
    for n, line in numbered_lines(path):
        parsed = session.parse(line, CTX)
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        (ev,) = parsed.events
        assert ev.kind is EventKind.DNS
        assert f'"{ev.domain}."' in line
        assert ev.blocked == ('"Blocked"' in line)
        assert ev.qtype in ("A", "AAAA")


def test_users_come_from_identities_of_a_user_type() -> None:
    (path,) = LOGS
    users = [ev.user for _, line in numbered_lines(path) for ev in parse_line(line, CTX).events]
    # The AD user among a user's and a computer's identities, by the types' order; an
    # identity "Surname, Forename (e-mail)" (commas inside its quotes) by its address; no
    # user for networks and for the old layout without identity types.
    assert users[0] == "elasticuser"
    assert users[2] == "elasticuser"
    assert users[3:10] == [None] * 7
    assert users[10] == "do_redacted.mc_redacted"
    assert users[14] == "tiredacted.lastname"


DNS = (
    '"2026-11-19 10:01:02","Smith, Jayden (jayden.s@school.example)","Smith, Jayden '
    '(jayden.s@school.example),Y6-LT-07,School Network","10.20.6.7","81.2.69.144","Blocked",'
    '"1 (A)","NOERROR","www.bet365.com.","Gambling,Sports","AD Users","AD Users,Roaming '
    'Computers,Networks","Gambling"'
)
PROXY = (
    '"2026-11-19 10:01:02","Y6-LT-07","10.20.6.7","81.2.69.144","203.0.113.9","text/html",'
    '"BLOCKED","https://www.bet365.com/en/","","Mozilla/5.0","403","512","0","0","","Gambling",'
    '"","","","","","Roaming Computers","Gambling","Smith, Jayden (jayden.s@school.example),'
    'Y6-LT-07","AD Users,Roaming Computers","GET"'
)

SAMPLES: list[tuple[str, Expected]] = [
    (
        DNS,
        {
            "kind": EventKind.DNS,
            "ts": datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC),
            "client_ip": "10.20.6.7",
            "user": "jayden.s",
            "domain": "www.bet365.com",
            "qtype": "A",
            "action": "Blocked",
            "blocked": True,
            "filter_category": "Gambling",
        },
    ),
    # Allowed: the filter's category is all its categories.
    (
        DNS.replace('"Blocked"', '"Allowed"').replace(',"Gambling"', ',""'),
        {"blocked": False, "filter_category": "Gambling,Sports"},
    ),
    # The oldest layout: ten columns, no identity types, so no user.
    ('","'.join(DNS.split('","')[:10]) + '"', {"user": None, "domain": "www.bet365.com"}),
    # A proxy record: the URL, method, status and the user among its identities.
    (
        PROXY,
        {
            "kind": EventKind.HTTP,
            "url": "https://www.bet365.com/en/",
            "domain": "www.bet365.com",
            "method": "GET",
            "status": 403,
            "user": "jayden.s",
            "blocked": True,
            "filter_category": "Gambling",
        },
    ),
    # A header row is a known line; a broken record and a bad time are rejected.
    ('"Timestamp","Most Granular Identity","Identities","InternalIp"', SKIP),
    ('"2026-11-19 10:01:02","x","y"', "not an Umbrella DNS or proxy record"),
    (DNS.replace("2026-11-19 10:01:02", "yesterday"), "timestamp"),
    ('"2026-11-19 10:01:02","unterminated', "not an Umbrella"),
    ("", "not an Umbrella"),
]


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_annotated_sample(line: str, expected: Expected) -> None:
    check_sample(parse_line(line, CTX), expected)


def test_a_header_names_the_columns_of_the_rows_after_it() -> None:
    """A report download with its own column order."""
    session = PARSER.session()
    header = '"Timestamp","Action","Domain","Internal IP","Identities","Identity Types"'
    assert session.parse(header, CTX) == SKIP
    row = '"2026-11-19 10:01:02","Blocked","www.bet365.com.","10.20.6.7","jayden.s","AD Users"'
    (ev,) = session.parse(row, CTX).events
    assert (ev.domain, ev.client_ip, ev.user, ev.blocked) == (
        "www.bet365.com",
        "10.20.6.7",
        "jayden.s",
        True,
    )


@given(st.lists(st.text(max_size=30), min_size=8, max_size=30), st.booleans())
def test_fuzz_records_never_raise(fields: list[str], dns: bool) -> None:
    if dns:
        fields[6] = "1 (A)"
    else:
        fields[7] = "https://" + fields[7]
    line = ",".join('"' + f.replace('"', '""') + '"' for f in fields)
    parsed = parse_line(line, CTX)
    assert parsed.rejected is None or parsed.events == ()
    assert len(parsed.events) <= 1
