"""``monitord timeline``: one person's or device's school day, every source in time order,
the flagged events marked, and who looked recorded in the audit trail."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from monitord.casework.search import Found, SearchError
from monitord.casework.timeline import day_events, day_span, render, timeline
from monitord.service.app import App, ingest_files
from monitord.store.database import table_of
from monitord.store.tables import AuditRow
from tests.monitord.service.test_pipeline import school

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def test_a_day_is_the_schools_day_whatever_the_clocks_do() -> None:
    start, end = day_span(date(2026, 3, 29), LONDON)  # the clocks go forward
    assert start == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 23 * 3600
    start, end = day_span(date(2026, 7, 1), LONDON)
    assert start == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)


def _day(app: App, tmp_path: Path) -> App:
    app = school(app, tmp_path)
    dns = tmp_path / "dns.log"
    dns.write_text(
        "Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7\n"
        "Nov 19 09:00:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7\n"
        "Nov 18 23:30:00 dnsmasq[811]: query[A] www.roblox.com from 10.20.6.7\n",
        encoding="utf-8",
    )
    os.utime(dns, (NOW.timestamp(), NOW.timestamp()))
    ingest_files(app, [dns], "dnsmasq", "resolver")
    return app


def test_a_persons_day_in_order_with_its_alerts(app: App, tmp_path: Path) -> None:
    app = _day(app, tmp_path)
    events = timeline(
        app.engine, date(2026, 11, 19), LONDON, "dsl", "concern raised", NOW, user="jayden.s"
    )
    # The lease that names the laptop is part of the day; the evening before is not.
    assert [(ev.kind, ev.domain) for ev in events] == [
        ("dns", "www.bbc.co.uk"),
        ("dns", "www.bet365.com"),
        ("lease", None),
    ]
    assert [ev.ts for ev in events] == sorted(ev.ts for ev in events)
    bbc, bet, _ = events
    assert not bbc.flagged
    assert bet.flagged
    assert bet.category == "gambling"
    assert bet.alerts


def test_by_device_id_or_host_name_and_audited(app: App, tmp_path: Path) -> None:
    app = _day(app, tmp_path)
    by_id = timeline(app.engine, date(2026, 11, 19), LONDON, "dsl", "x", NOW, device="Y6-LT-07")
    by_name = timeline(app.engine, date(2026, 11, 19), LONDON, "dsl", "x", NOW, device="Y6-lt-07")
    assert [ev.id for ev in by_id] == [ev.id for ev in by_name]
    assert len(by_id) == 3
    audit = table_of(AuditRow)
    with app.engine.connect() as conn:
        rows = conn.execute(select(audit).where(audit.c.action == "timeline")).all()
    assert [r.subject for r in rows] == ["device:Y6-LT-07", "device:Y6-LT-07"]
    detail = json.loads(rows[0].detail)
    assert detail["filters"] == {"date": "2026-11-19", "device": "Y6-LT-07"}
    assert (detail["results"], detail["flagged"], detail["reason"]) == (3, 1, "x")


def test_nobody_named_or_no_reason_is_refused(app: App) -> None:
    with pytest.raises(SearchError, match="timeline needs --user or --device"):
        timeline(app.engine, date(2026, 11, 19), LONDON, "dsl", "x", NOW)
    with pytest.raises(SearchError, match="needs --reason"):
        timeline(app.engine, date(2026, 11, 19), LONDON, "dsl", None, NOW, user="jayden.s")
    with app.engine.connect() as conn, pytest.raises(SearchError):
        day_events(conn, date(2026, 11, 19), LONDON)


def _found(n: int, **fields: object) -> Found:
    base: dict[str, object] = {
        "id": f"e{n}",
        "stamp": datetime(2026, 11, 19, 10, n, tzinfo=UTC),
        "url": None,
        "text": None,
        "domain": "www.bbc.co.uk",
        "source": "resolver",
        "fmt": "dnsmasq",
        "kind": "dns",
        "ip": "10.20.6.7",
        "person": "jayden.s",
        "role": "pupil",
        "year_group": "6",
        "device": "Y6-LT-07",
        "category": None,
        "severity": "none",
        "blocked": 0,
    }
    return Found(**{**base, **fields})  # type: ignore[arg-type]


def test_render_lines_up_the_day_and_marks_the_flagged() -> None:
    events = [
        _found(1),
        _found(2, domain="www.bet365.com", category="gambling", severity="medium", alerts=(4,)),
        _found(3, kind="text", text="a\x1b[31mred\x1b[0m line", domain=None, blocked=1),
    ]
    header, *lines = render(events, LONDON, by_user=True)
    assert header.split() == ["time", "source", "kind", "device", "indicator"]
    assert len({line.index("www") for line in lines[:2]}) == 1  # the columns line up
    assert lines[0].startswith(" ")
    assert lines[1].startswith("!")
    assert lines[1].endswith("[gambling medium alert 4]")
    assert "\x1b" not in lines[2]  # a terminal escape is never printed as it is
    assert render(events, LONDON, by_user=False)[0].split()[3] == "person"
