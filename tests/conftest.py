"""Shared fixtures: the real sample data beside the project, and a fresh monitord."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.core.clock import FixedClock
from monitord.service.app import App, open_app
from monitord.service.initdir import init_dir
from monitord.settings.config import Config, load_config
from tests.pgserver import PostgresServer, Unavailable
from tests.stores import use_store

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"
UT1 = SHARED / "data" / "ut1" / "blacklists"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 20, 16, 0, tzinfo=UTC))


STORES = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stores: run once on SQLite and once on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``stores`` run on each store; the rest on SQLite only."""
    if metafunc.definition.get_closest_marker("stores") and "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", STORES)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (see tests/pgserver.py)."""
    try:
        server = PostgresServer()
        server.start()
    except Unavailable as exc:
        if os.environ.get("MONITORD_TEST_POSTGRESQL") == "required":
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def store_kind() -> str:
    """SQLite, unless ``MONITORD_TEST_STORE=postgresql`` runs every test on PostgreSQL."""
    return os.environ.get("MONITORD_TEST_STORE", "sqlite")


def _new_store(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest, *, migrated: bool
) -> Iterator[str]:
    if store_kind == "sqlite":
        yield f"sqlite:///{tmp_path}/store/monitord.db"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.new_database(migrated=migrated)
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a store with no data (opening it makes a SQLite file at the current
    schema), or of a database of its own, at the current schema, on the session's
    PostgreSQL server."""
    yield from _new_store(store_kind, tmp_path, request, migrated=True)


@pytest.fixture
def blank_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a database with no tables at all, of either kind."""
    yield from _new_store(store_kind, tmp_path, request, migrated=False)


@pytest.fixture
def config(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> Config:
    """A config made by ``monitord init`` in a temporary folder (its store on PostgreSQL
    for tests marked ``stores`` in their PostgreSQL run)."""
    path = init_dir(tmp_path / "site")[0]
    if store_kind != "sqlite":
        use_store(path, request.getfixturevalue("store_url"))
    return load_config(path)


@pytest.fixture
def app(config: Config, clock: FixedClock) -> App:
    return open_app(config, clock)
