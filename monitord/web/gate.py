"""The console's door to the accounts core (``monitord.casework.accounts``, ``signin``,
``sessions``): sign in with a password and a TOTP code, find the session a cookie names,
sign out.

A signed-in account becomes a ``Viewer``: the account plus the people on the roster it is
(by user name or email: the core's ``people_of``), which is what the role rules need to keep
an alert about someone away from them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from monitord.casework.accounts import Account, Role, people_of
from monitord.casework.sessions import Limits, check_session, end_session, open_session
from monitord.casework.signin import Outcome, sign_in
from monitord.casework.totpkey import TotpKey, TotpKeyError

log = logging.getLogger("monitord.web")

WRONG = "wrong user name, password or code"
NO_KEY = (
    "the console cannot check two-factor codes: its key file cannot be used (the server's "
    "log says which and why); tell the technician"
)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session: its cookie value (the store keeps only its hash), its CSRF token and
    whose it is."""

    token: str
    csrf: str
    account: Account


class Refused(Exception):
    """A sign-in that fails; ``locked`` when the account or the address is locked out."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.locked = locked


@dataclass(frozen=True, slots=True)
class Gate:
    """Sign-in, sessions and sign-out for the console, on the store ``engine``."""

    engine: Engine
    limits: Limits
    key: TotpKey  # the key the TOTP secrets are encrypted with

    def sign_in(
        self, username: str, password: str, totp: str, address: str, now: datetime
    ) -> SignedIn:
        """A new session for the account, or Refused (the core audits either)."""
        try:
            result = sign_in(self.engine, username, password, totp, address, now, key=self.key)
        except TotpKeyError as exc:
            log.error("%s", exc)
            raise Refused(NO_KEY) from None
        if result.outcome is Outcome.LOCKED:
            minutes = max(1, math.ceil(result.retry_after / 60))
            raise Refused(
                f"locked after repeated failed sign-ins: try again in {minutes} min", locked=True
            )
        if result.account is None:
            raise Refused(WRONG)
        token, session = open_session(self.engine, result.account, address, now, self.limits)
        return SignedIn(token, session.csrf, result.account)

    def session(self, token: str, now: datetime) -> SignedIn | None:
        """The live session the cookie names (its idle time starts again), or None."""
        found = check_session(self.engine, token, now, self.limits)
        return None if found is None else SignedIn(token, found.csrf, found.account)

    def sign_out(self, token: str, now: datetime) -> None:
        end_session(self.engine, token, now)


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in account and the roster people it is (lower-case user names)."""

    account: Account
    people: frozenset[str]

    @property
    def role(self) -> Role:
        return self.account.role

    @property
    def username(self) -> str:
        return self.account.username


def viewer_of(engine: Engine, account: Account) -> Viewer:
    return Viewer(account, people_of(engine, account))
