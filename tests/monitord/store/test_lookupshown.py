"""Proxy requests whose category opened no alert, kept in ``lookups`` (schema 0024): search
(by domain, ``*.domain``, a text of the URL, a person with context), the timeline, subject
access, ``all_events``, the alert mail and identity's proxy sightings give them exactly as
when they were ``events`` rows, on both stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

import monitord.service.pipeline as pipeline
from monitord.casework.found import Found
from monitord.casework.query import Query, parse_domain
from monitord.casework.search import run_query
from monitord.identity.load import load_identity
from monitord.service.app import App, ingest_files
from monitord.store.database import ALL_SITES, for_site
from monitord.store.lookups import is_clean
from monitord.store.lookupshown import (
    lookup_count,
    lookup_sightings,
    newest_lookup,
    select_shown,
    shown_around,
    site_until,
)
from monitord.store.retention import run_retention
from tests.monitord.store.test_lookupcounts import _mail, day_shown
from tests.monitord.store.test_lookups import NOW, lookup_school, write_log
from tests.stores import row, rows

pytestmark = pytest.mark.stores
DAY = date(2026, 11, 19)
T = int(datetime(2026, 11, 19, 10, 1, tzinfo=UTC).timestamp())
LOG = [
    f"{T}.120 210 10.20.6.7 TCP_TUNNEL/200 5120 CONNECT www.bbc.co.uk:443 jayden.s "
    "HIER_DIRECT/151.101.0.81 -",
    f"{T + 3}.004 31 10.20.6.7 TCP_MISS/200 912 GET http://news.bbc.co.uk/search?q=How+to "
    "jayden.s HIER_DIRECT/151.101.0.81 text/html",
    f"{T + 5}.500 12 10.20.6.7 TCP_MISS/200 31337 GET http://www.youtube.com/watch?v=abc "
    "jayden.s HIER_DIRECT/142.250.1.1 text/html",
    f"{T + 9}.000 8 10.20.6.7 TCP_MISS/200 77 GET http://www.bet365.com/ jayden.s "
    "HIER_DIRECT/5.226.176.1 text/html",
    f"{T + 12}.250 3 10.20.6.7 TCP_DENIED/403 0 GET http://blocked.example/ jayden.s "
    "HIER_NONE/- text/html",
    f"{T + 30}.000 40 10.20.6.7 TCP_MISS/200 - POST http://www.bbc.co.uk/comments jayden.s "
    "HIER_DIRECT/151.101.0.81 -",
    f"{T + 7200}.000 40 10.20.6.8 TCP_REFRESH_HIT/304 214 GET http://www.bbc.co.uk/a.css - "
    "HIER_DIRECT/151.101.0.81 -",
]
# The requests kept in ``lookups``: all but the gambling one (its alert) and the blocked.
LEAN = 5


def _school(folder: Path, url: str) -> App:
    folder.mkdir()
    app = lookup_school(folder, url)
    ingest_files(app, [write_log(folder, LOG, "access.log")], "squid", "proxy")
    return app


@pytest.fixture
def both(
    tmp_path: Path, store_url: str, wide_url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[App, App]:
    """The day stored now (an unremarkable request in ``lookups``), and as before (every
    request an ``events`` row)."""
    lean = _school(tmp_path / "lean", store_url)
    with monkeypatch.context() as m:
        m.setattr(pipeline, "is_clean", lambda r: r["kind"] == "dns" and is_clean(r))
        wide = _school(tmp_path / "wide", wide_url)
    return lean, wide


def test_an_unremarkable_request_is_a_lookup_with_its_url_and_bytes(
    both: tuple[App, App],
) -> None:
    lean, wide = both
    assert row(lean.engine, "SELECT count(*) FROM lookups") == (LEAN,)
    assert rows(
        lean.engine, "SELECT domain, blocked FROM events WHERE kind = 'http' ORDER BY ts"
    ) == [
        ("www.bet365.com", 0),
        ("blocked.example", 1),
    ]
    assert row(wide.engine, "SELECT count(*) FROM lookups") == (0,)
    # One URL a request, one row a method, action and status.
    assert row(lean.engine, "SELECT count(*) FROM lookup_urls") == (LEAN,)
    assert row(lean.engine, "SELECT count(*) FROM lookup_requests") == (4,)
    query = (
        'SELECT id, ts, source, fmt, kind, client_ip, "user", domain, url, method, qtype, '
        "action, blocked, status, size, username, device_id, attributed_by, category, "
        'severity, file_id, "offset" FROM all_events ORDER BY id'
    )
    assert rows(lean.engine, query) == rows(wide.engine, query)
    with lean.engine.connect() as conn:
        assert lookup_count(conn) == LEAN
        assert newest_lookup(conn) == datetime.fromtimestamp(T + 7200, UTC)


def _shown(found: list[Found]) -> list[Found]:
    """Found rows with their times as aware datetimes (each store hands them over in its
    own form)."""
    return [f._replace(stamp=f.ts) for f in found]


def test_search_finds_them_as_before(both: tuple[App, App]) -> None:
    lean, wide = both
    queries = [
        Query(domain=parse_domain("www.bbc.co.uk")),
        Query(domain=parse_domain("*.bbc.co.uk")),
        Query(text="how to"),
        Query(text="WATCH?V"),
        Query(text="bbc", limit=2),
        Query(user="jayden.s", context=2),
        Query(category="video_streaming"),
        Query(ip="10.20.6.8"),
        Query(text="comments", context=1),
    ]
    for q in queries:
        with lean.engine.connect() as a, wide.engine.connect() as b:
            assert _shown(run_query(a, q).events) == _shown(run_query(b, q).events), q
    with lean.engine.connect() as conn:
        found = run_query(conn, Query(domain=parse_domain("*.bbc.co.uk"))).events
        texts = run_query(conn, Query(text="how to")).events
    assert [f.url for f in found] == [
        "www.bbc.co.uk:443",
        "http://news.bbc.co.uk/search?q=How+to",
        "http://www.bbc.co.uk/comments",
        "http://www.bbc.co.uk/a.css",
    ]
    assert [f.url for f in texts] == ["http://news.bbc.co.uk/search?q=How+to"]


def test_the_timeline_and_subject_access_show_them_as_before(both: tuple[App, App]) -> None:
    (lean_lines, lean_kept), (wide_lines, wide_kept) = (day_shown(app, "jayden.s") for app in both)
    assert lean_lines == wide_lines
    assert any("news.bbc.co.uk/search" in line for line in lean_lines)
    gathered = [
        sorted((tuple(sorted(e.items())) for e in kept), key=repr)
        for kept in (lean_kept, wide_kept)
    ]
    assert gathered[0] == gathered[1]
    # The person's six requests and their device's lease.
    assert len(gathered[0]) == 7


def test_the_alert_mail_shows_the_nearby_requests_by_their_url(both: tuple[App, App]) -> None:
    lean, wide = both
    mails = _mail(lean.engine)
    assert len(mails) == 1
    assert "youtube[.]com/watch" in mails[0][1]
    assert mails == _mail(wide.engine)


def test_identity_learns_who_was_behind_an_address_from_them(both: tuple[App, App]) -> None:
    lean, wide = both
    since = datetime.fromtimestamp(T, UTC)
    with lean.engine.connect() as conn:
        seen = lookup_sightings(conn, since)
    assert seen == [
        (datetime.fromtimestamp(T + d, UTC), "jayden.s", "10.20.6.7")
        for d in (0.12, 3.004, 5.5, 30)
    ]
    # At start, identity holds the same sightings of the address as it did from events.
    at = datetime.fromtimestamp(T + 60, UTC)
    held = []
    for app in (lean, wide):
        ident = load_identity(app.engine, timedelta(hours=1), now=at)
        held.append(
            {ip: (list(s.firsts), list(s.lasts), s.users) for ip, s in ident._proxy.items()}
        )
    # The first request and the last within the window, not the alerted ones alone.
    assert held[0] == held[1] == {"10.20.6.7": ([T + 0.12], [T + 30.0], ["jayden.s"])}


def test_retention_removes_them_and_their_urls(both: tuple[App, App]) -> None:
    lean = both[0]
    run_retention(lean.engine, lean.cfg, NOW + timedelta(days=120), "root", pause=0)
    assert row(lean.engine, "SELECT count(*) FROM lookups") == (0,)
    assert row(lean.engine, "SELECT count(*) FROM lookup_urls") == (0,)
    # The gambling request stays with its open alert.
    assert rows(lean.engine, "SELECT domain FROM all_events") == [("www.bet365.com",)]


def test_a_partys_lookups_are_read_without_parallel_workers(tmp_path: Path, store_url: str) -> None:
    """PostgreSQL reads a person's lookups in its own backend (a worker's start cost more
    than the read on a busy server), and the session's setting is as it was afterwards;
    SQLite has no such setting and is asked nothing more."""
    app = _school(tmp_path / "lean", store_url)
    during: list[str] = []
    statements: list[str] = []
    with app.engine.connect() as conn:
        pg = conn.dialect.name == "postgresql"
        before = conn.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar() if pg else ""

        def seen(c: Any, cursor: Any, statement: str, *rest: Any) -> None:
            statements.append(statement)
            if pg and "FROM lookups AS l" in statement:
                shown = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                    "SHOW max_parallel_workers_per_gather"
                )
                during.append(str(shown.fetchone()[0]))

        event.listen(conn, "after_cursor_execute", seen)
        found = select_shown(conn, party={"username": "jayden.s"})
        event.remove(conn, "after_cursor_execute", seen)
        assert {r[2] for r in found} >= {"www.bbc.co.uk", "news.bbc.co.uk"}
        if pg:
            assert during == ["0"]
            after = conn.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar()
            assert after == before != "0"
        else:
            assert len(statements) == 1
    app.engine.dispose()


def test_a_partys_lookups_around_a_time_are_those_each_side_reads(
    tmp_path: Path, store_url: str
) -> None:
    """``shown_around`` (the alert mail's lookups either side of its event; on PostgreSQL
    one statement, each side cut before its keys are joined) gives the rows, and in the
    order, that ``select_shown`` gives for each side."""
    app = _school(tmp_path / "lean", store_url)
    party = {"username": "jayden.s"}
    sides = ((["l.ts <= :at", "l.ts >= :low"], True), (["l.ts > :at", "l.ts <= :high"], False))
    with app.engine.connect() as conn:
        for second in (0, 3, 9, 30):
            at = (T + second) * 1_000_000
            params = {"at": at, "low": at - 4_000_000, "high": at + 30_000_000}
            for limit in (1, 2, 10):
                found = shown_around(conn, party, *params.values(), limit)
                for side, (where, newest) in zip(found, sides, strict=True):
                    asked = {"where": where, "params": params, "newest": newest}
                    assert side == select_shown(conn, party=party, limit=limit, **asked)
        before, after = shown_around(conn, party, T * 1_000_000, 0, 2**62, 10)
        assert (len(before), len(after)) == (0, 4)
    app.engine.dispose()


def test_a_schools_lookups_are_read_no_later_than_its_newest(
    tmp_path: Path, store_url: str
) -> None:
    """A school's search reads its lookups by time or name no later than its own newest
    (its blocks tell), however many newer ones another school of the trust stored; another
    school's end is its own, and the trust's view has none."""
    app = _school(tmp_path / "lean", store_url)
    day = 86_400_000_000
    first, newest = row(app.engine, "SELECT min(ts), max(ts) FROM lookups")
    later = newest + 2 * day
    with app.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO raw_blocks (site_id, source, file_id, day, first_ts, last_ts, "
                "first_offset, last_offset, lines, data) VALUES ('west', 'proxy', 'f', :day, "
                ":at, :at, 0, 0, 1, :data)"
            ),
            {"day": DAY + timedelta(days=2), "at": later, "data": b"x"},
        )
    west = for_site(app.engine, "west")
    every = for_site(app.engine, ALL_SITES)
    with app.engine.connect() as conn, west.connect() as other, every.connect() as trust:
        assert site_until(conn, None) == newest + 1
        assert site_until(conn, later) == newest + 1
        assert site_until(conn, newest) == newest
        assert site_until(conn, first) == 0  # no block of its began before
        assert site_until(other, None) == later + 1
        assert site_until(other, newest) == 0
        assert site_until(trust, newest) == newest
        assert site_until(trust, None) is None
        # The same answers as the trust's view, which reads every school's.
        for q in (
            Query(domain=parse_domain("*.bbc.co.uk")),
            Query(text="how to", until=datetime.fromtimestamp(later / 1e6, UTC)),
            Query(domain=parse_domain("www.youtube.com"), limit=1),
        ):
            assert run_query(conn, q).events == run_query(trust, q).events != []
            assert run_query(other, q).events == []
    app.engine.dispose()
