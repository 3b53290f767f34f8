"""The Unbound parser against real logs, annotated samples, fuzz, and its pairing of replies and
verdicts with the queries they follow."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from collectors.parsers.base import ParseContext
from collectors.parsers.unbound import PARSER, RecentQueries
from monitord.core.model import SKIP, EventKind, EventUpdate, Origin, Parsed
from monitord.service.app import App, ingest_files
from monitord.store.database import table_of
from monitord.store.tables import EventRow
from tests.collectors.parsers.fixturelines import (
    CTX,
    LONDON,
    REFERENCE,
    check_parsed,
    check_sample,
    fixture_files,
    numbered_lines,
)
from tests.conftest import FIXTURES

UNBOUND = FIXTURES / "unbound"
LOGS = fixture_files(UNBOUND)
_lines = numbered_lines


def _origin(offset: int) -> Origin:
    return Origin("resolver", "f1", offset)


def _ctx(offset: int = 0) -> ParseContext:
    return ParseContext(LONDON, REFERENCE, _origin(offset))


def _eid(offset: int) -> str:
    """The id the pipeline gives the event made from the line at ``offset``."""
    return _origin(offset).event_id(0)


def _one(line: str) -> Parsed:
    return PARSER.session().parse(line, CTX)


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_every_fixture_line_is_an_event_or_known(path: Path) -> None:
    session = PARSER.session()
    events = 0
    for n, line in _lines(path):
        parsed = session.parse(line, _ctx(n))
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        fields = line.split("info: ", 1)[-1].split()
        # A log-queries line: CLIENT NAME. TYPE CLASS.
        if "info: " in line and len(fields) == 4 and fields[1].endswith("."):
            assert len(parsed.events) == 1, f"{path.name}:{n}"
            ev = parsed.events[0]
            assert ev.kind is EventKind.DNS
            assert ev.client_ip == fields[0]
            assert ev.domain == fields[1].rstrip(".").lower()
            assert ev.qtype == fields[2]
            assert ev.ts.tzinfo is UTC
            events += 1
        else:
            assert parsed == SKIP, f"{path.name}:{n} gave {parsed}"
    assert events > 0


def test_fixture_query_exact_values() -> None:
    """Wazuh's arrakis line: an RFC 3339 syslog time with its own offset (-04:00)."""
    found = [line for path in LOGS for _, line in _lines(path) if "talkgadget.google.com." in line]
    assert found
    (ev,) = _one(found[0]).events
    assert ev.ts == datetime(2014, 7, 14, 18, 0, 2, 814490, tzinfo=UTC)
    assert (ev.client_ip, ev.domain, ev.qtype, ev.action, ev.blocked) == (
        "127.0.0.1",
        "talkgadget.google.com",
        "A",
        None,
        False,
    )


