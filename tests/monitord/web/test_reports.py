"""The anonymous pages: the Online Safety Group's weekly digests (the DSL's named copy for
the DSL and deputies only) and the governors' report with its PDF; no names on either for
the roles that may not see them."""

from __future__ import annotations

import pytest

from alerting.reports.digest.queue import queue_digest
from alerting.reports.digest.week import Week
from monitord.classify.policy import policy_of
from monitord.settings.config import load_config
from tests.monitord.web.school import Console
from tests.monitord.web.test_pages import sign_in


def queue_both(console: Console) -> str:
    """This week's digest queued in both editions; its week's label."""
    cfg = console.school.cfg
    assert cfg.path is not None
    cfg.path.write_text(
        cfg.path.read_text().replace(
            "online_safety_group = []", 'online_safety_group = ["osg@school.example"]'
        )
    )
    cfg = load_config(cfg.path)
    now = console.school.clock.now()
    week = Week.of(now, cfg.tz)
    engine = console.school.app.engine
    for named in (False, True):
        queue_digest(engine, cfg, policy_of(cfg), week, now, "test", named=named)
    return week.label


def test_the_osg_reads_the_anonymous_digest_only(console: Console) -> None:
    label = queue_both(console)
    c, _ = sign_in(console, "osg", "/digests")
    page = c.get("/digests").text
    assert f"{label}: the Online Safety Group" in page
    assert "the DSL's named copy" not in page
    assert "Alice" not in page
    assert "alice.p" not in page
    dsl, _ = sign_in(console, "dep", "/digests")
    assert "the DSL's named copy" in dsl.get("/digests").text


def test_a_role_without_alerts_lands_on_the_digests(console: Console) -> None:
    c, _ = sign_in(console, "gov", "/digests")
    r = c.get("/")
    assert (r.status_code, r.headers["location"]) == (303, "/digests")


def test_the_governors_report_and_its_pdf(console: Console) -> None:
    c, _ = sign_in(console, "gov", "/report")
    page = c.get("/report").text
    assert "1 September 2026 to 20 November 2026" in page
    assert "<dt>Alerts raised</dt><dd>6</dd>" in page
    for name in ("Alice", "alice.p", "LAP-ALICE", "pornhub"):
        assert name not in page
    pdf = c.get("/report.pdf?from=2026-11-01&to=2026-11-30")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert c.get("/report?from=2026-12-01&to=2026-11-01").status_code == 400


@pytest.mark.parametrize("path", ["/digests", "/report", "/report.pdf"])
def test_the_technician_has_neither(console: Console, path: str) -> None:
    c, _ = sign_in(console, "tech", "/health")
    assert c.get(path).status_code == 403


def test_the_governors_report_draws_its_charts_in_the_page(console: Console) -> None:
    c, _ = sign_in(console, "chair", "/report")
    page = c.get("/report").text
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == 3
    assert 'aria-label="Alerts by category"' in page
    assert "style=" not in page
    assert "<style" not in page
    assert "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org/", "")  # nothing from elsewhere
    for name in ("Alice", "alice.p", "bob.s", "LAP-ALICE", "pornhub"):
        assert name not in page
    assert '<a class="download" href="/report.pdf?from=2026-09-01&amp;to=2026-11-20">' in page
