"""What the alert page shows: the alert and its own events, who it is about and on which
device, what the same person did in the half hour before and after, the mail sent, the
versions of the lists that matched; reading it is recorded as the account; the second
review is offered only to an account that is not the first reviewer."""

from __future__ import annotations

from datetime import timedelta

from monitord.casework import cases
from monitord.casework.accounts import get_account
from monitord.web.alertpage import alert_page
from monitord.web.gate import Viewer, viewer_of
from tests.monitord.web.school import Console


def viewer(console: Console, username: str) -> Viewer:
    account = get_account(console.school.app.engine, username)
    assert account is not None
    return viewer_of(console.school.app.engine, account)


def test_the_alert_with_its_person_device_and_the_events_around_it(console: Console) -> None:
    school = console.school
    alice = console.alert["alice.p"]
    page = alert_page(
        school.app.engine, alice, viewer(console, "dep"), school.cfg.tz, school.clock.now()
    )
    assert page.alert["id"] == alice
    assert [ev["indicator"] for ev in page.events] == ["pornhub.com"]
    assert page.person is not None
    assert (page.person["display_name"], page.person["year_group"]) == ("Alice Pupil", "5")
    assert page.device is not None
    assert page.device["device_id"] == "LAP-ALICE"
    # Her lookups two minutes either side, not the alert's own event.
    assert [ev.domain for ev in page.before] == ["www.bbc.co.uk"]
    assert [ev.domain for ev in page.after] == ["classroom.google.com"]
    assert all(ev.person == "alice.p" for ev in page.before + page.after)
    [mail] = page.mail
    assert mail["recipients"]
    assert f"#{alice}]" in mail["subject"]
    assert list(page.versions) == ["starter/pornography"]
    assert len(page.versions["starter/pornography"]) == 64
    assert page.history[0]["action"] == "alert.create"
    assert "dep" in page.assignable
    assert "helen.h" in page.assignable  # a pupil's alert: the headteacher may see it
    # Reading it is in the audit trail, as the account.
    [view] = school.audit("alert.view")
    assert (view["actor"], view["subject"]) == ("dep", f"alert:{alice}")


def test_an_alert_about_no_one_has_no_day_around_it(console: Console) -> None:
    school = console.school
    page = alert_page(
        school.app.engine,
        console.alert["device"],
        viewer(console, "tech"),
        school.cfg.tz,
        school.clock.now(),
    )
    assert (page.person, page.device) == (None, None)
    assert (page.before, page.after) == ([], [])
    assert page.alert["indicator"] == "aa:bb:cc:dd:ee:ff"


def test_the_second_review_is_offered_to_another_account_only(console: Console) -> None:
    school = console.school
    engine, tz = school.app.engine, school.cfg.tz
    bob = console.alert["bob.s"]

    def offered(username: str) -> tuple[str | None, bool]:
        page = alert_page(engine, bob, viewer(console, username), tz, school.clock.now())
        return page.first_reviewer, page.may_review

    assert offered("dep") == (None, False)  # nobody has handled it yet
    cases.ack(engine, bob, "someone", school.clock.now())  # on the command line, as the roster
    assert offered("sam.dsl") == ("someone", False)  # the DSL's account is that person
    assert offered("dep") == ("someone", True)
    school.clock.advance(timedelta(minutes=5))
    cases.review(engine, bob, "dep", None, school.clock.now())
    assert offered("helen.h") == ("someone", False)  # signed already