# Annotated samples, in the manner of fail2ban's sample logs: each line with what it must give,
# either the Event fields it must have, SKIP (a known line with no event of its own), or the
# words the rejection reason must contain. Each is read by a fresh session.
SAMPLES: list[tuple[str, dict[str, Any] | Parsed | str]] = [
    # log-queries through syslog (real line, Wazuh's ruleset tests).
    (
        "2014-07-14T14:00:02.814490-04:00 arrakis unbound: [2541:0] info: 127.0.0.1 "
        "talkgadget.google.com. A IN",
        {
            "kind": EventKind.DNS,
            "ts": datetime(2014, 7, 14, 18, 0, 2, 814490, tzinfo=UTC),
            "client_ip": "127.0.0.1",
            "domain": "talkgadget.google.com",
            "qtype": "A",
            "blocked": False,
        },
    ),
    # Traditional syslog time: no year, no zone. July is BST: 09:15:00 local is 08:15:00Z.
    (
        "Jul  3 09:15:00 gw unbound: [811:1] info: 10.20.6.7 www.bbc.co.uk. AAAA IN",
        {
            "ts": datetime(2026, 7, 3, 8, 15, tzinfo=UTC),
            "client_ip": "10.20.6.7",
            "domain": "www.bbc.co.uk",
            "qtype": "AAAA",
        },
    ),
    # Unbound's own log file: a Unix time in brackets, the thread after the PID.
    (
        "[1700000000] unbound[811:0] info: 10.20.6.7 Example.COM. A IN",
        {
            "ts": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
            "domain": "example.com",
            "client_ip": "10.20.6.7",
        },
    ),
    # log-time-ascii in the log file, an IPv6 client, a hex thread number.
    (
        "Nov 14 22:13:20 unbound[811:a] info: 2001:db8::7 mail.example.org. MX IN",
        {"ts": datetime(2026, 11, 14, 22, 13, 20, tzinfo=UTC), "client_ip": "2001:db8::7"},
    ),
    # log-time-iso, no offset written: the school's zone.
    (
        "2026-06-01T12:00:00.250 unbound[811:0] info: 10.0.0.1 a.example. HTTPS IN",
        {"ts": datetime(2026, 6, 1, 11, 0, 0, 250000, tzinfo=UTC), "qtype": "HTTPS"},
    ),
    # log-tag-queryreply names the lines query and reply.
    ("[1700000000] unbound[811:0] query: 10.0.0.1 a.example. TYPE65 IN", {"qtype": "TYPE65"}),
    # log-replies with nothing before it: the reply is the event, with its response code.
    (
        "[1700000000] unbound[811:0] reply: 10.0.0.1 nope.example. A IN NXDOMAIN 0.020000 0 44",
        {"domain": "nope.example", "action": "NXDOMAIN", "blocked": False},
    ),
    (
        "[1700000000] unbound[811:0] info: 10.0.0.1 a.example. A IN NOERROR 0.000000 1 56",
        {"action": "NOERROR", "blocked": False, "client_ip": "10.0.0.1"},
    ),
    # REFUSED: access-control said no.
    (
        "[1700000000] unbound[811:0] info: 10.0.0.1 a.example. A IN REFUSED 0.000000 0 29",
        {"action": "REFUSED", "blocked": True},
    ),
    # An RPZ block with no query line before it.
    (
        "Oct  7 14:21:00 resolver unbound[200]: [200:0] info: rpz: applied [lab-rpz] "
        "bad.example. rpz-nxdomain 10.0.0.5@40776 bad.example. A IN",
        {
            "ts": datetime(2026, 10, 7, 13, 21, tzinfo=UTC),
            "client_ip": "10.0.0.5",
            "domain": "bad.example",
            "action": "rpz-nxdomain [lab-rpz]",
            "blocked": True,
        },
    ),
    (
        "[1700000000] unbound[1:0] info: rpz: applied [allow] ok.example. rpz-passthru "
        "10.0.0.5@1 ok.example. A IN",
        {"action": "rpz-passthru [allow]", "blocked": False},
    ),
    # A local zone's answer (log-local-actions or an inform zone).
    (
        "[1700000000] unbound[1:0] info: doubleclick.net. always_nxdomain 10.0.0.5@5353 "
        "ad.doubleclick.net. A IN",
        {
            "domain": "ad.doubleclick.net",
            "client_ip": "10.0.0.5",
            "action": "local-zone always_nxdomain doubleclick.net",
            "blocked": True,
        },
    ),
    (
        "[1700000000] unbound[1:0] info: home.lan. transparent 10.0.0.5@5353 nas.home.lan. A IN",
        {"action": "local-zone transparent home.lan", "blocked": False},
    ),
    # Unbound lines that record no client query.
    (
        "2014-05-20T09:01:07.283219-04:00 arrakis unbound: [9405:0] notice: sendto failed: "
        "Can't assign requested address",
        SKIP,
    ),
    (
        "2014-07-14T14:00:05.507848-04:00 arrakis unbound: [2541:0] info: server stats for "
        "thread 0: 3 queries, 2 answers from cache, 1 recursions, 0 prefetch",
        SKIP,
    ),
    ("[1700000000] unbound[811:0] notice: init module 0: validator", SKIP),
    ("[1700000000] unbound[811:0] info: start of service (unbound 1.17.1).", SKIP),
    ('[1700000000] unbound[811:0] debug: module config: "validator iterator"', SKIP),
    ("[1700000000] unbound[811:0] error: SERVFAIL <a.example. A IN>: all servers failed", SKIP),
    ("[1700000000] unbound[811:0] info: resolving a.example. A IN", SKIP),
    ("[1700000000] unbound[811:0] info: 10.0.0.1 - - - FORMERR - - - ", SKIP),
    # A query for the root names no site.
    ("[1700000000] unbound[811:0] info: 10.0.0.1 . NS IN", SKIP),
    # Not Unbound at all.
    ("Dec  3 08:51:30 gateway sshd[2211]: Accepted publickey for admin", "not an Unbound log"),
    ("Dec  3 08:51:27 dnsmasq[1068]: query[A] daisy.ubuntu.com from 192.0.2.5", "not an Unbound"),
    ("garbage", "not an Unbound log line"),
    ("", "not an Unbound log line"),
    # Unbound's shape, but a time that does not exist.
    ("Feb 30 09:15:00 gw unbound: [811:1] info: 10.0.0.1 a.example. A IN", "impossible date"),
    ("2026-13-01T00:00:00Z gw unbound: [811:1] info: 10.0.0.1 a.example. A IN", "impossible"),
    ("[999999999999] unbound[811:0] info: 10.0.0.1 a.example. A IN", "out of range"),
]


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_annotated_sample(line: str, expected: dict[str, Any] | Parsed | str) -> None:
    check_sample(_one(line), expected)


