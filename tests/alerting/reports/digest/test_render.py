"""Rendering: the plain text carries the numbers, the HTML is escaped, the preview files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from alerting.reports.digest.collect import collect
from alerting.reports.digest.model import Digest
from alerting.reports.digest.render import render, write_preview
from monitord.classify.policy import Policy
from monitord.settings.config import Config
from monitord.store.database import table_of
from monitord.store.tables import AlertRow
from tests.alerting.reports.digest.site import (
    WEEK,
)


def test_the_plain_text_carries_the_same_numbers(digest: Digest) -> None:
    out = render(digest).text
    assert "Alerts:                 15 (last week 9)" in out
    assert "Open now:               9" in out
    assert "Low-severity events:    38 (last week 27)" in out
    assert "W47   15 alerts (1/7/7), 38 low  <- this week" in out
    for r in digest.by_category.rows:
        assert f"{r.label:<28} {r.this:>6} {r.last:>6}" in out
    for s in digest.sources:
        assert f"{s.name} ({s.fmt}): {' '.join(map(str, s.per_day))}; unread {s.rejected}" in out


def test_html_is_escaped(engine: Engine, cfg: Config, policy: Policy, generated: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            table_of(AlertRow)
            .update()
            .where(table_of(AlertRow).c.id == generated.alert_ids[2])
            .values(indicator='evil.example/"><script>alert(1)</script>')
        )
    d = collect(engine, cfg, policy, WEEK, generated.now, named=True)
    html = render(d).html({"per_day": "a", "heat": "b", "trend": "c"})
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "evil[.]example" in html


def test_preview_writes_the_html_text_and_images(digest: Digest, tmp_path: Path) -> None:
    paths = write_preview(render(digest), tmp_path / "preview")
    names = sorted(p.name for p in paths)
    assert names == [
        "alerts-per-day.png",
        "digest.html",
        "digest.txt",
        "flagged-by-hour.png",
        "twelve-week-trend.png",
    ]
    html = (tmp_path / "preview" / "digest.html").read_text()
    for png in ("alerts-per-day.png", "flagged-by-hour.png", "twelve-week-trend.png"):
        assert f'src="{png}"' in html
        assert (tmp_path / "preview" / png).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
