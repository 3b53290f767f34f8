"""Console sessions on a real store: kept by the hash of their token, idle expiry and a
maximum age from ``[web]``, signing out, an account disabled meanwhile, and the CSRF token
each session's writes must carry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from monitord.casework.accounts import Account, Role, add_account, set_disabled
from monitord.casework.sessions import (
    Limits,
    Session,
    check_session,
    csrf_ok,
    end_session,
    limits_of,
    open_session,
)
from monitord.casework.totpkey import TotpKey
from monitord.core.clock import FixedClock
from monitord.settings.config import load_config
from tests.monitord.casework.conftest import FAST, PASSWORD
from tests.stores import dump, rows

pytestmark = pytest.mark.stores
LIMITS = Limits(idle=timedelta(minutes=15), max_age=timedelta(hours=8))


def helen(engine: Engine, key: TotpKey, clock: FixedClock) -> Account:
    made = add_account(
        engine, "helen.h", "dsl", "root", clock.now(), password=PASSWORD, ph=FAST, key=key
    )
    return made.account


def ends(engine: Engine) -> list[tuple[str, str, dict[str, object]]]:
    found = rows(
        engine,
        "SELECT actor, action, detail FROM audit "
        "WHERE action IN ('account.session_end', 'account.sign_out') ORDER BY id",
    )
    return [(a, b, json.loads(d)) for a, b, d in found]


def test_a_session_is_kept_by_its_hash_and_moves_with_each_request(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    account = helen(engine, key, clock)
    token, session = open_session(engine, account, "10.0.0.5", clock.now(), LIMITS)
    assert len(token) >= 43
    assert session.csrf != token
    assert token not in repr(dump(engine))
    clock.advance(timedelta(minutes=10))
    found = check_session(engine, token, clock.now(), LIMITS)
    assert found is not None
    assert (found.username, found.account.role, found.csrf, found.address) == (
        "helen.h",
        account.role,
        session.csrf,
        "10.0.0.5",
    )
    assert (found.created_at, found.last_seen) == (session.created_at, clock.now())
    assert check_session(engine, token + "x", clock.now(), LIMITS) is None
    assert check_session(engine, "", clock.now(), LIMITS) is None


def test_a_session_idle_too_long_ends(engine: Engine, key: TotpKey, clock: FixedClock) -> None:
    token, _ = open_session(engine, helen(engine, key, clock), "10.0.0.5", clock.now(), LIMITS)
    clock.advance(timedelta(minutes=15))
    assert check_session(engine, token, clock.now(), LIMITS) is not None
    clock.advance(timedelta(minutes=15, seconds=1))
    assert check_session(engine, token, clock.now(), LIMITS) is None
    assert ends(engine) == [
        ("helen.h", "account.session_end", {"address": "10.0.0.5", "why": "idle"})
    ]
    assert rows(engine, "SELECT count(*) FROM web_sessions") == [(0,)]


def test_a_busy_session_still_ends_at_its_maximum_age(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    token, _ = open_session(engine, helen(engine, key, clock), "10.0.0.5", clock.now(), LIMITS)
    for _ in range(8 * 6):
        clock.advance(timedelta(minutes=10))
        assert check_session(engine, token, clock.now(), LIMITS) is not None
    clock.advance(timedelta(seconds=1))
    assert check_session(engine, token, clock.now(), LIMITS) is None
    assert ends(engine)[0][2]["why"] == "maximum age"


def test_signing_out_and_disabling_end_sessions(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    account = helen(engine, key, clock)
    first, _ = open_session(engine, account, "10.0.0.5", clock.now(), LIMITS)
    second, _ = open_session(engine, account, "10.0.0.6", clock.now(), LIMITS)
    assert end_session(engine, first, clock.now())
    assert not end_session(engine, first, clock.now())
    assert check_session(engine, first, clock.now(), LIMITS) is None
    assert check_session(engine, second, clock.now(), LIMITS) is not None
    set_disabled(engine, "helen.h", "root", clock.now())
    assert check_session(engine, second, clock.now(), LIMITS) is None
    assert ends(engine) == [("helen.h", "account.sign_out", {"address": "10.0.0.5"})]


def test_stale_sessions_are_cleared_when_new_ones_begin(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    account = helen(engine, key, clock)
    for _ in range(3):
        open_session(engine, account, "10.0.0.5", clock.now(), LIMITS)
    clock.advance(timedelta(hours=1))
    open_session(engine, account, "10.0.0.5", clock.now(), LIMITS)
    assert rows(engine, "SELECT count(*) FROM web_sessions") == [(1,)]


@given(st.text(st.characters(exclude_categories=()), max_size=80) | st.none())
def test_only_the_sessions_own_csrf_token_passes(given_token: str | None) -> None:
    made = datetime(2026, 11, 20, tzinfo=UTC)
    account = Account("a", Role.DSL, "", "", "active", False, True, made, made)
    session = Session(account, "tok-123", made, made, "10.0.0.5")
    assert csrf_ok(session, given_token) is (given_token == "tok-123")
    assert csrf_ok(session, "tok-123")


def test_the_limits_come_from_the_config(tmp_path: Path) -> None:
    path = tmp_path / "monitord.toml"
    path.write_text('[web]\nsession_idle = "5m"\nsession_max = "1h"\n', encoding="utf-8")
    cfg = load_config(path)
    assert limits_of(cfg) == Limits(timedelta(minutes=5), timedelta(hours=1))