# -- A query and what follows it: one event, then updates.

Q = "[1700000000] unbound[811:0] info: 10.20.6.7 www.bet365.com. A IN"
R_OK = "[1700000000] unbound[811:0] info: 10.20.6.7 www.bet365.com. A IN NOERROR 0.012000 0 60"
R_NX = "[1700000001] unbound[811:0] info: 10.20.6.7 www.bet365.com. A IN NXDOMAIN 0.000000 1 44"
R_REFUSED = "[1700000000] unbound[811:0] info: 10.20.6.7 www.bet365.com. A IN REFUSED 0.0 0 29"
RPZ = (
    "[1700000000] unbound[811:0] info: rpz: applied [gambling] www.bet365.com. rpz-nxdomain "
    "10.20.6.7@5353 www.bet365.com. A IN"
)


def _feed(lines: list[str]) -> list[Parsed]:
    session = PARSER.session()
    return [session.parse(line, _ctx(i * 100)) for i, line in enumerate(lines)]


def test_query_then_reply_is_one_event_and_an_update() -> None:
    query, reply = _feed([Q, R_OK])
    (ev,) = query.events
    assert (ev.domain, ev.action) == ("www.bet365.com", None)
    assert reply.events == ()
    assert reply.rejected is None
    assert reply.updates == (EventUpdate(_eid(0), action="NOERROR"),)


def test_refused_reply_marks_the_query_blocked() -> None:
    _, reply = _feed([Q, R_REFUSED])
    (upd,) = reply.updates
    assert (upd.blocked, upd.action) == (True, "REFUSED")


def test_rpz_verdict_then_reply_keeps_the_verdict() -> None:
    query, verdict, reply = _feed([Q, RPZ, R_NX])
    assert len(query.events) == 1
    assert verdict.updates == (
        EventUpdate(_eid(0), blocked=True, action="rpz-nxdomain [gambling]"),
    )
    assert reply == SKIP  # NXDOMAIN is what the RPZ made it say; the verdict says more


def test_replies_pair_with_their_own_queries_in_order() -> None:
    out = _feed([Q, Q, R_OK, R_NX, R_OK])
    assert [len(p.events) for p in out] == [1, 1, 0, 0, 1]
    first, second = _eid(0), _eid(100)
    assert out[2].updates == (EventUpdate(first, action="NOERROR"),)
    assert out[3].updates == (EventUpdate(second, action="NXDOMAIN"),)
    # A third reply has no query left to answer: it is an event of its own.
    assert out[4].events[0].action == "NOERROR"


def test_replies_only_make_an_event_each() -> None:
    out = _feed([R_OK, R_NX, R_OK])
    assert [len(p.events) for p in out] == [1, 1, 1]
    assert [p.events[0].action for p in out] == ["NOERROR", "NXDOMAIN", "NOERROR"]
    assert all(p.updates == () for p in out)


def test_rpz_then_reply_without_query_is_one_blocked_event() -> None:
    verdict, reply = _feed([RPZ, R_NX])
    (ev,) = verdict.events
    assert ev.blocked
    assert reply == SKIP


def test_a_reply_for_another_client_or_type_is_its_own_event() -> None:
    other_client = R_OK.replace("10.20.6.7", "10.20.6.8")
    other_type = R_OK.replace(" A IN ", " AAAA IN ")
    out = _feed([Q, other_client, other_type])
    assert [len(p.events) for p in out] == [1, 1, 1]


