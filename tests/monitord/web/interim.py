"""Accounts for the console's tests until the accounts core is on this branch."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from monitord.web.gate import Account, Refused, SignedIn

HASHER = PasswordHasher(time_cost=1, memory_cost=8192)


@dataclass
class Interim:
    idle: timedelta = timedelta(minutes=15)
    longest: timedelta = timedelta(hours=8)
    users: dict[str, tuple[str, str, Account]] = field(default_factory=dict)
    failures: list[tuple[str, str, datetime]] = field(default_factory=list)
    sessions: dict[str, tuple[SignedIn, datetime, datetime]] = field(default_factory=dict)

    def add(self, username: str, role: str, password: str, email: str | None = None) -> str:
        secret = pyotp.random_base32()
        self.users[username] = (
            HASHER.hash(password),
            secret,
            Account(username, role, username, email),
        )
        return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="monitord")

    def sign_in(
        self, username: str, password: str, totp: str, address: str, now: datetime
    ) -> SignedIn:
        recent = [f for f in self.failures if now - f[2] < timedelta(minutes=15)]
        if sum(f[0] == username for f in recent) >= 5 or sum(f[1] == address for f in recent) >= 5:
            raise Refused("locked out for 15 minutes after 5 failed sign-ins", locked=True)
        found = self.users.get(username)
        try:
            ok = found is not None and HASHER.verify(found[0], password)
        except VerifyMismatchError:
            ok = False
        if (
            not ok
            or found is None
            or not pyotp.TOTP(found[1]).verify(totp, for_time=now, valid_window=1)
        ):
            self.failures.append((username, address, now))
            raise Refused("wrong user name, password or code")
        session = SignedIn(secrets.token_urlsafe(32), secrets.token_urlsafe(32), found[2])
        self.sessions[session.token] = (session, now, now)
        return session

    def session(self, token: str, now: datetime) -> SignedIn | None:
        found = self.sessions.get(token)
        if found is None:
            return None
        session, started, last = found
        if now - last > self.idle or now - started > self.longest:
            del self.sessions[token]
            return None
        self.sessions[token] = (session, started, now)
        return session

    def sign_out(self, token: str, now: datetime) -> None:
        self.sessions.pop(token, None)
