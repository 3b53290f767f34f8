"""The accounts of the staff who act on alerts, in the console or on the command line.

Every human action is done by a named, authenticated account: an account has a role, a
password kept only as an argon2id hash, and a TOTP second factor (RFC 6238: SHA-1, 6 digits,
30-second steps) with ten one-time recovery codes kept as SHA-256 hashes.

Two-factor sign-in is required of every role that can see a named person: the DSL and
deputies (alerts), the headteacher (alerts about staff and pupils), the chair of governors
(alerts about the headteacher) and the technician (devices and who they are assigned to,
unauthorised devices, accounts). The Online Safety Group and governors see only the
anonymous digest and the governors' report; their accounts may add a second factor at
enrolment and then always need it, but are not made to.

An account added without a password waits for its first sign-in (``pending``) with a
one-time enrolment code (valid for ``ENROL_VALID``), with which its holder sets a password
and, for the roles above, scans the TOTP QR code. An account whose role comes to need a
second factor it does not have, or whose second factor is reset, is given a new enrolment
code in the same way. Every change is recorded in the audit trail (subject
``account:NAME``); sign-in itself lives in ``monitord.casework.signin``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import pyotp
import segno
from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update

from monitord.casework.totpkey import TotpKey
from monitord.store.database import audit, mine, site_of, table_of, utc
from monitord.store.tables import (
    AccountRow,
    AlertRow,
    PersonRow,
    RecoveryCodeRow,
    WebSessionRow,
)


class Role(StrEnum):
    DSL = "dsl"
    DEPUTY_DSL = "deputy_dsl"
    HEADTEACHER = "headteacher"
    CHAIR = "chair"
    TECHNICIAN = "technician"
    OSG = "osg"
    GOVERNOR = "governor"


# The roles that see named people, whose accounts must have a second factor.
TWO_FACTOR_ROLES = frozenset(
    {Role.DSL, Role.DEPUTY_DSL, Role.HEADTEACHER, Role.CHAIR, Role.TECHNICIAN}
)
# Alerts about no one's content, which the technician may see and acknowledge.
TECHNICAL_CATEGORIES = frozenset({"unauthorised_device", "monitoring_gap"})

ENROL_VALID = timedelta(days=7)
RECOVERY_CODES = 10
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes any length; a megabyte "password" is only a way to tire it
TOTP_ISSUER = "monitord"

_USERNAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# Codes a person types: no 0/o, 1/l/i to mistake for each other.
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


class AccountError(Exception):
    """A request about an account that cannot be carried out; the message says why."""


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    role: Role
    full_name: str
    email: str
    state: str  # pending (waiting for enrolment) or active
    disabled: bool
    two_factor: bool  # a TOTP secret is enrolled and asked for at every sign-in
    created_at: datetime
    updated_at: datetime

    @property
    def active(self) -> bool:
        """Whether the account can sign in with its password."""
        return self.state == "active" and not self.disabled


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What adding an account gives, shown once: the enrolment code (without a password),
    or the TOTP URI and recovery codes (with one)."""

    account: Account
    enrolment_code: str | None = None
    totp_uri: str | None = None
    recovery_codes: tuple[str, ...] = ()


def hasher() -> PasswordHasher:
    """argon2id with the RFC 9106 low-memory profile (64 MiB, 3 passes, 4 lanes)."""
    return PasswordHasher()


# Each argon2id hash takes 64 MiB: however many sign-ins come at once (the console serves
# dozens of requests together), at most this many hash at a time and the rest wait.
HASHING_AT_ONCE = 4
HASHING = threading.BoundedSemaphore(HASHING_AT_ONCE)


