"""The lookups' tables as the store makes them: no index on a lookup's id, the blocks
found by file, a verdict once a set of matches."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from monitord.store.database import open_store
from monitord.store.lookuptables import (
    LookupRequestRow,
    LookupRow,
    LookupUrlRow,
    LookupVerdictRow,
    RawBlockRow,
)
from monitord.store.tables import LookupRow as FromTables

pytestmark = pytest.mark.stores


def test_a_lookups_id_is_not_indexed_and_blocks_are_found_by_file(
    store_url: str, store_kind: str
) -> None:
    engine = open_store(store_url)
    seen = inspect(engine)
    indexes = {tuple(i["column_names"]) for i in seen.get_indexes(LookupRow.__tablename__)}
    # (verdict, ts) holds only the lookups with a verdict (schema 0022); on PostgreSQL a
    # day's partition holds its lookups by party, name and verdict alone (schema 0024).
    # (url, ts), url alone on PostgreSQL: the proxy requests only (schema 0025).
    if store_kind == "sqlite":
        assert indexes == {
            ("party", "ts"),
            ("name", "ts"),
            ("ts",),
            ("verdict", "ts"),
            ("url", "ts"),
        }
    else:
        assert indexes == {("party",), ("name",), ("ts",), ("verdict",), ("url",)}
    assert seen.get_pk_constraint(LookupRow.__tablename__)["constrained_columns"] == []
    blocks = {tuple(i["column_names"]) for i in seen.get_indexes(RawBlockRow.__tablename__)}
    assert ("file_id",) in blocks
    for model in (LookupVerdictRow, LookupRequestRow, LookupUrlRow):
        unique = seen.get_unique_constraints(model.__tablename__)
        assert [u["column_names"] for u in unique] == [["digest"]]
    engine.dispose()


def test_the_store_tables_module_gives_the_same_models() -> None:
    assert FromTables is LookupRow
