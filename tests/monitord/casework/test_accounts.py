"""Accounts on a real store: adding (with a password or an enrolment code), roles, disabling,
resetting the second factor, what each role may see, and the audit trail of each change."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from monitord.casework.accounts import (
    RECOVERY_CODES,
    Account,
    AccountError,
    Role,
    add_account,
    check_username,
    get_account,
    list_accounts,
    may_see_alert,
    normal_username,
    people_of,
    qr_svg,
    renew_recovery_codes,
    reset_two_factor,
    set_disabled,
    set_role,
)
from monitord.casework.sessions import Limits, check_session, open_session
from monitord.casework.totpkey import TotpKey
from monitord.core.clock import FixedClock
from monitord.store.database import for_site, table_of, verify_audit
from monitord.store.tables import PersonRow
from tests.monitord.casework.conftest import FAST, PASSWORD
from tests.stores import dump, rows

pytestmark = pytest.mark.stores


def trail(engine: Engine) -> list[tuple[str, str, str, dict[str, object]]]:
    """The audit records about accounts: (actor, action, subject, detail)."""
    found = rows(
        engine,
        "SELECT actor, action, subject, detail FROM audit "
        "WHERE subject LIKE 'account:%' ORDER BY id",
    )
    return [(a, b, c, json.loads(d)) for a, b, c, d in found]


def test_an_account_with_a_password_is_active_with_a_second_factor(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    made = add_account(
        engine,
        "Helen.H",
        "dsl",
        "root",
        clock.now(),
        full_name="Helen Hart",
        email="h.hart@school.example",
        password=PASSWORD,
        school="Example Primary",
        ph=FAST,
        key=key,
    )
    a = made.account
    assert (a.username, a.role, a.full_name, a.state, a.two_factor) == (
        "helen.h",
        Role.DSL,
        "Helen Hart",
        "active",
        True,
    )
    assert a.active
    assert made.enrolment_code is None
    # The URI the contract promises: TOTP, SHA1, 6 digits, 30 s.
    assert made.totp_uri is not None
    uri = urlparse(made.totp_uri)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    totp = pyotp.parse_uri(made.totp_uri)
    assert isinstance(totp, pyotp.TOTP)
    assert (totp.digest().name, totp.digits, totp.interval) == ("sha1", 6, 30)
    assert parse_qs(uri.query)["issuer"] == ["monitord"]
    codes = made.recovery_codes
    assert len(set(codes)) == RECOVERY_CODES
    assert all(re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", c) for c in codes)
    # Nothing secret is kept as given: the password as argon2id, the codes as SHA-256.
    stored = repr(dump(engine))
    assert PASSWORD not in stored
    assert not any(c in stored or c.replace("-", "") in stored for c in codes)
    [(hashed,)] = rows(engine, "SELECT password_hash FROM accounts")
    assert hashed.startswith("$argon2id$")
    assert trail(engine) == [
        (
            "root",
            "account.add",
            "account:helen.h",
            {
                "site": "default",
                "role": "dsl",
                "name": "Helen Hart",
                "email": "h.hart@school.example",
                "enrolment": "password set",
            },
        )
    ]
    assert get_account(engine, "HELEN.H ") == a
    assert list_accounts(engine) == [a]


def test_an_account_without_a_password_waits_for_enrolment(
    engine: Engine, clock: FixedClock
) -> None:
    made = add_account(engine, "ben.t", "governor", "root", clock.now())
    assert made.account.state == "pending"
    assert not made.account.active
    assert made.totp_uri is None
    assert made.recovery_codes == ()
    assert made.enrolment_code is not None
    assert re.fullmatch(r"([a-z2-9]{4}-){4}[a-z2-9]{4}", made.enrolment_code)
    assert made.enrolment_code.replace("-", "") not in repr(dump(engine))
    assert trail(engine)[0][3]["enrolment"] == "enrolment code"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "helen h"}, "user name 'helen h': expected"),
        ({"username": ".dot"}, "expected 1 to 64"),
        ({"username": "a" * 65}, "expected 1 to 64"),
        ({"role": "admin"}, "role 'admin' is not one of dsl, deputy_dsl"),
        ({"email": "not-an-address"}, "--email 'not-an-address': expected an address"),
        ({"full_name": "Bad\x1b[31m"}, "--name"),
        ({"password": "short"}, "too short: at least 10"),
        ({"password": "x" * 1025}, "too long"),
    ],
)
def test_mistakes_are_named(
    engine: Engine, key: TotpKey, clock: FixedClock, kwargs: dict[str, str], message: str
) -> None:
    given = {"username": "helen.h", "role": "dsl"} | kwargs
    extra = {k: v for k, v in given.items() if k not in ("username", "role")}
    with pytest.raises(AccountError, match=re.escape(message)):
        add_account(
            engine, given["username"], given["role"], "root", clock.now(), ph=FAST, key=key,
            full_name=extra.get("full_name", ""), email=extra.get("email", ""),
            password=extra.get("password"),
        )  # fmt: skip
    assert list_accounts(engine) == []


def test_an_account_is_added_once(engine: Engine, clock: FixedClock) -> None:
    add_account(engine, "helen.h", "dsl", "root", clock.now())
    with pytest.raises(AccountError, match=r"account helen\.h already exists"):
        add_account(engine, "Helen.H", "osg", "root", clock.now())


def test_each_school_has_its_own_accounts(engine: Engine, clock: FixedClock) -> None:
    north = for_site(engine, "north")
    add_account(north, "helen.h", "dsl", "root", clock.now())
    assert get_account(engine, "helen.h") is None
    add_account(engine, "helen.h", "osg", "root", clock.now())
    assert [a.role for a in list_accounts(north)] == [Role.DSL]
    assert [a.role for a in list_accounts(engine)] == [Role.OSG]


def session_of(engine: Engine, account: Account, clock: FixedClock) -> str:
    token, _ = open_session(engine, account, "10.0.0.5", clock.now(), Limits())
    return token


def test_a_role_change_ends_sessions_and_asks_for_a_second_factor(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    made = add_account(
        engine, "gov.g", "governor", "root", clock.now(), password=PASSWORD, ph=FAST, key=key
    )
    token = session_of(engine, made.account, clock)
    # A governor added with a password has a second factor already: nothing to enrol.
    assert set_role(engine, "gov.g", "chair", "root", clock.now()) is None
    assert check_session(engine, token, clock.now(), Limits()) is None
    with pytest.raises(AccountError, match=r"gov\.g is chair already"):
        set_role(engine, "gov.g", "chair", "root", clock.now())
    with pytest.raises(AccountError, match="no account nobody"):
        set_role(engine, "nobody", "dsl", "root", clock.now())
    [*_, last] = trail(engine)
    assert last[:3] == ("root", "account.role", "account:gov.g")
    assert (last[3]["from"], last[3]["to"]) == ("governor", "chair")


def test_disabling_signs_the_account_out_everywhere(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    made = add_account(
        engine, "helen.h", "dsl", "root", clock.now(), password=PASSWORD, ph=FAST, key=key
    )
    tokens = [session_of(engine, made.account, clock) for _ in range(2)]
    set_disabled(engine, "helen.h", "root", clock.now())
    assert [check_session(engine, t, clock.now(), Limits()) for t in tokens] == [None, None]
    account = get_account(engine, "helen.h")
    assert account is not None
    assert account.disabled
    assert not account.active
    with pytest.raises(AccountError, match="disabled already"):
        set_disabled(engine, "helen.h", "root", clock.now())
    set_disabled(engine, "helen.h", "root", clock.now(), disabled=False)
    actions = [(r[1], r[3].get("sessions_ended")) for r in trail(engine)]
    assert actions == [("account.add", None), ("account.disable", 2), ("account.enable", 0)]


def test_a_reset_second_factor_means_enrolling_again(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    add_account(engine, "helen.h", "dsl", "root", clock.now(), password=PASSWORD, ph=FAST, key=key)
    clock.advance(timedelta(hours=1))
    code = reset_two_factor(engine, "helen.h", "root", clock.now())
    account = get_account(engine, "helen.h")
    assert account is not None
    assert (account.state, account.two_factor, account.updated_at) == (
        "pending",
        False,
        clock.now(),
    )
    assert rows(engine, "SELECT count(*) FROM recovery_codes") == [(0,)]
    assert rows(engine, "SELECT totp_secret FROM accounts") == [(None,)]
    assert len(code) == 24
    with pytest.raises(AccountError, match="no second factor to recover"):
        renew_recovery_codes(engine, "helen.h", "root", clock.now())
    assert trail(engine)[-1][:3] == ("root", "account.reset_2fa", "account:helen.h")


def test_recovery_codes_are_renewed_whole(engine: Engine, key: TotpKey, clock: FixedClock) -> None:
    made = add_account(
        engine, "helen.h", "dsl", "root", clock.now(), password=PASSWORD, ph=FAST, key=key
    )
    codes = renew_recovery_codes(engine, "helen.h", "helen.h", clock.now())
    assert len(codes) == RECOVERY_CODES
    assert not set(codes) & set(made.recovery_codes)
    assert rows(engine, "SELECT count(*) FROM recovery_codes") == [(RECOVERY_CODES,)]
    with engine.connect() as conn:
        assert verify_audit(conn) == (2, None)


def account(role: Role, username: str = "me") -> Account:
    made = datetime(2026, 11, 20, tzinfo=UTC)
    return Account(username, role, "", "", "active", False, True, made, made)


# (alert's person, their roster role, category) -> the roles that see it
SEES = {
    ("amy.p", "pupil", "pornography"): {"dsl", "deputy_dsl", "headteacher"},
    ("mr.s", "staff", "gambling"): {"dsl", "deputy_dsl", "headteacher"},
    ("head", "headteacher", "gambling"): {"dsl", "deputy_dsl", "chair"},
    (None, None, "unauthorised_device"): {"dsl", "deputy_dsl", "headteacher", "technician"},
    ("me", "staff", "gambling"): set(),  # nobody sees an alert about themselves
    ("Me.Myself", "staff", "gambling"): set(),  # nor about the roster person they are
}


@pytest.mark.parametrize("alert", list(SEES))
def test_what_each_role_may_see(alert: tuple[str | None, str | None, str]) -> None:
    people = frozenset({"me.myself"})
    seen = {r.value for r in Role if may_see_alert(account(r), *alert, people)}
    assert seen == SEES[alert]


def test_the_roster_people_an_account_is(engine: Engine, clock: FixedClock) -> None:
    north = for_site(engine, "north")
    with engine.begin() as conn:
        for site, name, email in (
            ("default", "jo.smith", "j.smith@school.example"),
            ("default", "J.Smith", None),
            ("default", "other", None),
            ("north", "jsmith", "j.smith@school.example"),
        ):
            conn.execute(
                insert(table_of(PersonRow)).values(
                    site_id=site,
                    username=name,
                    display_name=name,
                    role="staff",
                    email=email,
                    updated_at=clock.now(),
                )
            )
    made = add_account(
        engine, "j.smith", "dsl", "root", clock.now(), email="J.Smith@school.example"
    )
    assert people_of(engine, made.account) == {"j.smith", "jo.smith"}
    assert people_of(north, made.account) == {"j.smith", "jsmith"}


def test_the_qr_code_is_drawn_here() -> None:
    svg = qr_svg("otpauth://totp/monitord:x?secret=JBSWY3DPEHPK3PXP&issuer=monitord")
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "<path" in svg
    assert "<script" not in svg
    assert "href" not in svg


@given(st.text(max_size=80))
@settings(max_examples=300)
def test_hostile_user_names_are_refused_or_kept_plain(text: str) -> None:
    name = normal_username(text)
    if name is None:
        with pytest.raises(AccountError) as info:
            check_username(text)
        assert "\n" not in str(info.value)
    else:
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}[a-z0-9]|[a-z0-9]", name)
        assert check_username(text) == name == text.strip().lower()
