"""lookup block int4: PostgreSQL's lookups with the block as a 4-byte key, the columns in an
order that leaves a lookup that matched nothing 80 bytes

A row is padded to 8 bytes: at 0025 a lookup that matched nothing held a 32-byte header (its
null bitmap of eleven columns takes 2 bytes), 8 bytes each for its time, block and file
offset, 4 each for its name and party, its query type ("A": 2 bytes) and its 16-byte id with
its 1-byte header, 83 bytes padded to 88. The block's key, one a batch's file and day, fits 4
bytes many times over: with it the row is 79 bytes, padded to 80. The 8-byte columns come
first (time, offset, a request's size), then the 4-byte ones, so that nothing is padded
between them. Each day's partition is made
again and the rows copied in time order. SQLite stores an integer in as few bytes as it
needs: nothing changes there.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import importlib

from alembic import op
from sqlalchemy import text

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_DAY = 86_400_000_000  # microseconds
NARROW = (
    ("ts", "bigint NOT NULL"),
    ("offset", "bigint NOT NULL"),
    ("size", "bigint"),
    ("block", "integer NOT NULL"),
    ("name", "integer NOT NULL"),
    ("party", "integer NOT NULL"),
    ("verdict", "integer"),
    ("request", "integer"),
    ("url", "integer"),
    ("qtype", "varchar(16)"),
    ("id", "bytea NOT NULL"),
)
WIDE = (
    ("ts", "bigint NOT NULL"),
    ("block", "bigint NOT NULL"),
    ("offset", "bigint NOT NULL"),
    ("name", "integer NOT NULL"),
    ("party", "integer NOT NULL"),
    ("verdict", "integer"),
    ("qtype", "varchar(16)"),
    ("id", "bytea NOT NULL"),
    ("request", "integer"),
    ("url", "integer"),
    ("size", "bigint"),
)
# 0025's index of requests by URL, beside 0024's.
_URL = ("ix_lookups_url", "(url) WHERE url IS NOT NULL")


def _rebuild(columns: tuple[tuple[str, str], ...]) -> None:
    """Make the day-partitioned ``lookups`` again with ``columns``, its rows copied."""
    from monitord.store.partitions import create_partition, day_of_micros, partitions

    bind = op.get_bind()
    by_day = importlib.import_module("monitord.store.migrations.versions.0024_lookups_by_day")
    requests = importlib.import_module("monitord.store.migrations.versions.0025_lookup_requests")
    indexes = {**by_day.BY_DAY, _URL[0]: _URL[1]}
    op.execute("DROP VIEW all_events")
    for name in indexes:
        op.execute(f"DROP INDEX {name}")
    old = partitions(bind, "lookups")
    op.execute("ALTER TABLE lookups RENAME TO lookups_old")
    for part in old:  # their names free for the new partitions
        op.execute(f"ALTER TABLE {part.name} RENAME TO lookups_old_p{part.day:%Y%m%d}")
    spec = ", ".join(f'"{c}" {t}' for c, t in columns)
    op.execute(f"CREATE TABLE lookups ({spec}) PARTITION BY RANGE (ts)")
    for name, on in indexes.items():
        op.execute(f"CREATE INDEX {name} ON lookups {on}")
    days = bind.execute(text(f"SELECT DISTINCT ts / {_DAY} FROM lookups_old")).scalars()
    for n in sorted(days):
        create_partition(bind, day_of_micros(int(n) * _DAY), "lookups")
    names = ", ".join(f'"{c}"' for c, _ in columns)
    op.execute(f"INSERT INTO lookups ({names}) SELECT {names} FROM lookups_old ORDER BY ts")
    op.execute("DROP TABLE lookups_old")
    op.execute(requests.all_events_view("postgresql"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(NARROW)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(WIDE)
