"""lookups aligned: PostgreSQL's lookups table with its columns in the order that packs

PostgreSQL aligns each 8-byte column to 8 bytes within a row, so the order 0019 gave the
columns (a 17-byte id first, then the time, the name, the query type, the party, the block,
the offset and the verdict) left 12 bytes of padding in every lookup: a row took 96.5 bytes
a lookup on the generated day, 84.5 with the 8-byte columns first, the 4-byte ones next and
the two of variable length last (bench/RESULTS.md). The table is made again in that order,
its rows copied in time order, and its indexes and the ``all_events`` view made again.
SQLite packs a row whatever its columns' order: nothing changes there.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# The 8-byte columns, the 4-byte ones, then those of variable length.
_ALIGNED = ("ts", "block", "offset", "name", "party", "verdict", "qtype", "id")
_INDEXES = {
    "ix_lookups_party_ts": ["party", "ts"],
    "ix_lookups_name_ts": ["name", "ts"],
    "ix_lookups_ts": ["ts"],
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        return
    op.execute("DROP VIEW all_events")
    op.create_table(
        "lookups_aligned",
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Integer(), nullable=False),
        sa.Column("party", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.Integer(), nullable=True),
        sa.Column("qtype", AutoString(length=16), nullable=True),
        sa.Column("id", sa.LargeBinary(length=16), nullable=False),
    )
    columns = ", ".join(f'"{c}"' for c in _ALIGNED)
    op.execute(f"INSERT INTO lookups_aligned ({columns}) SELECT {columns} FROM lookups ORDER BY ts")
    op.drop_table("lookups")
    op.rename_table("lookups_aligned", "lookups")
    for name, columns_of in _INDEXES.items():
        op.create_index(name, "lookups", columns_of)
    op.create_index(
        "ix_lookups_verdict_ts",
        "lookups",
        ["verdict", "ts"],
        postgresql_where=sa.text("verdict IS NOT NULL"),
    )
    before = importlib.import_module("monitord.store.migrations.versions.0021_lean_lookups")
    op.execute(before.all_events_view(dialect))


def downgrade() -> None:
    # The columns' order means nothing to 0022: the table stays as it is.
    pass
