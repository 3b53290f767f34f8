"""A person's day and a search from the console: the DSL and deputies only, each asking
why and recorded in the audit trail as the account; nobody looks up their own record."""

from __future__ import annotations

import json

import pytest

from tests.monitord.web.school import Console
from tests.monitord.web.test_pages import sign_in


def test_a_pupils_day_asks_why_and_is_audited(console: Console) -> None:
    c, csrf = sign_in(console, "dep", "/timeline")
    day = console.school.clock.now().date().isoformat()
    asked = {"csrf": csrf, "user": "alice.p", "date": day}
    r = c.post("/timeline", data=asked)
    assert r.status_code == 400
    assert "reason" in r.text
    r = c.post("/timeline", data={**asked, "reason": "DSL review after alert 1"})
    assert r.status_code == 200
    page = r.text
    order = [page.index(d) for d in ("www.bbc.co.uk", "pornhub.com", "classroom.google.com")]
    assert order == sorted(order)
    assert f'href="/alerts/{console.alert["alice.p"]}"' in page
    [record] = console.school.audit("timeline")
    assert record["actor"] == "dep"
    assert json.loads(record["detail"])["reason"] == "DSL review after alert 1"


def test_search_by_domain(console: Console) -> None:
    c, csrf = sign_in(console, "dep", "/search")
    r = c.post("/search", data={"csrf": csrf, "domain": "pornhub.com", "reason": "pattern check"})
    assert r.status_code == 200
    assert "4 events" in r.text
    [record] = console.school.audit("search")
    assert record["actor"] == "dep"


def test_nobody_looks_up_their_own_record(console: Console) -> None:
    c, csrf = sign_in(console, "sam.dsl", "/search")
    r = c.post("/search", data={"csrf": csrf, "user": "someone", "reason": "curious"})
    assert r.status_code == 400
    assert console.school.audit("search") == []


@pytest.mark.parametrize("username", ["helen.h", "tech", "gov"])
def test_other_roles_are_refused(console: Console, username: str) -> None:
    c, csrf = sign_in(console, username, "/timeline", 403)
    for kind in ("timeline", "search"):
        r = c.post(f"/{kind}", data={"csrf": csrf, "user": "alice.p", "reason": "x"})
        assert r.status_code == 403
    assert console.school.audit("search") == console.school.audit("timeline") == []


def test_without_the_forms_token_nothing_is_looked_up(console: Console) -> None:
    c, _ = sign_in(console, "dep", "/search")
    r = c.post("/search", data={"csrf": "forged", "domain": "pornhub.com", "reason": "x"})
    assert r.status_code == 403
    assert console.school.audit("search") == []
