"""Signing in: the password, the second factor, enrolment, and lock-out.

The answer to a sign-in is ``ok``, ``failed`` or ``locked``, and nothing more: an unknown
user name, a disabled or pending account, a wrong password and a wrong code all give
``failed``, after the same work (the password is checked against a stand-in hash when there
is no account), so that the answer tells nobody which names exist.

Lock-out: once a user name, or an address, has failed ``LOCK_AFTER`` times within
``LOCK_WINDOW`` (a user name's count starting again after a sign-in that succeeded), every
attempt from it is ``locked`` without a check, until the oldest of those failures is
``LOCK_WINDOW`` old (``retry_after`` says how many seconds that is). Unknown names are
counted the same as known ones.

A TOTP code is accepted for the time step before, at and after now (±30 s), and never twice:
the account keeps the last step accepted, and a code of that step or an earlier one is
refused. A recovery code works once in place of a TOTP code.

Every sign-in, failure, lock-out and enrolment is recorded in the audit trail under the
user name given (subject ``account:NAME``), with the address it came from.
"""

from __future__ import annotations

import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from monitord.casework.accounts import (
    HASHING,
    MAX_PASSWORD,
    TWO_FACTOR_ROLES,
    Account,
    Role,
    account_of,
    account_row,
    change_account,
    check_password,
    code_hash,
    hash_password,
    hasher,
    normal_username,
    qr_svg,
    store_recovery_codes,
    totp_uri,
)
from monitord.casework.totpkey import TotpKey
from monitord.store.database import audit, mine, site_of, table_of, utc
from monitord.store.tables import AccountRow, RecoveryCodeRow, SignInAttemptRow

LOCK_AFTER = 5
LOCK_WINDOW = timedelta(minutes=15)
KEEP_ATTEMPTS = timedelta(days=30)  # attempts older than this are removed as new ones come
STEP = 30  # seconds of a TOTP time step
_DUMMY_SECRET = pyotp.random_base32()
_STAND_INS: dict[tuple[int, int, int], str] = {}


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class SignIn:
    outcome: Outcome
    account: Account | None = None
    retry_after: int = 0  # seconds until a locked name or address may try again
    recovery_codes_left: int | None = None  # when a recovery code was used

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True, slots=True)
class Enrolment:
    """The first step of enrolment: the TOTP secret to scan, as a URI and a QR code."""

    outcome: Outcome
    account: Account | None = None
    totp_uri: str = ""
    qr_svg: str = ""
    two_factor_required: bool = True
    retry_after: int = 0


@dataclass(frozen=True, slots=True)
class Enrolled:
    """The last step: the account is active; its recovery codes are shown this once."""

    outcome: Outcome
    account: Account | None = None
    recovery_codes: tuple[str, ...] = ()
    retry_after: int = 0


def printable(value: str, limit: int = 64) -> str:
    """A name or address as given, fit to store and show: its first ``limit`` characters,
    anything unprintable as '?'."""
    return "".join(c if c.isprintable() else "?" for c in value.strip()[:limit])


def _stand_in(ph: PasswordHasher) -> str:
    """A hash to check a password against when there is no account (same work, no match)."""
    key = (ph.time_cost, ph.memory_cost, ph.parallelism)
    if key not in _STAND_INS:
        _STAND_INS[key] = hash_password(ph, secrets.token_hex(16))
    return _STAND_INS[key]


def _password_ok(ph: PasswordHasher, stored: str | None, password: str) -> bool:
    plain = password[:MAX_PASSWORD].encode("utf-8", "surrogatepass")
    against = stored or _stand_in(ph)
    try:
        with HASHING:
            return ph.verify(against, plain) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def totp_step(secret: str | None, code: str, now: datetime, after: int) -> int | None:
    """The time step ``code`` is the TOTP code of, within one step of now and later than
    ``after`` (the last step accepted); None if it is not one."""
    given = code.strip().replace(" ", "").encode("utf-8", "replace")
    totp = pyotp.TOTP(secret or _DUMMY_SECRET)
    here = int(now.timestamp()) // STEP
    found = None
    for step in (here - 1, here, here + 1):
        if hmac.compare_digest(totp.generate_otp(step).encode(), given) and step > after:
            found = step
    return found if secret is not None else None


