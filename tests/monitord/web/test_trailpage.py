"""The audit trail's page per role: the leads and the headteacher read it without what is
about themselves, the technician its technical records, the chair, the Online Safety Group
and governors not at all; filters, pages, the chain check at the top, and each reading
recorded."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import insert, update

from monitord.casework.accounts import add_account
from monitord.casework.totpkey import TotpKey, key_file
from monitord.store.database import audit, for_site, inserted_id, table_of
from monitord.store.tables import AlertRow, AuditRow
from monitord.web import trailpage
from monitord.web.app import make_app
from tests.monitord.web.school import CHEAP, PASSWORD, Console
from tests.monitord.web.test_pages import sign_in
from tests.stores import rows


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


NORTH = "north"


def north_school(console: Console) -> Console:
    """A second school in the same store, with its own console: an account of the same user
    name as this school's DSL (signed in) and one of its own; an alert, case work on it and a
    search, each recorded in the one trail."""
    cfg, clock = console.school.cfg, console.school.clock
    engine = for_site(console.school.app.engine, NORTH)
    now = clock.now()
    totp = {}
    for name in ("sam.dsl", "nina.dsl"):
        made = add_account(
            engine, name, "dsl", "test", now, full_name="North Lead", password=PASSWORD,
            ph=CHEAP, key=TotpKey(key_file(cfg)),
        )  # fmt: skip
        assert made.totp_uri is not None
        otp = pyotp.parse_uri(made.totp_uri)
        assert isinstance(otp, pyotp.TOTP)
        totp[name] = otp
    with engine.begin() as conn:
        alert = inserted_id(
            conn.execute(
                insert(table_of(AlertRow)).values(
                    site_id=NORTH, group_key="north", created_at=now, updated_at=now,
                    first_seen=now, last_seen=now, severity="high", category="self_harm",
                    status="open", person="north.pupil", indicator="north.example",
                    sources="[]", recipients="[]", rule="",
                )
            )
        )  # fmt: skip
        audit(conn, "nina.dsl", "alert.note", f"alert:{alert}", {"text": "north note"}, now=now)
        audit(conn, "nina.dsl", "search", "user:north.pupil", {"reason": "north why"}, now=now)
    north = Console(console.school, make_app(cfg, engine, clock), totp, {"north.pupil": alert})
    sign_in(north, "sam.dsl", "/audit")
    return north


def shown(page: str) -> set[int]:
    return {int(n) for n in re.findall(r"· #(\d+)</span>", page)}


def by_site(console: Console) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for site, ident in rows(console.school.app.engine, "SELECT site_id, id FROM audit"):
        found.setdefault(str(site), set()).add(int(ident))
    return found


@pytest.mark.stores
def test_each_school_reads_its_own_trail_only(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two schools in one store, an account named ``sam.dsl`` in each: every role that reads
    the trail in one school sees none of the other's sign-ins, searches and case work, with
    any filter; and the other way round."""
    monkeypatch.setattr(trailpage, "PAGE", 1000)
    searched(console)
    north = north_school(console)
    for who in ("sam.dsl", "dep", "helen.h", "tech"):
        c, _ = sign_in(console, who, "/audit")
        sites = by_site(console)
        for query in ("", "?account=sam.dsl", "?account=nina.dsl", "?kind=sign-ins",
                      "?kind=searches", "?kind=alerts", "?verify=1"):  # fmt: skip
            page = c.get(f"/audit{query}").text
            assert not shown(page) & sites[NORTH], (who, query)
            for text in ("north why", "north note", "north.pupil", "<option>nina.dsl"):
                assert text not in page, (who, query, text)
        page = c.get("/audit").text
        assert shown(page)
        assert "The trail is whole" in c.get("/audit?verify=1").text  # both schools' chain
        if who != "tech":
            assert "why user:alice.p" in page
    c, _ = sign_in(north, "nina.dsl", "/audit")
    page = c.get("/audit").text
    sites = by_site(console)
    assert shown(page) == sites[NORTH] - {max(sites[NORTH])}  # all but this reading's record
    assert "north why" in page
    assert "north note" in page
    assert "alice.p" not in page
    # Each school's readings are recorded as its own.
    readers = rows(
        console.school.app.engine, "SELECT DISTINCT site_id, actor FROM audit WHERE action = :a",
        a="audit.read",
    )  # fmt: skip
    assert {(str(s), str(a)) for s, a in readers} == {
        ("default", "sam.dsl"), ("default", "dep"), ("default", "helen.h"),
        ("default", "tech"), (NORTH, "sam.dsl"), (NORTH, "nina.dsl"),
    }  # fmt: skip
