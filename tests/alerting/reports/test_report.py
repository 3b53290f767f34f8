"""The governors' report: its numbers against the store for a generated term, no one named,
and its HTML and PDF written."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from alerting.reports.digest.week import Week
from alerting.reports.report import ReportError, collect_report, parse_day, write_report
from monitord.service.initdir import init_dir
from monitord.settings.config import Config, load_config
from monitord.store.database import open_store
from tests.alerting.reports.digestweek import PEOPLE, generate

TZ = ZoneInfo("Europe/London")
FIRST, LAST = date(2026, 9, 1), date(2026, 11, 22)


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return load_config(init_dir(tmp_path / "site")[0])


@pytest.fixture
def engine(cfg: Config) -> Iterator[Engine]:
    e = open_store(cfg.database_url)
    generate(e, Week(2026, 47, TZ))
    yield e
    e.dispose()


def _alerts(engine: Engine) -> list[Any]:
    start = datetime.combine(FIRST, time(0), TZ).astimezone(UTC).replace(tzinfo=None)
    end = datetime.combine(date(2026, 11, 23), time(0), TZ).astimezone(UTC).replace(tzinfo=None)
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT * FROM alerts WHERE created_at >= :a AND created_at < :b"),
                {"a": start, "b": end},
            )
        )


def test_the_reports_numbers_match_the_store(engine: Engine, cfg: Config) -> None:
    r = collect_report(engine, cfg, FIRST, LAST, datetime(2026, 11, 23, 9, tzinfo=UTC))
    rows = _alerts(engine)
    # Twelve weeks of alerts, less the two raised on Monday 31 August, before --from.
    assert r.total == len(rows) == 15 + 9 + 81 - 2
    assert dict(r.by_category) == dict(Counter(a.category for a in rows))
    assert dict(r.by_severity) == dict(Counter(a.severity for a in rows))
    closed = [a for a in rows if a.status == "closed"]
    assert r.closed == len(closed)
    assert r.open_now == len(rows) - len(closed)
    outcomes = Counter(a.outcome for a in closed)
    assert dict(r.outcomes) == {
        "No concern": outcomes["no_concern"],
        "Internal action": outcomes["internal_action"],
        "Referred to the police": outcomes["referred_police"],
    }
    assert (r.reviews, r.needing_review, r.reviewed) == (1, 1, 1)
    assert sum(n for _, n in r.by_group) == r.total
    assert r.month_labels == ["Sep 26", "Oct 26", "Nov 26"]
    assert sum(map(sum, r.months.values())) == r.total
    assert r.gaps == 1
    assert r.list_changes == 2


def test_the_report_is_written_as_html_and_pdf_naming_no_one(
    engine: Engine, cfg: Config, tmp_path: Path
) -> None:
    r = collect_report(engine, cfg, FIRST, LAST, datetime(2026, 11, 23, 9, tzinfo=UTC))
    paths = write_report(r, tmp_path / "governors")
    assert sorted(p.name for p in paths) == [
        "alerts-by-category.png",
        "alerts-per-month.png",
        "outcomes.png",
        "report.html",
        "report.pdf",
    ]
    html = (tmp_path / "governors" / "report.html").read_text()
    assert "1 September 2026 to 22 November 2026" in html
    assert "1 of 1 critical or referred alerts reviewed" in html
    for username, name, _, _ in PEOPLE:
        assert name not in html
        assert username not in html
    assert "I.J." not in html
    pdf = (tmp_path / "governors" / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 3


def test_bad_dates_are_one_clear_line(engine: Engine, cfg: Config) -> None:
    with pytest.raises(ReportError, match="--from '1/9/2026': expected a date"):
        parse_day("1/9/2026", "--from")
    with pytest.raises(ReportError, match="is before --from"):
        collect_report(engine, cfg, LAST, FIRST, datetime.now(UTC))