def _recent(conn: Connection, column: str, value: str, since: datetime) -> list[datetime]:
    t = table_of(SignInAttemptRow)
    query = (
        select(t.c.ts)
        .where(mine(conn, t.c.site_id), t.c[column] == value, t.c.ts > since)
        .where(t.c.outcome == Outcome.FAILED.value)
        .order_by(t.c.ts.desc())
        .limit(LOCK_AFTER)
    )
    return [utc(ts) for ts in conn.execute(query).scalars()]


def _last_ok(conn: Connection, name: str) -> datetime | None:
    """When ``name`` last signed in."""
    t = table_of(SignInAttemptRow)
    last = conn.execute(
        select(func.max(t.c.ts)).where(
            mine(conn, t.c.site_id), t.c.username == name, t.c.outcome == Outcome.OK.value
        )
    ).scalar()
    return utc(last) if last else None


def locked_for(conn: Connection, name: str, address: str, now: datetime) -> tuple[int, str]:
    """Seconds until ``name`` and ``address`` may try again (0 if neither is locked), and
    which is locked: ``account`` or ``address``."""
    since = now - LOCK_WINDOW
    last_ok = _last_ok(conn, name)
    wait, by = 0.0, ""
    for column, value, start in (
        ("username", name, max(since, last_ok) if last_ok else since),
        ("address", address, since),
    ):
        failures = _recent(conn, column, value, start)
        left = (failures[-1] + LOCK_WINDOW - now).total_seconds() if failures else 0.0
        if len(failures) >= LOCK_AFTER and left > wait:
            wait, by = left, "account" if column == "username" else "address"
    return (math.ceil(wait), by) if wait > 0 else (0, "")


@dataclass(frozen=True, slots=True)
class Standing:
    """An account's sign-ins as its list shows them: the last that succeeded, and until
    when the account itself is locked out (None if it is not)."""

    last_sign_in: datetime | None
    locked_until: datetime | None


def standing(engine: Engine, name: str, now: datetime) -> Standing:
    with engine.connect() as conn:
        last_ok = _last_ok(conn, name)
        wait, by = locked_for(conn, name, "", now)
    return Standing(last_ok, now + timedelta(seconds=wait) if by == "account" else None)


def _attempt(conn: Connection, name: str, address: str, now: datetime, outcome: Outcome) -> None:
    t = table_of(SignInAttemptRow)
    conn.execute(delete(t).where(mine(conn, t.c.site_id), t.c.ts < now - KEEP_ATTEMPTS))
    conn.execute(
        insert(t).values(
            site_id=site_of(conn), username=name, address=address, ts=now, outcome=outcome.value
        )
    )


def _failed(
    engine: Engine, name: str, address: str, now: datetime, action: str, detail: dict[str, Any]
) -> None:
    """Record a failure, and the lock-out it brings about if it is the one that does."""
    subject = f"account:{name}"
    with engine.begin() as conn:
        _attempt(conn, name, address, now, Outcome.FAILED)
        audit(conn, name, action, subject, {"address": address, **detail}, now=now)
        wait, by = locked_for(conn, name, address, now)
        if wait:
            lock = {"address": address, "by": by, "seconds": wait}
            audit(conn, name, "account.locked", subject, lock, now=now)


def _locked(engine: Engine, name: str, address: str, now: datetime) -> int:
    with engine.begin() as conn:
        wait, _ = locked_for(conn, name, address, now)
        if wait:
            _attempt(conn, name, address, now, Outcome.LOCKED)
    return wait


