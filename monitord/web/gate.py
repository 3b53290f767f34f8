"""What the console needs of the accounts core: sign in, find a session, sign out.

The console speaks to accounts through this one Protocol, so that its pages and API depend
on a small surface. A signed-in account becomes a ``Viewer``: the account plus the people
on the roster it is (by user name, else by email; see ``people_of``), which is what the
role rules need to keep an alert about someone away from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, func, or_, select

from monitord.store.database import mine, table_of
from monitord.store.tables import PersonRow

ROLES = ("dsl", "deputy_dsl", "headteacher", "chair", "technician", "osg", "governor")


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    role: str
    name: str
    email: str | None


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session: its cookie value, its CSRF token and whose it is."""

    token: str
    csrf: str
    account: Account


class Refused(Exception):
    """A sign-in that fails; ``locked`` when the account or the address is locked out."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.locked = locked


class Accounts(Protocol):
    def sign_in(
        self, username: str, password: str, totp: str, address: str, now: datetime
    ) -> SignedIn:
        """A new session for the account, or Refused (audited either way)."""
        ...

    def session(self, token: str, now: datetime) -> SignedIn | None:
        """The live session the cookie names (its idle time starts again), or None."""
        ...

    def sign_out(self, token: str, now: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in account and the roster people it is (lower-case user names)."""

    account: Account
    people: frozenset[str]

    @property
    def role(self) -> str:
        return self.account.role

    @property
    def username(self) -> str:
        return self.account.username


def people_of(engine: Engine, account: Account) -> frozenset[str]:
    """The roster people an account is: the person whose user name is the account's, and
    the person whose email is the account's. Both count, so that an alert about either
    is kept from the account (an account may be named differently from the school login)."""
    pt = table_of(PersonRow)
    match = func.lower(pt.c.username) == account.username.lower()
    if account.email:
        match = or_(match, func.lower(pt.c.email) == account.email.lower())
    with engine.connect() as conn:
        found = conn.execute(select(pt.c.username).where(mine(conn, pt.c.site_id), match))
        return frozenset(str(name).lower() for name in found.scalars())


def viewer_of(engine: Engine, account: Account) -> Viewer:
    return Viewer(account, people_of(engine, account))
