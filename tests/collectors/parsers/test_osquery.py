"""osquery results: real logs of other packs read as known lines; annotated samples of the
logged_in_users and processes shapes, differential, snapshot and batched; fuzzing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.osquery import PARSER
from monitord.core.model import SKIP, EventKind, Parsed
from tests.collectors.parsers.fixturelines import CTX, fixture_files, numbered_lines
from tests.conftest import FIXTURES

LOGS = fixture_files(FIXTURES / "osquery")
TS = 1795250000
WHEN = datetime.fromtimestamp(TS, UTC)


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_real_results_of_other_packs_are_known_lines(path: Any) -> None:
    for n, line in numbered_lines(path):
        parsed = PARSER.parse(line, CTX)
        assert parsed == SKIP, f"{path.name}:{n}: {parsed}"


def result(columns: dict[str, str], action: str = "added", counter: str = "3") -> str:
    return json.dumps(
        {
            "name": "pack_school_watch",
            "hostIdentifier": "Y6-LT-07",
            "unixTime": str(TS),
            "calendarTime": "x",
            "action": action,
            "counter": counter,
            "epoch": "0",
            "columns": columns,
            "decorations": {"username": "jayden.s"},
        }
    )


USER = {
    "user": "Jayden.S",
    "tty": "console",
    "host": "",
    "time": str(TS),
    "pid": "90",
    "type": "user",
}
TOR = {
    "pid": "4242",
    "name": "tor.exe",
    "path": "C:\\Users\\j\\Desktop\\Tor Browser\\tor.exe",
    "cmdline": "tor.exe --defaults-torrc",
    "uid": "1001",
}

# (what the line is, the line, the events it must give as (kind, user, host, text, action))
SAMPLES = [
    ("a user logs on", result(USER), [(EventKind.LOGON, "jayden.s", "y6-lt-07", None, None)]),
    (
        "the user logs off",
        result(USER, "removed"),
        [(EventKind.LOGOFF, "jayden.s", "y6-lt-07", None, None)],
    ),
    (
        "first run: who was already on",
        result(USER, counter="0"),
        [(EventKind.LOGON, "jayden.s", "y6-lt-07", None, "baseline")],
    ),
    ("a boot record is no user", result({**USER, "type": "boot_time"}), []),
    (
        "a process starts",
        result(TOR),
        [(EventKind.PROCESS, None, "y6-lt-07", "tor.exe", "tor.exe --defaults-torrc")],
    ),
    ("first run: processes already running are not new", result(TOR, counter="0"), []),
    ("a process ends", result(TOR, "removed"), []),
    (
        "a snapshot lists what runs now",
        json.dumps(
            {
                "name": "ps",
                "hostIdentifier": "SUITE-PC-01",
                "unixTime": TS,
                "counter": "0",
                "action": "snapshot",
                "snapshot": [TOR, {**TOR, "name": "psiphon3.exe"}],
            }
        ),
        [
            (EventKind.PROCESS, None, "suite-pc-01", "tor.exe", "tor.exe --defaults-torrc"),
            (EventKind.PROCESS, None, "suite-pc-01", "psiphon3.exe", "tor.exe --defaults-torrc"),
        ],
    ),
    (
        "batched differential results",
        json.dumps(
            {
                "name": "users",
                "hostIdentifier": "STAFF-LT-01",
                "unixTime": TS,
                "counter": 5,
                "diffResults": {"added": [USER], "removed": [{**USER, "user": "helen.p"}]},
            }
        ),
        [
            (EventKind.LOGON, "jayden.s", "staff-lt-01", None, None),
            (EventKind.LOGOFF, "helen.p", "staff-lt-01", None, None),
        ],
    ),
]


@pytest.mark.parametrize(("what", "line", "expected"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_annotated_samples(what: str, line: str, expected: list[tuple[Any, ...]]) -> None:
    parsed = PARSER.parse(line, CTX)
    assert parsed.rejected is None, what
    got = [(e.kind, e.user, e.hostname, e.text, e.action) for e in parsed.events]
    assert got == expected, what
    assert all(e.ts == WHEN for e in parsed.events)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        ('{"columns": {}}', "expected an osquery result"),
        ('{"name": "x", "columns": {}, "unixTime": "soon"}', "unixTime 'soon' is not a Unix time"),
    ],
)
def test_rejections_say_what_was_expected(line: str, reason: str) -> None:
    assert reason in (PARSER.parse(line, CTX).rejected or "")


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "name",
                        "columns",
                        "snapshot",
                        "diffResults",
                        "added",
                        "removed",
                        "unixTime",
                        "counter",
                        "user",
                        "type",
                        "pid",
                        "tty",
                        "hostIdentifier",
                    ]
                ),
                inner,
                max_size=6,
            )
        ),
        max_leaves=20,
    )
)
def test_fuzz_shaped_json_never_raises(value: object) -> None:
    assert isinstance(PARSER.parse(json.dumps(value), CTX), Parsed)
