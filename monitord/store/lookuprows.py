"""How a lookup's row is written (docs/store.md): to ``lookups`` on SQLite, its query type
and what a DNS lookup leaves empty packed in two columns (migration 0028); on PostgreSQL
(migration 0027) a DNS lookup to the eight columns of ``lookups_narrow`` when they can hold
it, anything else to ``lookups_wide``, both by binary COPY."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from monitord.store.partitions import LOOKUP_KINDS, lookup_tables

# A row as the store makes it, in this order, with each column's PostgreSQL type (binary COPY).
_PG_COLUMNS = (
    ("id", "bytea"),
    ("ts", "int8"),
    ("name", "int4"),
    ("qtype", "varchar"),
    ("party", "int4"),
    ("block", "int4"),
    ("offset", "int8"),
    ("verdict", "int4"),
    ("request", "int4"),
    ("url", "int4"),
    ("size", "int8"),
)
COLUMNS = tuple(c for c, _ in _PG_COLUMNS)
_PG_TYPES = tuple(t for _, t in _PG_COLUMNS)
# A narrow row's (PostgreSQL, migration 0027): the first eight, its offset in 4 bytes (the
# id's 16 bytes go as they are into its uuid, the binary form of one).
_NARROW_COLUMNS = COLUMNS[:8]
_NARROW_OFFSETS = 1 << 31
# Binary COPY as the server reads it (its signature, flags and header extension; the end),
# a NULL's length, and a narrow row's fixed fields with their lengths: their count, the id,
# time and name before the query type, then the party, block and offset.
_SIGNATURE = b"PGCOPY\n\xff\r\n\0" + bytes(8)
_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_FRONT = struct.Struct("!hi16siqii")
_BACK = struct.Struct("!iiiiii")
_INT4 = struct.Struct("!ii")
# A SQLite row's stored columns (migration 0028): the query type as ``qt``, the verdict and a
# proxy request's keys and bytes as ``extra``; the others are generated from them.
_SQLITE_COLUMNS = ("id", "ts", "name", "party", "block", "offset", "qt", "extra")
# The query types ``qt`` holds as a number (0028's ``QTYPES``).
QTYPE_CODES: dict[str | None, int] = {"A": 1, "AAAA": 2, "HTTPS": 3}


def sqlite_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """A row of ``COLUMNS`` as SQLite's ``lookups`` stores it (``_SQLITE_COLUMNS``): the query
    type's number, or its text; the verdict alone when the row has no request, URL or bytes
    (NULL when it has none either), else ``verdict/request:url;size`` (empty for none)."""
    ident, ts, name, qtype, party, block, offset, verdict, request, url, size = row
    qt = QTYPE_CODES.get(qtype, qtype)
    if request is None and url is None and size is None:
        return (ident, ts, name, party, block, offset, qt, verdict)
    extra = (
        f"{'' if verdict is None else verdict}/{'' if request is None else request}:"
        f"{'' if url is None else url};{'' if size is None else size}"
    )
    return (ident, ts, name, party, block, offset, qt, extra)


def tables_for(
    conn: Connection,
    requests: Sequence[int | None],
    urls: Sequence[int | None],
    rows: Sequence[Mapping[str, Any]],
) -> list[str]:
    """The table each row goes to: on PostgreSQL a DNS lookup (no request, URL or bytes)
    whose line is in the first 2 GiB of its file and whose query type is not an empty text
    to ``lookups_narrow``, the others to ``lookups_wide`` (migration 0027); on SQLite all to
    ``lookups``."""
    tables = lookup_tables(conn)
    if len(tables) == 1:
        return [tables[0]] * len(rows)
    narrow, wide = tables
    return [
        narrow
        if request is None
        and url is None
        and r.get("size") is None
        and r["offset"] < _NARROW_OFFSETS
        and r.get("qtype") != ""
        else wide
        for request, url, r in zip(requests, urls, rows, strict=True)
    ]


def insert_rows(conn: Connection, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert lookup rows (none of them stored: the caller has checked) into ``table``
    (``COLUMNS`` each)."""
    columns = _NARROW_COLUMNS if table == LOOKUP_KINDS[0] else COLUMNS
    quoted = ", ".join(f'"{c}"' for c in columns)
    driver = conn.connection.dbapi_connection
    assert driver is not None
    cursor = driver.cursor()
    if conn.dialect.name == "sqlite":
        stored = ", ".join(f'"{c}"' for c in _SQLITE_COLUMNS)
        marks = ", ".join("?" for _ in _SQLITE_COLUMNS)
        cursor.executemany(
            f"INSERT INTO {table} ({stored}) VALUES ({marks})", [sqlite_row(r) for r in rows]
        )
        cursor.close()
        return
    # Binary: the server reads the key and numbers as they are, not from text (a narrow
    # row's id is its 16 bytes as a uuid).
    sql = f"COPY {table} ({quoted}) FROM STDIN (FORMAT BINARY)"
    with cursor, cursor.copy(sql) as copy:  # type: ignore[attr-defined]
        if columns is COLUMNS:
            copy.set_types(_PG_TYPES)
            for row in rows:
                copy.write_row(row)
            return
        copy.write(narrow_copy(rows))


def narrow_copy(rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows of ``COLUMNS`` as binary COPY of ``lookups_narrow``'s first eight, whole
    (signature to end): packed here a row at a time from its fixed parts, not adapted value
    by value (the generated dnsmasq day's 168,612 rows: bench/RESULTS.md, pgin19). A query
    type "A" is written as no byte (NULL), none as an empty text (the view reads them
    back); the id's 16 bytes go into the ``uuid`` as they are."""
    qtypes: dict[str | None, bytes] = {}
    verdicts: dict[int | None, bytes] = {}
    front, back = _FRONT.pack, _BACK.pack
    out = [_SIGNATURE]
    for row in rows:
        ident, ts, name, qtype, party, block, offset, verdict = row[:8]
        q = qtypes.get(qtype)
        if q is None:
            text = b"" if qtype is None else qtype.encode()
            q = qtypes[qtype] = _NULL if qtype == "A" else struct.pack("!i", len(text)) + text
        v = verdicts.get(verdict)
        if v is None:
            v = verdicts[verdict] = _NULL if verdict is None else _INT4.pack(4, verdict)
        if len(ident) != 16:
            raise ValueError(f"a narrow lookup's id is 16 bytes, not {len(ident)}")
        out.append(
            front(8, 16, ident, 8, ts, 4, name) + q + back(4, party, 4, block, 4, offset) + v
        )
    out.append(_TRAILER)
    return b"".join(out)
