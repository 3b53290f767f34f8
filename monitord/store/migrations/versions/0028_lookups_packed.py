"""lookups packed: SQLite's lookups with what a DNS lookup leaves empty in one column, and
its query type as a number

SQLite writes every column of a row, a NULL as one byte of the row's header, trailing NULLs
too (measured on 3.40: a row inserted naming two of five columns takes the same bytes whether
the other three were declared or added later; only a row written before ``ADD COLUMN`` ends
early). From 0025 a DNS lookup that matched nothing held four such bytes (its verdict, and a
proxy request's ``request``, ``url`` and ``size``) and its query type "A" two (a text of one
byte and its type): 44.0 bytes a row on the generated day.

The row now stores two columns in their place. ``extra`` is NULL for a DNS lookup that
matched nothing, its verdict (an integer, as before) for one with a verdict, and for a proxy
request a text of its verdict, request, URL and bytes, ``verdict/request:url;size`` (each in
decimal, empty for none; a key is read as the integer its part starts with, the three keys'
tables number their rows from 1). ``qt`` is the query type, 1 for "A", 2 for "AAAA", 3 for "HTTPS"
(SQLite stores 0 and 1 in no byte beside the type's, other small numbers in one), any other
as its text. ``qtype``, ``verdict``, ``request``, ``url`` and ``size`` are generated from
them (virtual: computed as they are read, stored only in the indexes that hold them), in
0027's order and types: readers and the indexes read them as before. A DNS lookup that matched
nothing takes 40.0 bytes a row (4 fewer); a proxy request about 5 more (its numbers as text).

The table is made again and its rows copied with their rowids, its indexes and the
``all_events`` view made again. PostgreSQL keeps its two tables (0027): nothing changes there.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

# The query types kept as a number (the writer's, monitord.store.lookuprows).
QTYPES = (("A", 1), ("AAAA", 2), ("HTTPS", 3))
# Where each of a proxy request's numbers after its verdict starts in ``extra``. A key
# (verdict, request, URL) is read as the integer the text starts with there (a key table's
# ids start at 1: none reads 0, made NULL); the bytes, last, as the rest of the text (0 is
# a size).
_STARTS = {
    "request": "instr(extra, '/') + 1",
    "url": "instr(extra, ':') + 1",
    "size": "instr(extra, ';') + 1",
}


def _generated() -> dict[str, str]:
    """Each generated column's SQL. A column of no declared type compares a text with a
    number as unequal: a query type "1" stays the text it is."""
    codes = " ".join(f"WHEN {n} THEN '{q}'" for q, n in QTYPES)
    made = {
        "qtype": f"CASE qt {codes} ELSE qt END",
        # An integer ``extra`` is the verdict itself.
        "verdict": "NULLIF(CAST(extra AS INTEGER), 0)",
    }
    for column in ("request", "url"):
        at = f"substr(extra, {_STARTS[column]})"
        made[column] = f"CASE WHEN typeof(extra) = 'text' THEN NULLIF(CAST({at} AS INTEGER), 0) END"
    rest = f"NULLIF(substr(extra, {_STARTS['size']}), '')"
    made["size"] = f"CASE WHEN typeof(extra) = 'text' THEN CAST({rest} AS INTEGER) END"
    return made


# 0027's columns on SQLite, in its order and types.
COLUMNS = (
    ("id", "BLOB NOT NULL"),
    ("ts", "INTEGER NOT NULL"),
    ("name", "INTEGER NOT NULL"),
    ("qtype", "VARCHAR(16)"),
    ("party", "INTEGER NOT NULL"),
    ("block", "INTEGER NOT NULL"),
    ("offset", "INTEGER NOT NULL"),
    ("verdict", "INTEGER"),
    ("request", "INTEGER"),
    ("url", "INTEGER"),
    ("size", "INTEGER"),
)
# Each stored column, as made from 0027's row.
_CODES = " ".join(f"WHEN '{q}' THEN {n}" for q, n in QTYPES)
MADE = {
    "qt": f"CASE qtype {_CODES} ELSE qtype END",
    "extra": "CASE WHEN request IS NULL AND url IS NULL AND size IS NULL THEN verdict "
    "ELSE coalesce(verdict, '') || '/' || coalesce(request, '') || ':' || coalesce(url, '') "
    "|| ';' || coalesce(size, '') END",
}
INDEXES = {
    "ix_lookups_party_ts": "(party, ts)",
    "ix_lookups_name_ts": "(name, ts)",
    "ix_lookups_ts": "(ts)",
    "ix_lookups_verdict_ts": "(verdict, ts) WHERE verdict IS NOT NULL",
    "ix_lookups_url_ts": "(url, ts) WHERE url IS NOT NULL",
}


def _quoted(columns: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _rebuild(spec: str, into: list[str], made: list[str]) -> None:
    """Make ``lookups`` again as ``spec``, its rows copied with their rowids (``into`` its
    columns written, ``made`` how each is made from the old row), then its indexes and
    ``all_events``."""
    op.execute("DROP VIEW all_events")
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute("ALTER TABLE lookups RENAME TO lookups_old")
    op.execute(f"CREATE TABLE lookups ({spec})")
    op.execute(
        f"INSERT INTO lookups (rowid, {_quoted(into)}) SELECT rowid, {', '.join(made)} "
        "FROM lookups_old ORDER BY rowid"
    )
    op.execute("DROP TABLE lookups_old")
    for name, on in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON lookups {on}")
    requests = importlib.import_module("monitord.store.migrations.versions.0025_lookup_requests")
    op.execute(requests.all_events_view("sqlite"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    made = _generated()
    spec = ", ".join(
        f'"{c}" {t} GENERATED ALWAYS AS ({made[c]}) VIRTUAL' if c in made else f'"{c}" {t}'
        for c, t in COLUMNS
    )
    stored = [c for c, _ in COLUMNS if c not in made]
    _rebuild(f"{spec}, qt, extra", [*stored, *MADE], [*_quote_each(stored), *MADE.values()])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    every = [c for c, _ in COLUMNS]
    spec = ", ".join(f'"{c}" {t}' for c, t in COLUMNS)
    _rebuild(spec, every, _quote_each(every))


def _quote_each(columns: list[str]) -> list[str]:
    return [f'"{c}"' for c in columns]
