"""lookups by day: PostgreSQL's lookups in one partition a day, found by party, name and
verdict alone within it

A lookup's entries in (party, ts) and (name, ts) took 46 and 48 bytes on the generated day
(bench/RESULTS.md): each party's and each name's entries grow at their own right end, so
every page split left a page half full for good. Within one day's partition the day is
bound already, so the indexes hold the party, the name and the verdict alone: b-tree
deduplication keeps all of a key's lookups in posting lists (6 bytes a row), and a page full
of one key splits leaving it nearly full. Measured as ingest writes them: 9.0, 9.2 and 3.3
bytes a lookup against 46.3, 48.5 and 22.5. A day's lookups are read from its partition
(search, a person's day, the alert mail: each reads a span of time), and retention drops a
day wholly past its period as a table rather than deleting its rows one by one.

SQLite keeps one table and its indexes by time within each key: nothing changes there.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import importlib

from alembic import op
from sqlalchemy import text

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_DAY = 86_400_000_000  # microseconds
BY_DAY = {
    "ix_lookups_party": "(party)",
    "ix_lookups_name": "(name)",
    "ix_lookups_ts": "(ts)",
    "ix_lookups_verdict": "(verdict) WHERE verdict IS NOT NULL",
}
BY_TIME = {
    "ix_lookups_party_ts": "(party, ts)",
    "ix_lookups_name_ts": "(name, ts)",
    "ix_lookups_ts": "(ts)",
    "ix_lookups_verdict_ts": "(verdict, ts) WHERE verdict IS NOT NULL",
}


def _view() -> str:
    before = importlib.import_module("monitord.store.migrations.versions.0021_lean_lookups")
    return str(before.all_events_view("postgresql"))


def _rebuild(partitioned: bool) -> None:
    """Make ``lookups`` again (by day or as one table), its rows copied in time order."""
    from monitord.store.partitions import create_partition, day_of_micros

    op.execute("DROP VIEW all_events")
    op.execute("ALTER TABLE lookups RENAME TO lookups_old")
    old = BY_TIME if partitioned else BY_DAY
    for name in old:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    by = " PARTITION BY RANGE (ts)" if partitioned else ""
    op.execute(f"CREATE TABLE lookups (LIKE lookups_old){by}")
    for name, columns in (BY_DAY if partitioned else BY_TIME).items():
        op.execute(f"CREATE INDEX {name} ON lookups {columns}")
    bind = op.get_bind()
    if partitioned:
        days = bind.execute(text(f"SELECT DISTINCT ts / {_DAY} FROM lookups_old")).scalars()
        for n in sorted(days):
            create_partition(bind, day_of_micros(int(n) * _DAY), "lookups")
    op.execute("INSERT INTO lookups SELECT * FROM lookups_old ORDER BY ts")
    op.execute("DROP TABLE lookups_old CASCADE")
    op.execute(_view())


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=False)
