"""Reading and working on alerts for the console: the inbox's filters read from the query
(a bad one named), what needs a person first, a page at a time, only what the account may
see; the second review refused to the first reviewer's account (by its name or as the
roster person it is); an alert given only to an account that may see it."""

from __future__ import annotations

import pytest

from monitord.casework import cases
from monitord.casework.accounts import get_account
from monitord.web import casefile
from monitord.web.casefile import BadInput, Filters, text_of
from monitord.web.gate import Viewer, viewer_of
from tests.monitord.web.school import Console


def viewer(console: Console, username: str) -> Viewer:
    account = get_account(console.school.app.engine, username)
    assert account is not None
    return viewer_of(console.school.app.engine, account)


def test_a_field_is_a_non_empty_string() -> None:
    assert text_of({"text": "Spoke to her"}, "text") == "Spoke to her"
    for data in ({}, {"text": ""}, {"text": "   "}, {"text": 3}, {"text": ["a"]}):
        with pytest.raises(BadInput, match="text is a non-empty string"):
            text_of(data, "text")


def test_the_filters_from_the_query() -> None:
    assert Filters.parse({}) == Filters(status="open")
    assert Filters.parse({"status": "all", "person": " Alice.P ", "severity": ""}) == Filters(
        status=None, person="alice.p"
    )
    day = Filters.parse({"date": "2026-11-20", "year_group": "5", "category": "gambling"})
    assert (str(day.day), day.year_group, day.category) == ("2026-11-20", "5", "gambling")
    for query, field in (
        ({"status": "pending"}, "status"),
        ({"severity": "urgent"}, "severity"),
        ({"date": "20/11/2026"}, "date"),
    ):
        with pytest.raises(BadInput, match=f"^{field} "):
            Filters.parse(query)


def test_the_inbox_most_severe_first_and_only_what_the_account_may_see(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, tz = console.school.app.engine, console.school.cfg.tz
    dsl = casefile.inbox(engine, viewer(console, "sam.dsl"), Filters(), tz)
    ranks = [casefile.SEVERITY_RANK[a["severity"]] for a in dsl.alerts]
    assert ranks == sorted(ranks)
    # Every open alert but the one about the roster person the DSL's account is.
    assert {a["person"] for a in dsl.alerts} == {"alice.p", "ben.p", "bob.s", "helen.h", None}
    assert dsl.total == 5
    head = casefile.inbox(engine, viewer(console, "helen.h"), Filters(), tz)
    assert "helen.h" not in {a["person"] for a in head.alerts}
    tech = casefile.inbox(engine, viewer(console, "tech"), Filters(), tz)
    assert [a["id"] for a in tech.alerts] == [console.alert["device"]]
    assert casefile.technical(tech.alerts[0])
    assert not casefile.technical(dsl.alerts[0])
    only = casefile.inbox(engine, viewer(console, "dep"), Filters(person="alice.p"), tz)
    assert [a["id"] for a in only.alerts] == [console.alert["alice.p"]]

    monkeypatch.setattr(casefile, "PAGE", 4)
    first = casefile.inbox(engine, viewer(console, "dep"), Filters(), tz)
    last = casefile.inbox(engine, viewer(console, "dep"), Filters(), tz, page=9)
    assert (first.total, first.pages, len(first.alerts)) == (6, 2, 4)
    assert (last.page, len(last.alerts)) == (2, 2)  # past the end: the last page
    assert {a["id"] for a in first.alerts}.isdisjoint(a["id"] for a in last.alerts)


def test_who_may_see_an_alert_and_be_given_it(console: Console) -> None:
    engine, now = console.school.app.engine, console.school.clock.now()
    helen = console.alert["helen.h"]
    assert casefile.seen(engine, viewer(console, "chair"), helen)
    assert not casefile.seen(engine, viewer(console, "helen.h"), helen)
    assert not casefile.seen(engine, viewer(console, "dep"), 9999)
    alert = casefile.alert_or_none(engine, helen)
    assert alert is not None
    assert [a.username for a in casefile.assignable(engine, alert)] == ["chair", "dep", "sam.dsl"]
    casefile.assign(engine, helen, viewer(console, "dep"), " Chair ", now)
    [row] = console.school.alerts(id=helen)
    assert row["assignee"] == "chair"
    for who in ("helen.h", "tech", "nobody", ""):
        with pytest.raises(cases.CaseError, match="not an account that can sign in and may see"):
            casefile.assign(engine, helen, viewer(console, "dep"), who, now)
    with pytest.raises(cases.CaseError, match="no alert 9999"):
        casefile.assign(engine, 9999, viewer(console, "dep"), "dep", now)


def test_the_second_review_is_another_accounts(console: Console) -> None:
    engine, now = console.school.app.engine, console.school.clock.now()
    bob = console.alert["bob.s"]
    # Given to the roster person the DSL's account is: that account is the first reviewer.
    cases.assign(engine, bob, "dep", "someone", now)
    with pytest.raises(cases.CaseError, match=r"sam\.dsl is its first reviewer"):
        casefile.second_review(engine, bob, viewer(console, "sam.dsl"), now)
    casefile.second_review(engine, bob, viewer(console, "dep"), now)
    [row] = console.school.alerts(id=bob)
    assert row["reviewer"] == "dep"
    [record] = console.school.audit("alert.review")
    assert record["actor"] == "dep"


def test_the_roster_entries_of_the_people_shown(console: Console) -> None:
    found = casefile.people(console.school.app.engine, {"alice.p", "nobody.here"})
    assert list(found) == ["alice.p"]
    assert found["alice.p"]["display_name"] == "Alice Pupil"
    assert found["alice.p"]["year_group"] == "5"
    assert casefile.people(console.school.app.engine, set()) == {}
