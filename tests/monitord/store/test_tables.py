"""The store's tables as models: the migrations make exactly them, and what the migrations
make beside them (the text index, partitions, trigram indexes) is told apart."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from monitord.store.database import open_store
from monitord.store.tables import (
    PER_DATABASE_INDEXES,
    TEXT_INDEX,
    EventRow,
    LookupRow,
    include_name,
    is_model_table,
)


@pytest.mark.stores
def test_migrations_describe_the_models(store_url: str) -> None:
    engine = open_store(store_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(context, SQLModel.metadata)
    if engine.dialect.name == "postgresql":
        # A view of two tables there (schema 0027): test_lookuptables checks its columns.
        diff = [d for d in diff if not _of_lookups(d)]
    else:
        # What SQLite's lookups store their query type and empty columns in (schema 0028),
        # the model's columns generated from them: test_lookuptables checks them.
        diff = [d for d in diff if not _packed(d)]
    engine.dispose()
    assert diff == []


def _of_lookups(change: object) -> bool:
    """Whether an Alembic difference is the lookups' table or one of its indexes."""
    if not isinstance(change, tuple) or change[0] not in ("add_table", "add_index"):
        return False
    found = change[1]
    table = found if change[0] == "add_table" else found.table
    return bool(table.name == LookupRow.__tablename__)


def _packed(change: object) -> bool:
    """Whether an Alembic difference is one of SQLite's stored lookups columns."""
    return (
        isinstance(change, tuple)
        and change[0] == "remove_column"
        and change[2] == LookupRow.__tablename__
        and change[3].name in ("qt", "extra")
    )


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("events", True),
        ("alerts", True),
        (TEXT_INDEX, False),
        (f"{TEXT_INDEX}_data", False),
        ("events_p20261119", False),
        ("lookups_p20261119", False),
        ("lookup_parties", True),
        ("events_pending", True),  # not a day partition: no digits after events_p
        ("ix_events_domain_trgm", False),
    ],
)
def test_is_model_table(name: str, model: bool) -> None:
    assert is_model_table(name) is model


def test_include_name_leaves_out_only_what_the_models_cannot_say() -> None:
    for index in PER_DATABASE_INDEXES:
        assert not include_name(index, "index", None)
    assert include_name("ix_events_domain_ts", "index", None)
    assert not include_name("events_p20261119", "table", None)
    assert not include_name("lookups_p20261119", "table", None)
    assert include_name("lookup_parties", "table", None)
    assert include_name("events", "table", None)
    assert include_name(None, "table", None)
    assert include_name("events_p20261119", "column", None)
    assert EventRow.__tablename__ in SQLModel.metadata.tables
