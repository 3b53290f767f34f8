"""Lookups whose category opened no alert, kept in ``lookups`` with their verdict: the weekly
report, the digest, search, the timeline, subject access and the alert mail's nearby events
count, find and show them exactly as when they were ``events`` rows, on both stores."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from alerting.reports.digest.sections import _heat, _low_activity, _trend
from alerting.reports.digest.week import Week
from alerting.reports.report import collect_report, key_figures
from collectors.files import iter_records
from collectors.parsers.base import load_parser
from monitord.casework.query import Query
from monitord.casework.search import run_query
from monitord.casework.subject import gather
from monitord.casework.timeline import day_events, render
from monitord.core.model import Decision
from monitord.service.app import App, ingest_files
from monitord.store.lookupcounts import judged_count, judged_lookups
from monitord.store.retention import run_retention
from tests.monitord.store.test_lookups import NOW, lookup_school, write_log
from tests.stores import row, rows

pytestmark = pytest.mark.stores
DAY = date(2026, 11, 19)
LOG = [
    "Nov 19 10:01:02 dnsmasq[811]: query[A] www.youtube.com from 10.20.6.7",
    "Nov 19 10:01:02 dnsmasq[811]: forwarded www.youtube.com to 1.1.1.3",
    "Nov 19 10:01:05 dnsmasq[811]: query[A] www.roblox.com from 10.20.6.7",
    "Nov 19 10:01:09 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7",
    "Nov 19 10:01:30 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7",
    "Nov 19 10:02:00 dnsmasq[811]: query[AAAA] www.twitch.tv from 10.20.6.7",
    "Nov 19 11:40:00 dnsmasq[811]: query[A] play.ttrockstars.com from 10.20.6.7",
    "Nov 19 14:02:10 dnsmasq[811]: query[A] www.youtube.com from 10.20.6.8",
]
# The lookups with a category and no alert: the pupil's three and the unknown device's.
JUDGED = 4


def _school(folder: Path, url: str) -> App:
    folder.mkdir()
    app = lookup_school(folder, url)
    ingest_files(app, [write_log(folder, LOG)], "dnsmasq", "resolver")
    return app


@pytest.fixture
def both(
    tmp_path: Path, store_url: str, wide_url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[App, App]:
    """The day stored now (a categorised lookup in ``lookups``), and as before (every
    lookup with a decision an ``events`` row)."""
    lean = _school(tmp_path / "lean", store_url)
    with monkeypatch.context() as m:
        m.setattr(Decision, "weighty", property(lambda _: True))
        wide = _school(tmp_path / "wide", wide_url)
    return lean, wide


def test_a_lookup_with_a_category_and_no_alert_is_a_lookup(both: tuple[App, App]) -> None:
    lean, wide = both
    dns = "SELECT count(*) FROM events WHERE kind = 'dns' AND category IS NOT NULL"
    assert row(lean.engine, dns) == (1,)  # the gambling lookup, with its alert
    assert row(wide.engine, dns) == (JUDGED + 1,)
    assert row(lean.engine, "SELECT count(*) FROM lookups WHERE verdict IS NOT NULL") == (
        JUDGED + 1,  # and the allow list's
    )
    # (Their lines, from their blocks, are compared by subject access below.)
    query = (
        'SELECT id, domain, category, severity, username, file_id, "offset" FROM all_events '
        "WHERE kind = 'dns' ORDER BY id"
    )
    assert rows(lean.engine, query) == rows(wide.engine, query)


def _mail(engine: Engine) -> list[tuple[str, str]]:
    """The alert mails' subjects and plain text."""
    out = []
    for subject, message in rows(engine, "SELECT subject, message FROM outbox ORDER BY id"):
        parsed = email.message_from_bytes(bytes(message))
        texts = [
            p.get_payload(decode=True)
            for p in parsed.walk()
            if isinstance(p, Message) and p.get_content_type() == "text/plain"
        ]
        out.append((subject, b"".join(t for t in texts if isinstance(t, bytes)).decode()))
    return out


def test_the_alert_mail_shows_the_nearby_lookups_with_their_category(
    both: tuple[App, App],
) -> None:
    lean, wide = both
    mails = _mail(lean.engine)
    assert len(mails) == 1
    assert "10:01:02  dns  www[.]youtube[.]com  [video_streaming]" in mails[0][1]
    assert "10:02:00  dns  www[.]twitch[.]tv  [video_streaming]" in mails[0][1]
    assert mails == _mail(wide.engine)


def test_the_weekly_report_and_the_digest_count_them(both: tuple[App, App]) -> None:
    seen = []
    for app in both:
        report = collect_report(app.engine, app.cfg, date(2026, 11, 1), date(2026, 11, 30), NOW)
        week = Week.of(datetime(2026, 11, 19, 12, tzinfo=UTC), app.cfg.tz)
        with app.engine.connect() as conn:
            low = _low_activity(conn, week, week.shift(-1))
            digest = (low, _heat(conn, week), _trend(conn, week))
            following = _low_activity(conn, week.shift(1), week)
        seen.append((report.low_total, report.low_by_category, key_figures(report), digest))
        assert report.low_total == JUDGED
        assert following.last_total == JUDGED
    assert seen[0] == seen[1]
    assert dict(seen[0][1]) == {"video_streaming": 3, "gaming": 1}


