"""A school for the console's tests: the alert manager's test school (pupils, staff, the
headteacher, their laptops), alerts about each of them and a technical one, and an
account for every role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import insert
from starlette.applications import Starlette

from monitord.casework.accounts import add_account
from monitord.casework.totpkey import TotpKey, key_file
from monitord.core.clock import FixedClock
from monitord.settings.config import Config
from monitord.store.database import audit, inserted_id, table_of
from monitord.store.tables import AlertRow
from monitord.web.app import make_app
from tests.alerting.test_manager import School, at, build_school

PASSWORD = "correct horse battery staple"
# Hashes that take a moment to check, for tests (the first sign-in rehashes as monitord does).
CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
# username -> (role, email, full name): the DSL's account is named differently from the
# roster's ``someone`` and found there by email; the headteacher's has the roster's user name.
ACCOUNTS = {
    "sam.dsl": ("dsl", "sam@school.example", "Sam Someone"),
    "dep": ("deputy_dsl", None, "Priya Shah"),
    "helen.h": ("headteacher", None, "Helen Head"),
    "chair": ("chair", None, "Colin Chair"),
    "tech": ("technician", None, "Tariq Tech"),
    "osg": ("osg", None, "Olive Group"),
    "gov": ("governor", None, "Gina Governor"),
}


@dataclass
class Console:
    school: School
    app: Starlette
    totp: dict[str, pyotp.TOTP]
    alert: dict[str, int]  # person (or "device") -> alert id

    def code(self, username: str) -> str:
        return self.totp[username].at(self.school.clock.now())


def technical_alert(school: School) -> int:
    """An unauthorised device on the network, as the daemon raises it."""
    now = school.clock.now()
    table = table_of(AlertRow)
    with school.app.engine.begin() as conn:
        result = conn.execute(
            insert(table).values(
                group_key="unauthorised_device:aa:bb:cc:dd:ee:ff",
                created_at=now,
                updated_at=now,
                first_seen=now - timedelta(minutes=5),
                last_seen=now - timedelta(minutes=5),
                severity="medium",
                category="unauthorised_device",
                status="open",
                ip="10.0.0.200",
                indicator="aa:bb:cc:dd:ee:ff",
                count=1,
                blocked=False,
                sources='["dhcpd-leases"]',
                recipients='["tech@school.example"]',
                rule="unknown device on the network",
            )
        )
        alert_id = inserted_id(result)
        audit(conn, "monitord", "alert.open", f"alert:{alert_id}", {}, now=now)
    return alert_id


@contextmanager
def console_school(cfg: Config, clock: FixedClock, folder: Path) -> Iterator[Console]:
    with build_school(cfg, clock, folder) as school:
        school.lookups(
            ("alice.p", "www.bbc.co.uk", at(clock, 0)),
            ("alice.p", "pornhub.com", at(clock, 2)),
            ("alice.p", "classroom.google.com", at(clock, 4)),
            ("ben.p", "hotspotshield.com", at(clock, 10)),
            ("bob.s", "pornhub.com", at(clock, 20)),
            ("helen.h", "pornhub.com", at(clock, 21)),
            ("someone", "pornhub.com", at(clock, 22)),
        )
        alerts = {a["person"]: int(a["id"]) for a in school.alerts()}
        alerts["device"] = technical_alert(school)
        totp = {}
        for name, (role, email, full_name) in ACCOUNTS.items():
            made = add_account(
                school.app.engine,
                name,
                role,
                "test",
                clock.now(),
                full_name=full_name,
                email=email or "",
                password=PASSWORD,
                ph=CHEAP,
                key=TotpKey(key_file(cfg)),
            )
            assert made.totp_uri is not None
            otp = pyotp.parse_uri(made.totp_uri)
            assert isinstance(otp, pyotp.TOTP)
            totp[name] = otp
        app = make_app(cfg, school.app.engine, clock)
        yield Console(school, app, totp, alerts)
