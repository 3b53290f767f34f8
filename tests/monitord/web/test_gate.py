"""The console's door to the accounts core: a password and a TOTP code open a session whose
cookie token and CSRF token are random and the store keeps only a hash of; a wrong one is
refused in the same words whatever was wrong, then locked out; a session ends when signed
out or left idle; a viewer is the account and the roster people it is."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from monitord.casework.accounts import Role, get_account
from monitord.casework.sessions import Limits
from monitord.casework.totpkey import TotpKey, key_file
from monitord.store.database import table_of
from monitord.store.tables import WebSessionRow
from monitord.web.gate import NO_KEY, WRONG, Gate, Refused, viewer_of
from tests.monitord.web.school import PASSWORD, Console

ADDRESS = "192.0.2.10"


def gate(console: Console) -> Gate:
    accounts: Gate = console.app.state.console.accounts
    return accounts


def test_a_password_and_a_code_open_a_session(console: Console) -> None:
    g, now = gate(console), console.school.clock.now()
    first = g.sign_in("dep", PASSWORD, console.code("dep"), ADDRESS, now)
    assert first.account.username == "dep"
    assert first.account.role is Role.DEPUTY_DSL
    assert len(first.token) >= 32
    assert len(first.csrf) >= 32
    # The same code a second time is a replay, refused.
    with pytest.raises(Refused, match=WRONG):
        g.sign_in("dep", PASSWORD, console.code("dep"), ADDRESS, now)
    console.school.clock.advance(timedelta(seconds=30))
    again = g.sign_in("DEP", PASSWORD, console.code("dep"), ADDRESS, console.school.clock.now())
    # Each session its own tokens, neither guessable from the other.
    assert len({first.token, first.csrf, again.token, again.csrf}) == 4
    found = g.session(first.token, now)
    assert found is not None
    assert (found.account.username, found.csrf) == ("dep", first.csrf)
    # The store keeps a hash of the token, never the token (a copy of it opens nothing).
    with console.school.app.engine.connect() as conn:
        stored = [tuple(str(v) for v in r) for r in conn.execute(select(table_of(WebSessionRow)))]
    assert len(stored) == 2
    assert not [r for r in stored if first.token in r or again.token in r]
    assert g.session("not-a-token", now) is None


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        ("dep", "wrong password", None),
        ("dep", PASSWORD, "000000"),
        ("nobody", PASSWORD, "123456"),
        ("gov", "", None),
    ],
)
def test_a_wrong_sign_in_says_the_same_whatever_was_wrong(
    console: Console, username: str, password: str, code: str | None
) -> None:
    now = console.school.clock.now()
    with pytest.raises(Refused) as refused:
        gate(console).sign_in(username, password, code or console.code(username), ADDRESS, now)
    assert str(refused.value) == WRONG
    assert refused.value.locked is False


def test_five_failures_lock_the_account_out(console: Console) -> None:
    g, now = gate(console), console.school.clock.now()
    for _ in range(5):
        with pytest.raises(Refused, match=WRONG):
            g.sign_in("dep", PASSWORD, "000000", ADDRESS, now)
    with pytest.raises(Refused, match=r"locked .* try again in \d+ min") as refused:
        g.sign_in("dep", PASSWORD, console.code("dep"), ADDRESS, now)  # even the right code
    assert refused.value.locked is True


def test_a_session_ends_when_signed_out_or_left_idle(console: Console) -> None:
    g, clock = gate(console), console.school.clock
    now = clock.now()
    out = g.sign_in("dep", PASSWORD, console.code("dep"), ADDRESS, now)
    g.sign_out(out.token, now)
    assert g.session(out.token, now) is None
    clock.advance(timedelta(seconds=30))
    now = clock.now()
    kept = g.sign_in("dep", PASSWORD, console.code("dep"), ADDRESS, now)
    # Each request starts the idle time again; 15 minutes without one ends it.
    assert g.session(kept.token, now + timedelta(minutes=10)) is not None
    assert g.session(kept.token, now + timedelta(minutes=20)) is not None
    assert g.session(kept.token, now + timedelta(minutes=36)) is None


def test_a_viewer_is_the_account_and_the_roster_people_it_is(console: Console) -> None:
    engine = console.school.app.engine
    sam = get_account(engine, "sam.dsl")
    assert sam is not None
    v = viewer_of(engine, sam)
    # Named otherwise than the school login, found on the roster by email.
    assert v.people == frozenset({"sam.dsl", "someone"})
    assert (v.username, v.role) == ("sam.dsl", Role.DSL)
    helen = get_account(engine, "helen.h")
    assert helen is not None
    assert viewer_of(engine, helen).people == frozenset({"helen.h"})


def test_a_totp_key_that_cannot_be_used_is_said_and_logged(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    now = console.school.clock.now()
    missing = key_file(console.school.app.cfg).with_name("elsewhere.key")
    g = Gate(console.school.app.engine, Limits(), TotpKey(missing))
    with (
        caplog.at_level(logging.ERROR, logger="monitord.web"),
        pytest.raises(Refused) as refused,
    ):
        g.sign_in("dep", PASSWORD, console.code("dep"), ADDRESS, now)
    assert str(refused.value) == NO_KEY
    assert refused.value.locked is False
    [record] = caplog.records
    assert str(missing) in record.getMessage()
    # Not the person's failure: it counts toward no lock-out, and the code is still theirs.
    signed = gate(console).sign_in("dep", PASSWORD, console.code("dep"), ADDRESS, now)
    assert signed.account.username == "dep"