def test_a_reply_long_after_its_query_is_its_own_event() -> None:
    late = R_OK.replace("[1700000000]", "[1700000300]")
    out = _feed([Q, late])
    assert [len(p.events) for p in out] == [1, 1]


def test_without_an_origin_the_reply_updates_nothing_and_makes_nothing() -> None:
    session = PARSER.session()
    assert len(session.parse(Q, CTX).events) == 1
    assert session.parse(R_OK, CTX) == SKIP


def test_each_file_gets_its_own_memory() -> None:
    first = PARSER.session()
    first.parse(Q, _ctx(0))
    assert len(PARSER.session().parse(R_OK, _ctx(100)).events) == 1


def test_recent_queries_are_bounded() -> None:
    recent = RecentQueries(window=timedelta(seconds=60), limit=3)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(10):
        recent.remember("10.0.0.1", f"a{i}.example", "A", t0, f"id{i}")
    assert len(recent) == 3
    assert recent.follow("reply", "10.0.0.1", "a0.example", "A", t0) is None
    seen = recent.follow("reply", "10.0.0.1", "a9.example", "A", t0)
    assert seen is not None
    assert seen.event_id == "id9"
    # Anything older than the window before the newest is forgotten.
    recent.remember("10.0.0.1", "late.example", "A", t0 + timedelta(minutes=5), "late")
    assert len(recent) == 1


def test_query_and_reply_through_the_pipeline(app: App, tmp_path: Path) -> None:
    """The update names the event the pipeline stored for the query, in the same batch and
    across batches."""
    path = tmp_path / "unbound.log"
    path.write_text(
        "\n".join(
            [
                "[1700000000] unbound[811:0] info: start of service (unbound 1.17.1).",
                Q,
                RPZ,
                R_NX,
                "[1700000002] unbound[811:0] info: 10.20.6.8 www.bbc.co.uk. A IN",
                "[1700000002] unbound[811:0] info: 10.20.6.8 www.bbc.co.uk. A IN NOERROR "
                "0.030000 0 90",
                "[1700000003] unbound[811:0] info: 10.20.6.9 only.example. A IN NXDOMAIN "
                "0.010000 0 44",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    stamp = datetime(2023, 11, 14, 23, 0, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    result = ingest_files(app, [path], "unbound", "resolver")
    assert (result.lines, result.events, result.rejected) == (7, 3, 0)
    with app.engine.connect() as conn:
        table = table_of(EventRow)
        rows = conn.execute(
            select(table.c.domain, table.c.client_ip, table.c.action, table.c.blocked).order_by(
                table.c.ts, table.c.domain
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("www.bet365.com", "10.20.6.7", "rpz-nxdomain [gambling]", True),
        ("www.bbc.co.uk", "10.20.6.8", "NOERROR", False),
        ("only.example", "10.20.6.9", "NXDOMAIN", False),
    ]


def _check_total(parsed: Parsed) -> None:
    check_parsed(parsed, most=1)


_HEADS = st.sampled_from(
    [
        "[1700000000] unbound[1:0] info: ",
        "[0] unbound[1:0] reply: ",
        "Jul  3 09:15:00 gw unbound: [811:1] info: ",
        "Feb 29 09:15:00 gw unbound: [811:1] info: ",
        "2014-07-14T14:00:02.814490-04:00 arrakis unbound: [2541:0] info: ",
    ]
)
_WORDS = st.sampled_from(
    ["10.0.0.1", "::1", "a.example.", ".", "A", "IN", "NOERROR", "REFUSED", "0.000000", "1",
     "44", "rpz:", "applied", "[x]", "rpz-nxdomain", "10.0.0.1@53", "always_nxdomain", "-"]
)  # fmt: skip


@given(st.lists(st.tuples(_HEADS, st.lists(st.one_of(_WORDS, st.text(max_size=8)), max_size=10))))
def test_fuzz_unbound_shaped_lines_through_one_session(
    lines: list[tuple[str, list[str]]],
) -> None:
    """Lines that reach the message readers, fed to one session so its memory is exercised."""
    session = PARSER.session()
    for i, (head, words) in enumerate(lines):
        _check_total(session.parse(head + " ".join(words), _ctx(i)))
