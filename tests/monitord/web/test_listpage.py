"""The lists' change log page per role: the headteacher, the DSL, deputies and the
technician read every change with its counts; the chair, the Online Safety Group and
governors are refused and not offered the link."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitord.classify.listadmin import change_lists
from monitord.classify.lists import read_plain, store_list
from tests.monitord.web.school import Console
from tests.monitord.web.test_pages import sign_in


def changed(console: Console) -> None:
    """The technician imports a gambling list, the headteacher disables it."""
    school = console.school
    path = school.cfg.lists_dir.parent / "bets.txt"
    path.write_text("bet365.com\npaddypower.com\nwilliamhill.com\n")
    content = read_plain(path, "domains", "gambling", "local/bets")
    now = school.clock.now()
    store_list(school.app.engine, school.cfg.lists_dir, content, "tech", now)
    change_lists(school.app.engine, "local/bets", "disable", "helen.h", now + timedelta(hours=1))


@pytest.mark.parametrize("who", ["sam.dsl", "dep", "helen.h", "tech"])
def test_who_reads_the_change_log(console: Console, who: str) -> None:
    changed(console)
    c, _ = sign_in(console, who, "/lists")
    page = c.get("/lists").text
    assert '<a href="/lists">Lists</a>' in page
    assert "<strong>helen.h</strong> disabled 1 list" in page
    assert "<strong>tech</strong> imported 1 list" in page
    assert "<code>local/bets</code> (gambling): 3 domains, 0 URLs → not in use" in page
    assert "<code>local/bets</code> (gambling): not in use → 3 domains, 0 URLs" in page
    assert "All lists in use: 1 → 0 lists, 3 → 0 domains" in page
    assert "1 disabled." in page


@pytest.mark.parametrize("who", ["chair", "osg", "gov"])
def test_other_roles_are_refused(console: Console, who: str) -> None:
    changed(console)
    c, _ = sign_in(console, who, "/lists", status=403)
    page = c.get("/lists").text
    assert "local/bets" not in page
    assert '<a href="/lists">' not in page


def test_with_no_change_yet(console: Console) -> None:
    c, _ = sign_in(console, "tech", "/lists")
    assert "No list has been changed yet." in c.get("/lists").text
