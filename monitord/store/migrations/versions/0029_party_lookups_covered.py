"""party lookups covered: a party's lookups read from their index alone, without their rows

A person's day reads the lookups of the person's parties for the day (search, timeline, the
console): a few thousand, each of them until now found in the party's index and then read
from its row. Rows are stored in time order, every device's lookups between each other's, so
each of a person's lookups lay on a page of its own: on 50 million events a day's 2,500
lookups were 2,500 pages read, which with the operating system's cache cold took most of a
person's day's 300-600 ms (bench/RESULTS.md, big19).

The party's index now holds what search shows of a lookup after its party and time: its id,
name and verdict, and a proxy request's URL, so that a party's day is a few dozen pages of
the index side by side. SQLite: ``ix_lookups_party_ts`` on (party, ts, id, name, extra):
``extra`` is the stored column the verdict and URL are generated from (0028; an index
holding the generated columns themselves is not read in place of the row), and readers that
want the index alone compute them from it (``monitord.store.lookupshown``). PostgreSQL: each
table's party index on (party, ts) with the id, name, verdict and (the wide table) URL
included, read by an index-only scan where the table's pages are all visible (vacuumed).

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

SQLITE = {
    "ix_lookups_party_ts": ("(party, ts, id, name, extra)", "(party, ts)"),
}
PG = {
    "ix_lookups_narrow_party": (
        "lookups_narrow",
        "(party, ts) INCLUDE (id, name, verdict)",
        "(party)",
    ),
    "ix_lookups_wide_party": (
        "lookups_wide",
        "(party, ts) INCLUDE (id, name, verdict, url)",
        "(party)",
    ),
}


def _indexes(new: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Each day's partition gets its own; a larger sort in memory than the default.
        op.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for name, (table, after, before) in PG.items():
            op.execute(f"DROP INDEX {name}")
            op.execute(f"CREATE INDEX {name} ON {table} {after if new else before}")
        return
    for name, (after, before) in SQLITE.items():
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON lookups {after if new else before}")


def upgrade() -> None:
    _indexes(True)


def downgrade() -> None:
    _indexes(False)
