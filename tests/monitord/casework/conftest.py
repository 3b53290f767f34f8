"""What the case-work tests share: accounts on a real store of either kind with a cheap
argon2id for the many sign-ins, and the school of the case-work and evidence tests (pupils,
staff and a child-abuse list, built through the real pipeline)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine

from monitord.casework.totpkey import TotpKey
from monitord.core.clock import FixedClock
from monitord.settings.config import Config
from monitord.store.database import open_store
from tests.alerting.test_manager import School, add_child_abuse_list, build_school

# The same algorithm with little memory and one pass: the tests sign in many times.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "correct horse battery"


@pytest.fixture
def key(tmp_path: Path) -> TotpKey:
    """The key of the accounts' TOTP secrets: made, in a folder of its own, when the first
    secret is kept."""
    return TotpKey(tmp_path / "keys" / "totp.key")


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_store(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def school(config: Config, clock: FixedClock, tmp_path: Path) -> Iterator[School]:
    with build_school(config, clock, tmp_path) as s:
        add_child_abuse_list(s, clock, tmp_path)
        yield s
