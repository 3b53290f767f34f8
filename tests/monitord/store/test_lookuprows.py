"""Each kind of lookup row goes to the table that can hold it and reads back as written."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from sqlalchemy import text

from monitord.store.database import open_store
from monitord.store.lookuprows import COLUMNS, QTYPE_CODES, insert_rows, narrow_copy, tables_for
from monitord.store.partitions import LOOKUP_KINDS, day_of_micros, ensure_days

pytestmark = pytest.mark.stores
_TS = 1_795_000_000_000_000
# (the event row's fields tables_for reads, the request's and URL's keys)
_KINDS: list[tuple[dict[str, Any], int | None, int | None]] = [
    ({"qtype": "A", "offset": 0}, None, None),
    ({"qtype": None, "offset": 10}, None, None),
    ({"qtype": "HTTPS", "offset": 20}, None, None),
    ({"qtype": "", "offset": 30}, None, None),
    ({"qtype": "A", "offset": (1 << 31) - 1}, None, None),
    ({"qtype": "A", "offset": 1 << 31}, None, None),
    ({"qtype": None, "offset": 40, "size": 0}, 1, None),
    ({"qtype": None, "offset": 50, "size": None}, 1, 2),
    ({"qtype": "AAAA", "offset": 60}, None, None),
    ({"qtype": "1", "offset": 70}, None, None),
    ({"qtype": "A", "offset": 80, "size": 12_345}, 3, 4),
    ({"qtype": "TXT", "offset": 90, "size": 7}, 5, 6),
    ({"qtype": None, "offset": 100, "size": 2**63 - 1}, None, None),
    ({"qtype": None, "offset": 110, "size": -(2**63)}, None, 6),
]


def _row(n: int, fields: dict[str, Any], request: int | None, url: int | None) -> tuple[Any, ...]:
    values = {
        "id": bytes([n]) * 16,
        "ts": _TS + n,
        "name": 1,
        "qtype": fields["qtype"],
        "party": 2,
        "block": 3,
        "offset": fields["offset"],
        "verdict": 4 if n % 2 else None,
        "request": request,
        "url": url,
        "size": fields.get("size"),
    }
    return tuple(values[c] for c in COLUMNS)


def test_rows_go_to_their_table_and_read_back_through_lookups(
    store_url: str, store_kind: str
) -> None:
    engine = open_store(store_url)
    fields = [f for f, _, _ in _KINDS]
    requests = [r for _, r, _ in _KINDS]
    urls = [u for _, _, u in _KINDS]
    made = [_row(n, *kind) for n, kind in enumerate(_KINDS)]
    with engine.begin() as conn:
        where = tables_for(conn, requests, urls, fields)
        placed: dict[str, list[int]] = {}
        for i, table in enumerate(where):
            placed.setdefault(table, []).append(i)
        for table, members in placed.items():
            ensure_days(conn, [day_of_micros(_TS)], table)
            insert_rows(conn, table, [made[i] for i in members])
        quoted = ", ".join(f'"{c}"' for c in COLUMNS)
        found = conn.execute(text(f"SELECT {quoted} FROM lookups ORDER BY ts")).all()
    engine.dispose()
    assert [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in found] == made
    if store_kind == "sqlite":
        assert placed == {"lookups": list(range(len(_KINDS)))}
    else:
        # "A", none, "HTTPS" and "A" at the last offset 4 bytes hold are narrow rows.
        assert placed == {
            LOOKUP_KINDS[0]: [0, 1, 2, 4, 8, 9],
            LOOKUP_KINDS[1]: [3, 5, 6, 7, 10, 11, 12, 13],
        }


def test_the_writer_numbers_the_query_types_as_schema_0028_reads_them() -> None:
    packed = importlib.import_module("monitord.store.migrations.versions.0028_lookups_packed")
    assert dict(packed.QTYPES) == QTYPE_CODES


def test_sqlite_stores_the_query_type_and_empty_columns_packed(store_url: str) -> None:
    """Schema 0028: a common query type as a number, any other as its text; the verdict
    alone when there is no request, URL or bytes, else all four in one text."""
    engine = open_store(store_url)
    if engine.dialect.name != "sqlite":
        engine.dispose()
        pytest.skip("PostgreSQL's rows are its own (schema 0027)")
    made = [_row(n, *kind) for n, kind in enumerate(_KINDS)]
    with engine.begin() as conn:
        insert_rows(conn, "lookups", made)
        found = conn.execute(text("SELECT qt, extra FROM lookups ORDER BY ts")).all()
    engine.dispose()
    assert [tuple(r) for r in found] == [
        (1, None),
        (None, 4),
        (3, None),
        ("", 4),
        (1, None),
        (1, 4),
        (None, "/1:;0"),
        (None, "4/1:2;"),
        (2, None),
        ("1", 4),
        (1, "/3:4;12345"),
        ("TXT", "4/5:6;7"),
        (None, "/:;9223372036854775807"),
        (None, "4/:6;-9223372036854775808"),
    ]


def test_a_narrow_row_is_packed_whole_and_an_id_of_another_length_refused() -> None:
    """``narrow_copy``: the signature, each row's eight fields with their lengths (the query
    type "A" and no verdict as NULL, none as an empty text), the end; an id that is not 16
    bytes is refused, not padded."""
    made = [_row(n, *kind) for n, kind in enumerate(_KINDS[:3])]
    packed = narrow_copy(made)
    assert packed.startswith(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
    assert packed.endswith(b"\xff\xff")
    first = packed[19:]
    assert first[:2] == (8).to_bytes(2, "big")
    assert first[2:6] == (16).to_bytes(4, "big")
    assert first[6:22] == bytes([0]) * 16
    assert first[22:34] == (8).to_bytes(4, "big") + _TS.to_bytes(8, "big")
    assert first[34:42] == (4).to_bytes(4, "big") + (1).to_bytes(4, "big")
    assert first[42:46] == b"\xff\xff\xff\xff"  # "A"
    four = (4).to_bytes(4, "big")
    assert first[46:70] == b"".join(four + n.to_bytes(4, "big") for n in (2, 3, 0))
    assert first[70:74] == b"\xff\xff\xff\xff"  # no verdict
    second = first[74:]
    assert second[42:46] == bytes(4)  # none: an empty text
    assert second[70:78] == four + four  # verdict 4
    third = second[78:]
    assert third[42:51] == (5).to_bytes(4, "big") + b"HTTPS"
    assert len(third) == 51 + 24 + 4 + 2
    with pytest.raises(ValueError, match="16 bytes"):
        narrow_copy([(bytes(15), *made[0][1:])])
