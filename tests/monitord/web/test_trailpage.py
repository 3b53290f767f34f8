"""The audit trail's page per role: the leads and the headteacher read it without what is
about themselves, the technician its technical records, the chair, the Online Safety Group
and governors not at all; filters, pages, the chain check at the top, and each reading
recorded."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from monitord.store.database import audit, table_of
from monitord.store.tables import AuditRow
from monitord.web import trailpage
from tests.monitord.web.school import Console
from tests.monitord.web.test_pages import sign_in


def searched(console: Console) -> None:
    now = console.school.clock.now()
    with console.school.app.engine.begin() as conn:
        for subject in ("user:alice.p", "user:helen.h", "user:someone"):
            audit(conn, "dep", "search", subject, {"reason": f"why {subject}"}, now=now)


@pytest.mark.parametrize("who", ["sam.dsl", "dep", "helen.h"])
def test_the_leads_and_the_headteacher_read_it(console: Console, who: str) -> None:
    searched(console)
    c, _ = sign_in(console, who, "/audit")
    page = c.get("/audit").text
    assert '<a href="/audit">Audit</a>' in page
    assert "signed in" in page
    assert f"alert:{console.alert['alice.p']}" in page
    assert "why user:alice.p" in page
    if who == "sam.dsl":  # the roster's "someone"
        assert "user:someone" not in page
        assert f"alert:{console.alert['someone']}" not in page
    if who == "helen.h":
        assert "user:helen.h" not in page
        assert f"alert:{console.alert['helen.h']}" not in page
    records = [r for r in console.school.audit("audit.read") if r["actor"] == who]
    assert len(records) == 2  # the page after sign-in, and this one
    assert {r["subject"] for r in records} == {"audit"}


def test_the_technician_reads_the_technical_records(console: Console) -> None:
    searched(console)
    c, _ = sign_in(console, "tech", "/audit")
    page = c.get("/audit").text
    assert "You see the technical records" in page
    assert "signed in" in page
    assert "searched the logs" not in page
    assert "alert:" not in page


@pytest.mark.parametrize("who", ["chair", "osg", "gov"])
def test_other_roles_are_refused(console: Console, who: str) -> None:
    c, _ = sign_in(console, who, "/audit", status=403)
    page = c.get("/audit")
    assert "The audit trail is for" in page.text
    assert '<a href="/audit">' not in page.text
    assert console.school.audit("audit.read") == []


def test_signed_out_goes_to_sign_in(console: Console) -> None:
    c, _ = sign_in(console, "dep", "/audit")
    c.cookies.clear()
    r = c.get("/audit")
    assert (r.status_code, r.headers["location"]) == (303, "/signin?next=/audit")


def test_filters_and_pages(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    searched(console)
    c, _ = sign_in(console, "dep", "/audit")
    page = c.get("/audit?kind=searches&account=dep").text
    assert page.count("searched the logs") == 3
    assert "signed in" not in page
    assert c.get("/audit?from=yesterday").status_code == 400
    # A page at a time: following "Older" reaches the first record, each once.
    monkeypatch.setattr(trailpage, "PAGE", 5)
    seen: list[int] = []
    url: str | None = "/audit"
    while url:
        text = c.get(url).text
        seen += [int(n) for n in re.findall(r"· #(\d+)</span>", text)]
        found = re.search(r'href="(/audit\?[^"]*before=\d+[^"]*)">Older', text)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == len(set(seen))
    assert 1 in seen


def test_the_chain_check_at_the_top(console: Console) -> None:
    c, _ = sign_in(console, "helen.h", "/audit")
    page = c.get("/audit?verify=1").text
    assert "The trail is whole" in page
    t = table_of(AuditRow)
    with console.school.app.engine.begin() as conn:
        conn.execute(update(t).where(t.c.id == 3).values(actor="someone else"))
    page = c.get("/audit?verify=1").text
    assert "The trail has been tampered with or damaged." in page
    assert "audit trail broken at record 3" in page
    [*_, last] = console.school.audit("audit.read")
    assert '"verified": false' in last["detail"]


def test_a_records_detail_reads_as_words() -> None:
    """The reason first, yes/no for flags, nested filters flattened, empty values left out."""
    lines = trailpage.summary(
        {
            "filters": {"user": "alice.p", "limit": 100, "domain": None},
            "more": False,
            "reason": "Alice's teacher saw the screen",
            "results": 4,
            "state": {"status": "open"},
            "verified": True,
        }
    )
    assert lines == [
        ("reason", "Alice's teacher saw the screen"),
        ("filters", "user: alice.p, limit: 100"),
        ("more", "no"),
        ("results", "4"),
        ("verified", "yes"),
    ]