def _shown(found: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (f.id, f.ts, f.domain, f.person, f.device, f.category, f.severity, f.flagged, f.match)
        for f in found
    ]


def test_search_finds_them_by_category_and_shows_them(both: tuple[App, App]) -> None:
    lean, wide = both
    queries = [
        Query(category="video_streaming"),
        Query(category="gaming"),
        Query(category="gambling"),
        Query(user="jayden.s", context=2),
        Query(category="video_streaming", since=datetime(2026, 11, 19, 12, tzinfo=UTC)),
    ]
    for q in queries:
        with lean.engine.connect() as a, wide.engine.connect() as b:
            assert _shown(run_query(a, q).events) == _shown(run_query(b, q).events), q
    with lean.engine.connect() as conn:
        found = run_query(conn, Query(category="video_streaming")).events
    assert [(f.domain, f.severity, f.flagged) for f in found] == [
        ("www.youtube.com", "low", True),
        ("www.twitch.tv", "low", True),
        ("www.youtube.com", "low", True),
    ]


def day_shown(app: App, user: str) -> tuple[list[str], list[dict[str, Any]]]:
    """``user``'s timeline of ``DAY`` as rendered, and their events as subject access
    gathers them: what the lean and the wide store must show alike."""
    with app.engine.connect() as conn:
        events = day_events(conn, DAY, app.cfg.tz, user=user)
        return render(events, app.cfg.tz, by_user=True), gather(conn, user)["events"]


def test_the_timeline_and_subject_access_show_them_as_before(both: tuple[App, App]) -> None:
    (lean_lines, lean_kept), (wide_lines, wide_kept) = (day_shown(app, "jayden.s") for app in both)
    assert lean_lines == wide_lines
    assert any("video_streaming" in line for line in lean_lines)

    def key(kept: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((e["id"], e["category"], e["severity"], e["raw"]) for e in kept)

    assert key(lean_kept) == key(wide_kept)


def test_counts_by_time_and_year_group(both: tuple[App, App]) -> None:
    lean = both[0]
    start, end = datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
    with lean.engine.connect() as conn:
        by_year = judged_lookups(conn, start, end, ("category", "year_group"), severities=["low"])
        times = judged_lookups(conn, start, end, ("ts",), category="gaming")
        assert judged_count(conn, start, end, severities=["low", "medium"]) == JUDGED
        assert judged_count(conn, start, start + timedelta(hours=10), severities=["low"]) == 0
        with pytest.raises(ValueError, match="severity or category"):
            judged_lookups(conn, start, end)
    assert sorted(by_year, key=str) == sorted(
        [("gaming", "6", 1), ("video_streaming", "6", 2), ("video_streaming", None, 1)], key=str
    )
    assert times == [(datetime(2026, 11, 19, 10, 1, 5, tzinfo=UTC), 1)]


def test_retention_removes_them_with_their_day(both: tuple[App, App]) -> None:
    lean = both[0]
    run_retention(lean.engine, lean.cfg, NOW + timedelta(days=120), "root", pause=0)
    assert row(lean.engine, "SELECT count(*) FROM lookups") == (0,)
    # The gambling lookup stays with its open alert.
    assert rows(lean.engine, "SELECT domain FROM all_events") == [("www.bet365.com",)]


def test_a_later_block_moves_one_into_events_as_it_was(
    tmp_path: Path, store_url: str, wide_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pi-hole's block line read in a later batch than its query: the lookup becomes an
    event with its category, severity and matches, as the event stored as before does."""
    block = "Nov 19 10:01:02 dnsmasq[811]: gravity blocked www.youtube.com is 0.0.0.0"
    seen = []
    for name, url, wide in (("lean", store_url, False), ("wide", wide_url, True)):
        folder = tmp_path / name
        folder.mkdir()
        with monkeypatch.context() as m:
            if wide:
                m.setattr(Decision, "weighty", property(lambda _: True))
            app = lookup_school(folder, url)
            path = write_log(folder, [LOG[0], block])
            session = load_parser("dnsmasq").session()
            records = [rec for rec, _ in iter_records(path, "resolver")]
            app.processor.process("dnsmasq", session, records[:1])
            app.processor.process("dnsmasq", session, records[1:])
        assert row(app.engine, "SELECT count(*) FROM lookups") == (0,)
        seen.append(
            (
                rows(
                    app.engine,
                    "SELECT id, domain, category, severity, blocked, action, raw FROM events "
                    "WHERE kind = 'dns'",
                ),
                rows(
                    app.engine,
                    "SELECT event_id, category, list_name, entry, score, allow FROM matches "
                    "ORDER BY list_name, entry",
                ),
            )
        )
    assert seen[0] == seen[1]
    [(_, domain, category, severity, blocked, _, _)] = seen[0][0]
    assert (domain, category, severity, blocked) == ("www.youtube.com", "video_streaming", "low", 1)
    assert seen[0][1]
