"""lookups narrow: PostgreSQL's DNS lookups in a table of eight columns, the rest in one
of 0026's eleven, read together through the view ``lookups``

A row with a NULL carries a bitmap of one bit a column: with eight columns or fewer it fits
the 24-byte header's last byte, with nine to sixteen it takes two and pads the header to 32.
At 0026 ``lookups`` had eleven columns (0025 added a proxy request's ``request``, ``url`` and
``size``), so a DNS lookup that matched nothing, all three NULL, took 79 bytes padded to 80.

``lookups_narrow`` holds DNS lookups in eight columns: the time (8 bytes), then the file
offset, block, name, party and verdict (4 each: the offset of a line in the first 2 GiB of
its file), the query type (NULL for "A", the most common, so no byte at all; an empty text
for none) and the id as a ``uuid`` (16 bytes, no length byte). An "A" lookup that matched
nothing takes 64 bytes, header included. ``lookups_wide`` holds the others in 0026's
columns: proxy requests (their URL, request and bytes), and a DNS lookup whose line lies
beyond 2 GiB in its file or whose query type is an empty text. Each is partitioned by day as
0024 made ``lookups``, with the same indexes (party, name, time, verdict, and the URL on the
wide one). ``lookups`` becomes a view of both with 0026's columns, in 0026's order and
types: the readers read it as they read the table (the planner takes a UNION ALL of plain
selects as one set of partitions, each read by its own indexes, and leaves out a branch whose
column a query wants not NULL). Writers and retention write each table
(``monitord.store.partitions.lookup_tables``).

SQLite stores a NULL in one byte of a row's header whatever the number of columns, and an
integer in as few bytes as it needs: nothing changes there.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import importlib

from alembic import op
from sqlalchemy import text

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_DAY = 86_400_000_000  # microseconds
# 0026's columns (the view's, in its order and types; the wide table's).
COLUMNS: tuple[tuple[str, str], ...] = importlib.import_module(
    "monitord.store.migrations.versions.0026_lookup_block_int4"
).NARROW
# A narrow row's: the 8-byte column, the 4-byte ones, then those of 1-byte alignment.
NARROW = (
    ("ts", "bigint NOT NULL"),
    ("offset", "integer NOT NULL"),
    ("block", "integer NOT NULL"),
    ("name", "integer NOT NULL"),
    ("party", "integer NOT NULL"),
    ("verdict", "integer"),
    ("qtype", "varchar(16)"),
    ("id", "uuid NOT NULL"),
)
# How each narrow column is read as 0026's, and made from it.
READ = {
    "offset": 'CAST("offset" AS bigint)',
    "qtype": "CAST(NULLIF(COALESCE(qtype, 'A'), '') AS varchar(16))",
    "id": "uuid_send(id)",
}
MADE = {
    "offset": 'CAST("offset" AS integer)',
    "qtype": "CASE WHEN qtype IS NULL THEN '' WHEN qtype = 'A' THEN NULL ELSE qtype END",
    "id": "CAST(encode(id, 'hex') AS uuid)",
}
# Which of 0026's rows a narrow row holds.
FITS = (
    'size IS NULL AND request IS NULL AND url IS NULL AND "offset" < 2147483648 '
    "AND octet_length(id) = 16 AND (qtype IS NULL OR qtype <> '')"
)
INDEXES = {
    "party": "(party)",
    "name": "(name)",
    "ts": "(ts)",
    "verdict": "(verdict) WHERE verdict IS NOT NULL",
}
_URL = {"url": "(url) WHERE url IS NOT NULL"}
# 0026's indexes of ``lookups``.
_OLD = ("ix_lookups_party", "ix_lookups_name", "ix_lookups_ts", "ix_lookups_verdict")
_OLD_URL = "ix_lookups_url"


def _quoted(column: str) -> str:
    return f'"{column}"'


def view() -> str:
    """``lookups`` as 0026's table: both tables' rows, 0026's columns in its order."""
    types = dict(COLUMNS)
    own = {c for c, _ in NARROW}
    narrow = ", ".join(
        f'{READ.get(c, _quoted(c))} AS "{c}"'
        if c in own
        else f'CAST(NULL AS {types[c].split(" NOT")[0]}) AS "{c}"'
        for c, _ in COLUMNS
    )
    every = ", ".join(f'"{c}"' for c, _ in COLUMNS)
    return (
        f"CREATE VIEW lookups AS SELECT {narrow} FROM lookups_narrow "
        f"UNION ALL SELECT {every} FROM lookups_wide"
    )


