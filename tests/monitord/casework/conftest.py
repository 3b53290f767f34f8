"""Accounts on a real store of either kind, and a cheap argon2id for the many sign-ins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine

from monitord.store.database import open_store

# The same algorithm with little memory and one pass: the tests sign in many times.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "correct horse battery"


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_store(store_url)
    yield engine
    engine.dispose()