def hash_password(ph: PasswordHasher, password: str) -> str:
    with HASHING:
        return ph.hash(password)


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise AccountError(
            f"role {value[:40]!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None


def normal_username(value: str) -> str | None:
    """A user name as accounts keep it (lower case), or None if it cannot be one."""
    name = value.strip().lower()
    return name if _USERNAME.match(name) else None


def check_username(value: str) -> str:
    name = normal_username(value)
    if name is None:
        raise AccountError(
            f"user name {value[:80]!r}: expected 1 to 64 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit (e.g. the school login, j.smith)"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is too long: at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise AccountError("the password is only spaces")
    try:
        password.encode()
    except UnicodeEncodeError:
        raise AccountError("the password is not text (UTF-8)") from None
    return password


def _check_text(label: str, value: str, pattern: re.Pattern[str] | None = None) -> str:
    value = value.strip()
    if len(value) > 256 or not value.isprintable():
        raise AccountError(f"{label} {value[:80]!r}: at most 256 printable characters")
    if value and pattern is not None and not pattern.match(value):
        raise AccountError(f"{label} {value[:80]!r}: expected an address such as a.b@school.uk")
    return value


def new_code(length: int) -> str:
    """A random code from ``_ALPHABET`` in groups of four, as a person types it."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(length))
    return "-".join(raw[i : i + 4] for i in range(0, length, 4))


def code_hash(username: str, code: str) -> str:
    """The SHA-256 kept for a one-time code (enrolment or recovery): the code is random (80
    bits or more), so a fast hash is enough; the user name keeps equal codes apart."""
    plain = "".join(c for c in code.lower() if c.isalnum())
    return hashlib.sha256(f"{username}\x00{plain}".encode("utf-8", "surrogatepass")).hexdigest()


def totp_uri(secret: str, username: str, school: str = "") -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads (SHA1, 6 digits, 30 s)."""
    label = f"{school} ({username})" if school else username
    return pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=TOTP_ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of a TOTP URI as an inline SVG element, drawn here (nothing fetched)."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=5, border=4, title="TOTP QR code")
    return svg


def account_of(row: Any) -> Account:
    return Account(
        username=str(row.username),
        role=Role(row.role),
        full_name=str(row.full_name),
        email=str(row.email),
        state=str(row.state),
        disabled=bool(row.disabled),
        two_factor=row.totp_secret is not None and row.state == "active",
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


def account_row(conn: Connection, username: str) -> Any:
    """The stored row of this school's account ``username`` (already normal), or None."""
    t = table_of(AccountRow)
    return conn.execute(select(t).where(mine(conn, t.c.site_id), t.c.username == username)).first()


def get_account(engine: Engine, username: str) -> Account | None:
    name = normal_username(username)
    if name is None:
        return None
    with engine.connect() as conn:
        row = account_row(conn, name)
    return None if row is None else account_of(row)


def list_accounts(engine: Engine) -> list[Account]:
    t = table_of(AccountRow)
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(mine(conn, t.c.site_id)).order_by(t.c.username))
        return [account_of(r) for r in rows]


def _existing(conn: Connection, username: str) -> Any:
    name = check_username(username)
    row = account_row(conn, name)
    if row is None:
        raise AccountError(f"no account {name} (monitord users list shows them)")
    return row


def _record(
    conn: Connection,
    actor: str,
    action: str,
    username: str,
    detail: Mapping[str, Any],
    now: datetime,
) -> None:
    audit(conn, actor, action, f"account:{username}", {"site": site_of(conn), **detail}, now=now)


def change_account(conn: Connection, username: str, now: datetime, **values: Any) -> None:
    """Set stored values of this school's account ``username`` (and its updated_at)."""
    t = table_of(AccountRow)
    conn.execute(
        update(t)
        .where(mine(conn, t.c.site_id), t.c.username == username)
        .values(updated_at=now, **values)
    )


def end_sessions(conn: Connection, username: str) -> int:
    """Sign the account out everywhere; returns how many sessions ended."""
    t = table_of(WebSessionRow)
    result = conn.execute(delete(t).where(mine(conn, t.c.site_id), t.c.username == username))
    return max(result.rowcount, 0)


def store_recovery_codes(conn: Connection, username: str, now: datetime) -> tuple[str, ...]:
    """Replace the account's recovery codes with ``RECOVERY_CODES`` new ones, returned once."""
    t = table_of(RecoveryCodeRow)
    conn.execute(delete(t).where(mine(conn, t.c.site_id), t.c.username == username))
    codes = tuple(new_code(16) for _ in range(RECOVERY_CODES))
    site = site_of(conn)
    conn.execute(
        insert(t),
        [
            {"site_id": site, "username": username, "code_hash": code_hash(username, c)}
            | {"created_at": now}
            for c in codes
        ],
    )
    return codes


def _pending(conn: Connection, username: str, now: datetime) -> str:
    """Put the account back to waiting for enrolment: a new one-time code (returned once);
    its second factor, recovery codes and sessions go."""
    code = new_code(20)
    change_account(
        conn,
        username,
        now,
        state="pending",
        totp_secret=None,
        enrol_hash=code_hash(username, code),
        enrol_expires=now + ENROL_VALID,
    )
    rt = table_of(RecoveryCodeRow)
    conn.execute(delete(rt).where(mine(conn, rt.c.site_id), rt.c.username == username))
    end_sessions(conn, username)
    return code


def add_account(
    engine: Engine,
    username: str,
    role: str,
    actor: str,
    now: datetime,
    *,
    full_name: str = "",
    email: str = "",
    password: str | None = None,
    school: str = "",
    ph: PasswordHasher | None = None,
    key: TotpKey | None = None,
) -> NewAccount:
    """Add an account. Without a password it waits for enrolment with the code returned;
    with one it is active at once with a new TOTP secret (its URI returned, for the person
    or script to load into an authenticator; the store keeps it encrypted with ``key``)
    and recovery codes."""
    name = check_username(username)
    the_role = parse_role(role)
    full_name = _check_text("--name", full_name)
    email = _check_text("--email", email, _EMAIL)
    values: dict[str, Any] = {
        "site_id": site_of(engine),
        "username": name,
        "full_name": full_name,
        "email": email,
        "role": the_role.value,
        "totp_step": 0,
        "disabled": False,
        "created_at": now,
        "updated_at": now,
    }
    secret = uri = code = None
    if password is not None:
        if key is None:
            raise TypeError("an account added with a password needs the TOTP key")
        secret = pyotp.random_base32()
        uri = totp_uri(secret, name, school)
        values |= {
            "state": "active",
            "password_hash": hash_password(ph or hasher(), check_password(password)),
        }
    else:
        code = new_code(20)
        values |= {
            "state": "pending",
            "enrol_hash": code_hash(name, code),
            "enrol_expires": now + ENROL_VALID,
        }
    codes: tuple[str, ...] = ()
    with engine.begin() as conn:
        if account_row(conn, name) is not None:
            raise AccountError(f"account {name} already exists")
        if key is not None and secret is not None:
            values["totp_secret"] = key.seal(conn, name, secret)
        conn.execute(insert(table_of(AccountRow)).values(**values))
        if password is not None:
            codes = store_recovery_codes(conn, name, now)
        detail = {"role": the_role.value, "name": full_name, "email": email}
        detail["enrolment"] = "password set" if password is not None else "enrolment code"
        _record(conn, actor, "account.add", name, detail, now)
        row = account_row(conn, name)
    return NewAccount(account_of(row), code, uri, codes)


def set_role(engine: Engine, username: str, role: str, actor: str, now: datetime) -> str | None:
    """Change an account's role; its sessions end (what it may see changed). Returns a new
    enrolment code when the new role needs a second factor the account does not have."""
    the_role = parse_role(role)
    with engine.begin() as conn:
        row = _existing(conn, username)
        before = str(row.role)
        if before == the_role.value:
            raise AccountError(f"account {row.username} is {before} already")
        change_account(conn, row.username, now, role=the_role.value)
        end_sessions(conn, row.username)
        code = None
        if the_role in TWO_FACTOR_ROLES and row.totp_secret is None and row.state == "active":
            code = _pending(conn, row.username, now)
        detail = {"from": before, "to": the_role.value, "enrolment_code": code is not None}
        _record(conn, actor, "account.role", row.username, detail, now)
    return code


def set_disabled(
    engine: Engine, username: str, actor: str, now: datetime, *, disabled: bool = True
) -> None:
    """Disable an account (it cannot sign in; its sessions end at once) or enable it again."""
    with engine.begin() as conn:
        row = _existing(conn, username)
        if bool(row.disabled) == disabled:
            state = "disabled" if disabled else "enabled"
            raise AccountError(f"account {row.username} is {state} already")
        change_account(conn, row.username, now, disabled=disabled)
        ended = end_sessions(conn, row.username)
        action = "account.disable" if disabled else "account.enable"
        _record(conn, actor, action, row.username, {"sessions_ended": ended}, now)


def reset_two_factor(engine: Engine, username: str, actor: str, now: datetime) -> str:
    """For a lost phone: the account's TOTP secret and recovery codes go, and it waits for
    enrolment again with the one-time code returned (its holder sets a password and a new
    second factor with it)."""
    with engine.begin() as conn:
        row = _existing(conn, username)
        code = _pending(conn, row.username, now)
        _record(conn, actor, "account.reset_2fa", row.username, {}, now)
    return code


def renew_recovery_codes(
    engine: Engine, username: str, actor: str, now: datetime
) -> tuple[str, ...]:
    """New recovery codes for an active account (the old ones stop working), shown once."""
    with engine.begin() as conn:
        row = _existing(conn, username)
        if row.state != "active" or row.totp_secret is None:
            raise AccountError(f"account {row.username} has no second factor to recover")
        codes = store_recovery_codes(conn, row.username, now)
        _record(conn, actor, "account.recovery_codes", row.username, {}, now)
    return codes


def people_of(engine: Engine, account: Account) -> frozenset[str]:
    """The roster people an account is (lower case): the person whose user name is the
    account's, and the person whose email is the account's, so that an alert about either
    is kept from it (an account may be named otherwise than the school login)."""
    pt = table_of(PersonRow)
    match = func.lower(pt.c.username) == account.username
    if account.email:
        match = or_(match, func.lower(pt.c.email) == account.email.lower())
    with engine.connect() as conn:
        found = conn.execute(select(pt.c.username).where(mine(conn, pt.c.site_id), match))
        return frozenset({account.username, *(str(n).lower() for n in found.scalars())})


def may_see_alert(
    account: Account,
    person: str | None,
    role: str | None,
    category: str,
    people: frozenset[str] = frozenset(),
) -> bool:
    """Whether the account may see an alert about ``person`` (their roster ``role``) in
    ``category``; ``people``: the roster people the account is (``people_of``). Nobody sees
    an alert about themselves; the DSL and deputies see every other; the headteacher every
    alert not about a headteacher (staff and pupils); the chair of governors those about the
    headteacher; the technician the technical ones (unauthorised devices, monitoring gaps);
    the Online Safety Group and governors none."""
    if person is not None and person.lower() in people | {account.username}:
        return False
    if account.role in (Role.DSL, Role.DEPUTY_DSL):
        return True
    if account.role is Role.HEADTEACHER:
        return role != "headteacher"
    if account.role is Role.CHAIR:
        return role == "headteacher"
    if account.role is Role.TECHNICIAN:
        return category in TECHNICAL_CATEGORIES
    return False


def may_act_on(engine: Engine, account: Account, alert_id: int) -> bool:
    """Case work on this school's alert ``alert_id``: the roles that see it (True when
    there is no such alert: case work then says so itself)."""
    t = table_of(AlertRow)
    with engine.connect() as conn:
        row = conn.execute(
            select(t.c.person, t.c.role, t.c.category).where(
                mine(conn, t.c.site_id), t.c.id == alert_id
            )
        ).first()
    if row is None:
        return True
    people = people_of(engine, account)
    return may_see_alert(account, row.person, row.role, str(row.category), people)