def _make(table: str, columns: tuple[tuple[str, str], ...], indexes: dict[str, str]) -> None:
    spec = ", ".join(f'"{c}" {t}' for c, t in columns)
    op.execute(f"CREATE TABLE {table} ({spec}) PARTITION BY RANGE (ts)")
    for name, on in indexes.items():
        op.execute(f"CREATE INDEX ix_{table}_{name} ON {table} {on}")


def _fill(table: str, into: list[str], made: list[str], source: str, where: str) -> None:
    """Copy ``source``'s rows ``where`` picks into ``table`` (its columns ``into``, made
    by ``made``) in time order, their days' partitions made first."""
    from monitord.store.partitions import create_partition, day_of_micros

    bind = op.get_bind()
    days = bind.execute(text(f"SELECT DISTINCT ts / {_DAY} FROM {source} WHERE {where}"))
    for n in sorted(int(d) for d in days.scalars()):
        create_partition(bind, day_of_micros(n * _DAY), table)
    names = ", ".join(f'"{c}"' for c in into)
    op.execute(
        f"INSERT INTO {table} ({names}) SELECT {', '.join(made)} FROM {source} "
        f"WHERE {where} ORDER BY ts"
    )


def _all_events() -> str:
    requests = importlib.import_module("monitord.store.migrations.versions.0025_lookup_requests")
    return str(requests.all_events_view("postgresql"))


def upgrade() -> None:
    from monitord.store.partitions import partitions

    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP VIEW all_events")
    for name in (*_OLD, _OLD_URL):
        op.execute(f"DROP INDEX {name}")
    for part in partitions(op.get_bind(), "lookups"):
        op.execute(f"ALTER TABLE {part.name} RENAME TO lookups_old_p{part.day:%Y%m%d}")
    op.execute("ALTER TABLE lookups RENAME TO lookups_old")
    _make("lookups_narrow", NARROW, INDEXES)
    _make("lookups_wide", COLUMNS, {**INDEXES, **_URL})
    narrow = [c for c, _ in NARROW]
    made = [MADE.get(c, _quoted(c)) for c in narrow]
    _fill("lookups_narrow", narrow, made, "lookups_old", FITS)
    every = [c for c, _ in COLUMNS]
    _fill("lookups_wide", every, [_quoted(c) for c in every], "lookups_old", f"NOT ({FITS})")
    op.execute("DROP TABLE lookups_old")
    op.execute(view())
    op.execute(_all_events())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP VIEW all_events")
    op.execute("ALTER VIEW lookups RENAME TO lookups_old")
    spec = ", ".join(f'"{c}" {t}' for c, t in COLUMNS)
    op.execute(f"CREATE TABLE lookups ({spec}) PARTITION BY RANGE (ts)")
    for name in _OLD:
        op.execute(f"CREATE INDEX {name} ON lookups {INDEXES[name.removeprefix('ix_lookups_')]}")
    op.execute(f"CREATE INDEX {_OLD_URL} ON lookups {_URL['url']}")
    every = [c for c, _ in COLUMNS]
    _fill("lookups", every, [_quoted(c) for c in every], "lookups_old", "true")
    op.execute("DROP VIEW lookups_old")
    op.execute("DROP TABLE lookups_narrow")
    op.execute("DROP TABLE lookups_wide")
    op.execute(_all_events())
