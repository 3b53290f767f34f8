"""The lookups' tables as the store makes them: no index on a lookup's id, the blocks
found by file, a verdict once a set of matches."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from monitord.store.database import _alembic_config, make_engine, open_store, upgrade
from monitord.store.lookuptables import (
    LookupRequestRow,
    LookupRow,
    LookupUrlRow,
    LookupVerdictRow,
    RawBlockRow,
)
from monitord.store.partitions import LOOKUP_KINDS, create_partition, day_of_micros
from monitord.store.tables import LookupRow as FromTables

pytestmark = pytest.mark.stores


def test_a_lookups_id_is_not_indexed_and_blocks_are_found_by_file(
    store_url: str, store_kind: str
) -> None:
    engine = open_store(store_url)
    seen = inspect(engine)
    # On PostgreSQL (schema 0027) ``lookups`` is a view of a narrow table (DNS lookups) and
    # a wide one (proxy requests and the rest), indexed alike.
    tables = [LookupRow.__tablename__] if store_kind == "sqlite" else list(LOOKUP_KINDS)
    for table in tables:
        _indexes_and_no_key(seen, table, store_kind)
    blocks = {tuple(i["column_names"]) for i in seen.get_indexes(RawBlockRow.__tablename__)}
    assert ("file_id",) in blocks
    for model in (LookupVerdictRow, LookupRequestRow, LookupUrlRow):
        unique = seen.get_unique_constraints(model.__tablename__)
        assert [u["column_names"] for u in unique] == [["digest"]]
    engine.dispose()


def _indexes_and_no_key(seen: Any, table: str, store_kind: str) -> None:
    indexes = {tuple(i["column_names"]) for i in seen.get_indexes(table)}
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
        url = {("url",)} if table == LOOKUP_KINDS[1] else set()
        assert indexes == {("party",), ("name",), ("ts",), ("verdict",), *url}
    assert seen.get_pk_constraint(table)["constrained_columns"] == []


def test_postgresqls_view_of_lookups_has_the_models_columns(
    store_url: str, store_kind: str
) -> None:
    if store_kind != "postgresql":
        pytest.skip("SQLite keeps lookups in one table (the models' comparison checks it)")
    engine = open_store(store_url)
    found = inspect(engine).get_columns(LookupRow.__tablename__)
    engine.dispose()
    model = LookupRow.__table__.columns  # type: ignore[attr-defined]
    assert {c["name"] for c in found} == {c.name for c in model}
    types = {c["name"]: type(c["type"]).__name__ for c in found}
    assert types["id"] == "BYTEA"
    assert types["offset"] == types["ts"] == "BIGINT"


def test_the_store_tables_module_gives_the_same_models() -> None:
    assert FromTables is LookupRow


# Rows as schema 0026 held them (its columns, in order), each of a kind 0027 places apart on
# PostgreSQL: "A", "AAAA" with a verdict, no query type, an empty one, a line beyond 2 GiB
# in its file, a proxy request; over two days.
_DAY = 86_400_000_000
_ROWS = [
    (1_795_000_000_000_000, 10, None, 1, 1, 1, None, None, None, "A", bytes(range(16))),
    (1_795_000_000_000_001, 20, None, 1, 2, 1, 1, None, None, "AAAA", b"\x01" * 16),
    (1_795_000_000_000_002, 30, None, 1, 1, 2, None, None, None, None, b"\x02" * 16),
    (1_795_000_000_000_003, 40, None, 1, 1, 2, None, None, None, "", b"\x03" * 16),
    (1_795_000_000_000_004, 3_000_000_000, None, 2, 1, 1, None, None, None, "A", b"\x04" * 16),
    (1_795_000_000_000_005 + _DAY, 60, 512, 3, 3, 3, 1, 1, 1, None, b"\x05" * 16),
    # SQLite packs these apart from 0028: "HTTPS" as a number, a query type "1" as its text,
    # a proxy request with some of its numbers empty.
    (1_795_000_000_000_006 + _DAY, 70, None, 3, 3, 3, 2, None, None, "HTTPS", b"\x06" * 16),
    (1_795_000_000_000_007 + _DAY, 80, None, 3, 3, 3, None, None, None, "1", b"\x07" * 16),
    (1_795_000_000_000_008 + _DAY, 90, 0, 3, 3, 3, None, None, 7, "A", b"\x08" * 16),
]


def test_a_store_at_0026_upgrades_and_reads_the_same_rows_down_and_up_again(
    blank_url: str, store_kind: str
) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0026")
    columns = 'ts, "offset", size, block, name, party, verdict, request, url, qtype, id'
    with engine.begin() as conn:
        if store_kind == "postgresql":
            for n in sorted({ts // _DAY for ts, *_ in _ROWS}):
                create_partition(conn, day_of_micros(n * _DAY), "lookups")
        marks = ", ".join(f":c{i}" for i in range(11))
        conn.execute(
            text(f"INSERT INTO lookups ({columns}) VALUES ({marks})"),
            [{f"c{i}": v for i, v in enumerate(r)} for r in _ROWS],
        )
    read = text(f"SELECT {columns} FROM lookups ORDER BY ts")

    def stored() -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            found = conn.execute(read)
            return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in found]

    assert stored() == _ROWS
    upgrade(engine)
    assert stored() == _ROWS
    if store_kind == "sqlite":
        with engine.connect() as conn:
            packed = conn.execute(text("SELECT qt, extra FROM lookups ORDER BY ts")).all()
        assert [tuple(r) for r in packed] == [
            (1, None),
            (2, 1),
            (None, None),
            ("", None),
            (1, None),
            (None, "1/1:1;512"),
            (3, 2),
            ("1", None),
            (1, "/:7;0"),
        ]
    if store_kind == "postgresql":
        with engine.connect() as conn:
            counts = [
                conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in LOOKUP_KINDS
            ]
        assert counts == [5, 4]  # "A", "AAAA", "HTTPS", "1" and none narrow
    downgrade(engine, "0026")
    assert stored() == _ROWS
    upgrade(engine)
    assert stored() == _ROWS
    engine.dispose()


def downgrade(engine: Engine, target: str) -> None:
    cfg = _alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, target)
