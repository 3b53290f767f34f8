"""Search, context and timeline find the lookups that matched nothing beside the events, in
time order, on both stores (the lookups stored by the real pipeline)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event

from monitord.casework import lookupsearch
from monitord.casework.found import Found
from monitord.casework.lookupsearch import in_time_order, newest
from monitord.casework.query import Query, parse_domain
from monitord.casework.search import run_query
from monitord.casework.timeline import day_events
from monitord.service.app import ingest_files
from tests.monitord.store.test_lookups import lookup_school, write_log
from tests.stores import row

pytestmark = pytest.mark.stores
LONDON = ZoneInfo("Europe/London")
LINES = [
    "Nov 19 10:01:02 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7",
    "Nov 19 10:01:03 dnsmasq[811]: query[AAAA] www.bbc.co.uk from 10.20.6.7",
    "Nov 19 10:01:09 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7",
    "Nov 19 10:01:20 dnsmasq[811]: query[A] news.bbc.co.uk from 10.20.6.7",
    "Nov 19 10:01:30 dnsmasq[811]: query[A] fakebbc.co.uk from 10.20.6.7",
    "Nov 19 10:02:00 dnsmasq[811]: query[A] news.bbc.co.uk from 10.20.6.8",
]


@pytest.fixture
def engine(tmp_path: Path, store_url: str) -> Engine:
    app = lookup_school(tmp_path, store_url)
    ingest_files(app, [write_log(tmp_path, LINES)], "dnsmasq", "resolver")
    assert row(app.engine, "SELECT count(*) FROM lookups") == (5,)
    return app.engine


def _ask(engine: Engine, **filters: object) -> list[tuple[str, str | None, str]]:
    with engine.connect() as conn:
        result = run_query(conn, Query(**filters))  # type: ignore[arg-type]
    # The DNS events (the school's lease file adds the laptop's lease at noon).
    return [
        (ev.ts.strftime("%H:%M:%S"), ev.domain, ev.severity)
        for ev in result.events
        if ev.kind == "dns"
    ]


def test_a_domain_finds_its_lookups(engine: Engine) -> None:
    assert _ask(engine, domain=parse_domain("www.bbc.co.uk")) == [
        ("10:01:02", "www.bbc.co.uk", "none"),
        ("10:01:03", "www.bbc.co.uk", "none"),
    ]


def test_a_suffix_finds_the_name_and_those_under_it_only(engine: Engine) -> None:
    assert [d for _, d, _ in _ask(engine, domain=parse_domain("*.bbc.co.uk"))] == [
        "www.bbc.co.uk",
        "www.bbc.co.uk",
        "news.bbc.co.uk",
        "news.bbc.co.uk",
    ]


def test_a_person_device_or_address_finds_lookups_and_events_in_time_order(
    engine: Engine,
) -> None:
    mine = [
        ("10:01:02", "www.bbc.co.uk", "none"),
        ("10:01:03", "www.bbc.co.uk", "none"),
        ("10:01:09", "www.bet365.com", "medium"),
        ("10:01:20", "news.bbc.co.uk", "none"),
        ("10:01:30", "fakebbc.co.uk", "none"),
    ]
    assert _ask(engine, user="jayden.s") == mine
    assert _ask(engine, device="Y6-LT-07") == mine
    assert _ask(engine, ip="10.20.6.8") == [("10:02:00", "news.bbc.co.uk", "none")]


def test_the_limit_keeps_the_newest_of_both(engine: Engine) -> None:
    with engine.connect() as conn:
        until = datetime(2026, 11, 19, 11, tzinfo=UTC)
        result = run_query(conn, Query(user="jayden.s", until=until, limit=3))
    assert result.more
    assert [ev.domain for ev in result.events] == [
        "www.bet365.com",
        "news.bbc.co.uk",
        "fakebbc.co.uk",
    ]


def test_time_bounds_apply_to_lookups(engine: Engine) -> None:
    since = datetime(2026, 11, 19, 10, 1, 3, tzinfo=UTC)
    until = datetime(2026, 11, 19, 10, 1, 30, tzinfo=UTC)
    assert [t for t, _, _ in _ask(engine, since=since, until=until)] == [
        "10:01:03",
        "10:01:09",
        "10:01:20",
    ]


def test_a_category_or_a_text_finds_no_lookup(engine: Engine) -> None:
    assert _ask(engine, category="gambling") == [("10:01:09", "www.bet365.com", "medium")]
    assert _ask(engine, text="bbc") == []


def test_context_around_an_event_shows_the_lookups_beside_it(engine: Engine) -> None:
    with engine.connect() as conn:
        result = run_query(conn, Query(category="gambling", context=2))
    shown = [(ev.domain, ev.match, ev.group) for ev in result.events]
    assert shown == [
        ("www.bbc.co.uk", False, 1),
        ("www.bbc.co.uk", False, 1),
        ("www.bet365.com", True, 1),
        ("news.bbc.co.uk", False, 1),
        ("fakebbc.co.uk", False, 1),
    ]


def test_context_around_a_lookup_shows_its_neighbours(engine: Engine) -> None:
    with engine.connect() as conn:
        result = run_query(
            conn, Query(domain=parse_domain("news.bbc.co.uk"), user="jayden.s", context=1)
        )
    assert [(ev.domain, ev.match) for ev in result.events] == [
        ("www.bet365.com", False),
        ("news.bbc.co.uk", True),
        ("fakebbc.co.uk", False),
    ]


def test_a_persons_day_holds_their_lookups(engine: Engine) -> None:
    with engine.connect() as conn:
        day = day_events(conn, date(2026, 11, 19), LONDON, user="jayden.s")
        other = day_events(conn, date(2026, 11, 18), LONDON, user="jayden.s")
    assert [(ev.domain, ev.flagged, bool(ev.alerts)) for ev in day if ev.kind == "dns"] == [
        ("www.bbc.co.uk", False, False),
        ("www.bbc.co.uk", False, False),
        ("www.bet365.com", True, True),
        ("news.bbc.co.uk", False, False),
        ("fakebbc.co.uk", False, False),
    ]
    assert other == []
    assert {ev.source for ev in day} == {"resolver", "leases"}
    assert all(len(ev.id) == 32 for ev in day)


def _found(at: str, ident: str) -> Found:
    stamp = f"2026-11-19 {at}.000000"
    return Found(
        ident,
        stamp,
        None,
        None,
        "x",
        "s",
        "f",
        "dns",
        None,
        None,
        None,
        None,
        None,
        None,
        "none",
        0,
    )


def test_merging_keeps_time_order_and_the_newest() -> None:
    a, b, c = _found("10:00:00", "a"), _found("10:00:01", "b"), _found("10:00:02", "c")
    assert in_time_order([a, c], [b]) == [a, b, c]
    assert in_time_order([], [b]) == [b]
    assert newest([c, a], [b], 2) == [c, b]
    assert newest([c, a], [], 1) == [c]


@pytest.mark.parametrize("common", [3, 10])
def test_names_looked_up_often_are_read_by_time_with_the_same_answer(
    engine: Engine, common: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``*.bbc.co.uk``'s names were looked up 4 times: with 3 they are common and read by
    # the newest lookups of all, with 10 by their names; the answer is the same.
    monkeypatch.setattr(lookupsearch, "COMMON_NAMES", common)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    got = _ask(engine, domain=parse_domain("*.bbc.co.uk"), limit=1)
    assert got == [("10:02:00", "news.bbc.co.uk", "none")]
    by = "ix_lookups_ts" if common == 3 else "ix_lookups_name_ts"
    if engine.dialect.name == "sqlite":
        assert any(f"INDEXED BY {by} JOIN" in s for s in seen)
    # By time the name index is kept out of the statement (PostgreSQL has no hint).
    assert any("l.name + 0 IN" in s for s in seen) == (common == 3)
