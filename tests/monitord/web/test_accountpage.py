"""The accounts page per role: the technician and the DSL list every account and disable,
enable or reset another's two-factor with the session's CSRF token, recorded as
themselves; no account disables itself; every other role is refused."""

from __future__ import annotations

import pytest

from tests.monitord.web.school import Console
from tests.monitord.web.test_pages import sign_in
from tests.stores import rows


def trail(console: Console, action: str) -> list[tuple[str, str]]:
    found = rows(
        console.school.app.engine,
        "SELECT actor, subject FROM audit WHERE action = :a ORDER BY id",
        a=action,
    )
    return [(str(r[0]), str(r[1])) for r in found]


@pytest.mark.stores
@pytest.mark.parametrize("who", ["tech", "sam.dsl"])
def test_who_lists_and_works_on_the_accounts(console: Console, who: str) -> None:
    c, csrf = sign_in(console, who, "/accounts")
    page = c.get("/accounts").text
    assert '<a href="/accounts">Accounts</a>' in page
    assert "<strong>gov</strong>" in page
    assert "Gina Governor · " in page
    assert "two-factor enrolled" in page
    assert "last signed in " in page  # this account's own sign-in
    assert "monitord users set-role USERNAME ROLE" in page
    # Its own account has no Disable button.
    assert f'action="/accounts/{who}/disable"' not in page
    assert 'action="/accounts/gov/disable"' in page

    r = c.post("/accounts/gov/disable", data={"csrf": csrf})
    assert r.status_code == 200
    assert "gov is disabled; its sessions have ended." in r.text
    assert 'action="/accounts/gov/enable"' in r.text
    r = c.post("/accounts/gov/enable", data={"csrf": csrf})
    assert "gov may sign in again." in r.text
    r = c.post("/accounts/osg/reset-2fa", data={"csrf": csrf})
    assert "osg: two-factor and recovery codes removed" in r.text
    assert "One-time enrolment code" in r.text
    assert trail(console, "account.disable") == [(who, "account:gov")]
    assert trail(console, "account.enable") == [(who, "account:gov")]
    assert trail(console, "account.reset_2fa") == [(who, "account:osg")]


def test_no_account_disables_itself(console: Console) -> None:
    c, csrf = sign_in(console, "tech", "/accounts")
    r = c.post("/accounts/TECH/disable", data={"csrf": csrf})
    assert r.status_code == 409
    assert "an account may not disable itself" in r.text
    assert trail(console, "account.disable") == []
    assert c.get("/accounts").status_code == 200  # still signed in


def test_a_missing_or_wrong_csrf_token_changes_nothing(console: Console) -> None:
    c, _ = sign_in(console, "tech", "/accounts")
    for data in ({}, {"csrf": "forged"}):
        r = c.post("/accounts/gov/disable", data=data)
        assert r.status_code == 403
        assert "security token was missing or wrong" in r.text
    assert trail(console, "account.disable") == []


def test_an_unknown_account_or_action(console: Console) -> None:
    c, csrf = sign_in(console, "sam.dsl", "/accounts")
    r = c.post("/accounts/nobody/disable", data={"csrf": csrf})
    assert r.status_code == 409
    assert "no account nobody" in r.text
    assert c.post("/accounts/gov/set-role", data={"csrf": csrf}).status_code == 404


@pytest.mark.parametrize("who", ["dep", "helen.h", "chair", "osg", "gov"])
def test_other_roles_are_refused(console: Console, who: str) -> None:
    c, csrf = sign_in(console, who, "/accounts", status=403)
    page = c.get("/accounts").text
    assert "Gina Governor" not in page or who == "gov"
    assert '<a href="/accounts">' not in page
    assert c.post("/accounts/gov/disable", data={"csrf": csrf}).status_code == 403
    assert trail(console, "account.disable") == []
