"""The console's signed-in sessions: made after a sign-in, checked on every request.

A session is a random token (256 bits) the browser keeps in a cookie; the store keeps only
its SHA-256, so a copy of the store signs nobody in. A session ends when its account signs
out, after ``[web] session_idle`` without a request, ``session_max`` after it began, or at
once when its account is disabled or changes role. Each session has a CSRF token that every
form and API write must carry; it is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from monitord.casework.accounts import Account, account_of, account_row
from monitord.casework.signin import printable
from monitord.settings.config import Config
from monitord.store.database import audit, mine, site_of, table_of, utc
from monitord.store.tables import WebSessionRow


@dataclass(frozen=True, slots=True)
class Limits:
    """How long a session lasts: without a request (idle), and at most (max_age)."""

    idle: timedelta = timedelta(minutes=15)
    max_age: timedelta = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class Session:
    account: Account
    csrf: str
    created_at: datetime
    last_seen: datetime
    address: str

    @property
    def username(self) -> str:
        return self.account.username


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def open_session(
    engine: Engine, account: Account, address: str, now: datetime, limits: Limits
) -> tuple[str, Session]:
    """A new session for an account that has just signed in: its token (for the cookie,
    returned this once) and the session. Sessions left to expire are cleared away."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    address = printable(address)
    t = table_of(WebSessionRow)
    with engine.begin() as conn:
        stale = (t.c.last_seen < now - limits.idle) | (t.c.created_at < now - limits.max_age)
        conn.execute(delete(t).where(mine(conn, t.c.site_id), stale))
        conn.execute(
            insert(t).values(
                site_id=site_of(conn),
                id_hash=_hash(token),
                username=account.username,
                created_at=now,
                last_seen=now,
                csrf=csrf,
                address=address,
            )
        )
    return token, Session(account, csrf, now, now, address)


def _expired(row: Any, now: datetime, limits: Limits) -> str:
    if now - utc(row.last_seen) > limits.idle:
        return "idle"
    if now - utc(row.created_at) > limits.max_age:
        return "maximum age"
    return ""


def _find(conn: Connection, token: str) -> Any:
    """The stored session of a token, or None."""
    t = table_of(WebSessionRow)
    return conn.execute(
        select(t).where(mine(conn, t.c.site_id), t.c.id_hash == _hash(token))
    ).first()


def _end(conn: Connection, row: Any, action: str, now: datetime, **why: str) -> None:
    t = table_of(WebSessionRow)
    conn.execute(delete(t).where(mine(conn, t.c.site_id), t.c.id_hash == row.id_hash))
    subject = f"account:{row.username}"
    audit(conn, row.username, action, subject, {"address": row.address, **why}, now=now)


def check_session(engine: Engine, token: str, now: datetime, limits: Limits) -> Session | None:
    """The session a cookie's token names, if it is still good (its last request is moved
    to now); None for an unknown, ended or expired one, or one whose account may no longer
    sign in. An expired session is removed and its end recorded."""
    if not token or len(token) > 256:
        return None
    t = table_of(WebSessionRow)
    with engine.begin() as conn:
        row = _find(conn, token)
        if row is None:
            return None
        owner = account_row(conn, row.username)
        why = _expired(row, now, limits)
        if owner is None or owner.disabled or owner.state != "active":
            why = why or "account cannot sign in"
        if why:
            _end(conn, row, "account.session_end", now, why=why)
            return None
        this = (mine(conn, t.c.site_id), t.c.id_hash == row.id_hash)
        conn.execute(update(t).where(*this).values(last_seen=now))
        account = account_of(owner)
    return Session(account, str(row.csrf), utc(row.created_at), now, str(row.address))


def end_session(engine: Engine, token: str, now: datetime) -> bool:
    """Sign out: the session ends; False if there was none."""
    with engine.begin() as conn:
        row = _find(conn, token)
        if row is None:
            return False
        _end(conn, row, "account.sign_out", now)
    return True


def csrf_ok(session: Session, given: str | None) -> bool:
    """Whether a form's or request's CSRF token is the session's (constant time)."""
    if not given:
        return False
    return hmac.compare_digest(session.csrf.encode(), given.encode("utf-8", "replace"))


def limits_of(cfg: Config) -> Limits:
    """The session limits of ``[web]``."""
    return Limits(cfg.settings.web.session_idle, cfg.settings.web.session_max)