def _recovery(conn: Connection, username: str, code: str, now: datetime) -> int | None:
    """Use a recovery code: the number left after it, or None if it is not one."""
    t = table_of(RecoveryCodeRow)
    used = conn.execute(
        update(t)
        .where(mine(conn, t.c.site_id), t.c.username == username)
        .where(t.c.code_hash == code_hash(username, code), t.c.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:
        return None
    left = conn.execute(
        select(func.count())
        .select_from(t)
        .where(mine(conn, t.c.site_id), t.c.username == username, t.c.used_at.is_(None))
    ).scalar()
    return int(left or 0)


def sign_in(
    engine: Engine,
    username: str,
    password: str,
    code: str,
    address: str,
    now: datetime,
    *,
    key: TotpKey,
    ph: PasswordHasher | None = None,
) -> SignIn:
    """Check a sign-in to the console: the password, and the TOTP or a recovery code
    (the secret decrypted with ``key``)."""
    return _check(engine, username, password, code, address, now, "web", ph or hasher(), key)


def confirm_code(
    engine: Engine, username: str, code: str, address: str, now: datetime, *, key: TotpKey
) -> SignIn:
    """Check an account's TOTP or recovery code alone: the command line on the server, where
    whoever runs monitord can read its store already, names the account it acts as with
    ``--as`` and proves it with the second factor (an account without one cannot)."""
    return _check(engine, username, None, code, address, now, "cli", hasher(), key)


def _check(
    engine: Engine,
    username: str,
    password: str | None,
    code: str,
    address: str,
    now: datetime,
    via: str,
    ph: PasswordHasher,
    key: TotpKey,
) -> SignIn:
    known = normal_username(username)
    name = known or printable(username).lower()
    address = printable(address)
    wait = _locked(engine, name, address, now)
    if wait:
        return SignIn(Outcome.LOCKED, retry_after=wait)
    row: Any = None
    if known:
        with engine.connect() as conn:
            row = account_row(conn, known)
    usable = row is not None and row.state == "active" and not row.disabled
    secret = key.open(engine, name, row.totp_secret) if usable else None
    stored = row.password_hash if usable else None
    password_ok = password is None or _password_ok(ph, stored, password)
    step = totp_step(secret, code, now, int(row.totp_step) if usable else 0)
    reason = _refusal(row, password_ok, secret, password is None)
    detail = {"via": via, "address": address}
    if not reason:
        with engine.begin() as conn:
            signed = _accept(conn, name, secret, code, step, now, detail)
            if signed is not None and stored and password and ph.check_needs_rehash(stored):
                change_account(conn, name, now, password_hash=hash_password(ph, password))
        if signed is not None:
            return signed
        reason = "code used before" if totp_step(secret, code, now, -1) else "code"
    _failed(engine, name, address, now, "account.sign_in_failed", detail | {"reason": reason})
    return SignIn(Outcome.FAILED)


def _refusal(row: Any, password_ok: bool, secret: str | None, no_password: bool) -> str:
    """Why a sign-in fails before its code is taken, or "" if it does not."""
    if row is None:
        return "unknown account"
    if row.disabled:
        return "disabled"
    if row.state != "active":
        return "not enrolled"
    if not password_ok:
        return "password"
    if secret is None and (no_password or Role(row.role) in TWO_FACTOR_ROLES):
        return "no second factor"
    return ""


def _accept(
    conn: Connection,
    name: str,
    secret: str | None,
    code: str,
    step: int | None,
    now: datetime,
    detail: dict[str, Any],
) -> SignIn | None:
    """Take the code (a TOTP step not taken before, else a recovery code not used) and
    record the sign-in; None if the code is neither."""
    left = None
    if secret is None:
        factor = "none"
    elif step is not None and _take_step(conn, name, step):
        factor = "totp"
    else:
        left = _recovery(conn, name, code, now)
        if left is None:
            return None
        factor = "recovery code"
    _attempt(conn, name, detail["address"], now, Outcome.OK)
    detail = detail | {"factor": factor}
    if left is not None:
        detail["recovery_codes_left"] = left
    audit(conn, name, "account.sign_in", f"account:{name}", detail, now=now)
    return SignIn(Outcome.OK, account_of(account_row(conn, name)), recovery_codes_left=left)


def _take_step(conn: Connection, username: str, step: int) -> bool:
    """Keep ``step`` as the last accepted, unless it (or a later one) was accepted already."""
    t = table_of(AccountRow)
    taken = conn.execute(
        update(t)
        .where(mine(conn, t.c.site_id), t.c.username == username, t.c.totp_step < step)
        .values(totp_step=step)
    )
    return taken.rowcount == 1


def _enrolling(
    engine: Engine, username: str, code: str, address: str, now: datetime
) -> tuple[str, Any, int]:
    """The pending account a valid enrolment code is for: (name, row or None, lock wait)."""
    name = normal_username(username) or printable(username).lower()
    wait = _locked(engine, name, printable(address), now)
    if wait:
        return name, None, wait
    row: Any = None
    if normal_username(username):
        with engine.connect() as conn:
            row = account_row(conn, name)
    given = code_hash(name, code)
    expected = row.enrol_hash if row is not None and row.enrol_hash else code_hash("", "")
    valid = (
        row is not None
        and hmac.compare_digest(given, expected)
        and row.state == "pending"
        and not row.disabled
        and row.enrol_expires is not None
        and utc(row.enrol_expires) > now
    )
    if not valid:
        reason = "unknown account" if row is None else "enrolment code"
        _failed(engine, name, printable(address), now, "account.enrol_failed", {"reason": reason})
        return name, None, 0
    return name, row, 0


def begin_enrolment(
    engine: Engine,
    username: str,
    code: str,
    address: str,
    now: datetime,
    *,
    key: TotpKey,
    school: str = "",
) -> Enrolment:
    """The first sign-in of a pending account, with its one-time enrolment code: a new TOTP
    secret is kept for it (encrypted with ``key``) and returned to be scanned (as a URI and
    a QR code)."""
    name, row, wait = _enrolling(engine, username, code, address, now)
    if row is None:
        return Enrolment(Outcome.LOCKED if wait else Outcome.FAILED, retry_after=wait)
    secret = pyotp.random_base32()
    with engine.begin() as conn:
        change_account(conn, name, now, totp_secret=key.seal(conn, name, secret))
        account = account_of(account_row(conn, name))
    uri = totp_uri(secret, name, school)
    required = account.role in TWO_FACTOR_ROLES
    return Enrolment(Outcome.OK, account, uri, qr_svg(uri), required)


def finish_enrolment(
    engine: Engine,
    username: str,
    code: str,
    password: str,
    totp_code: str,
    address: str,
    now: datetime,
    *,
    key: TotpKey,
    ph: PasswordHasher | None = None,
) -> Enrolled:
    """Set the password and confirm the second factor with a code from the app (a role that
    does not need one may give no code, and then has none). AccountError for a password too
    short or too long, before anything is kept."""
    ph = ph or hasher()
    name, row, wait = _enrolling(engine, username, code, address, now)
    if row is None:
        return Enrolled(Outcome.LOCKED if wait else Outcome.FAILED, retry_after=wait)
    check_password(password)
    required = Role(row.role) in TWO_FACTOR_ROLES
    kept = row.totp_secret if (required or totp_code.strip()) else None
    secret = key.open(engine, name, kept)
    step = totp_step(secret, totp_code, now, int(row.totp_step)) if secret else 0
    if step is None or (required and secret is None):
        reason = "code" if secret else "no second factor"
        _failed(engine, name, printable(address), now, "account.enrol_failed", {"reason": reason})
        return Enrolled(Outcome.FAILED)
    codes: tuple[str, ...] = ()
    with engine.begin() as conn:
        change_account(
            conn,
            name,
            now,
            state="active",
            password_hash=hash_password(ph, password),
            totp_secret=kept,
            totp_step=step,
            enrol_hash=None,
            enrol_expires=None,
        )
        if secret is not None:
            codes = store_recovery_codes(conn, name, now)
        _attempt(conn, name, printable(address), now, Outcome.OK)
        detail = {"address": printable(address), "two_factor": secret is not None}
        audit(conn, name, "account.enrol", f"account:{name}", detail, now=now)
        account = account_of(account_row(conn, name))
    return Enrolled(Outcome.OK, account, codes)
