"""lean lookups: lookups that matched an allow list, and no index on a lookup's id

``lookup_verdicts``: what classification said of a lookup when that was more than nothing
(an allow list matched): its category and severity and its list matches, once for every
lookup that got the same. ``lookups.verdict`` names it (NULL: nothing matched).

A lookup's id is no longer its primary key: its unique index cost a lookup 27 of its 139
bytes. A file read again is told by its lines instead: ``raw_blocks`` gets the first and
last file offset of its lines and an index on the file, and the lookups of a block that
overlaps are compared by id (docs/store.md).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LOOKUP_INDEXES = {
    "ix_lookups_party_ts": ["party", "ts"],
    "ix_lookups_name_ts": ["name", "ts"],
    "ix_lookups_ts": ["ts"],
}


def _lookups_columns(primary: bool) -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.LargeBinary(length=16), nullable=False, primary_key=primary),
        sa.Column("ts", _BIG, nullable=False),
        sa.Column("name", sa.Integer(), nullable=False),
        sa.Column("qtype", AutoString(length=16), nullable=True),
        sa.Column("party", sa.Integer(), nullable=False),
        sa.Column("block", _BIG, nullable=False),
        sa.Column("offset", _BIG, nullable=False),
    ]


def _rebuild_lookups(primary: bool, verdict: bool) -> None:
    """SQLite: the lookups table made again (its id the primary key or not), rows kept."""
    columns = _lookups_columns(primary)
    if verdict:
        columns.append(sa.Column("verdict", sa.Integer(), nullable=True))
    op.create_table("lookups_new", *columns)
    kept = 'id, ts, name, qtype, party, block, "offset"'
    op.execute(f"INSERT INTO lookups_new ({kept}) SELECT {kept} FROM lookups ORDER BY rowid")
    op.drop_table("lookups")
    op.rename_table("lookups_new", "lookups")
    for name, columns_of in _LOOKUP_INDEXES.items():
        op.create_index(name, "lookups", columns_of)


def all_events_view(dialect: str) -> str:
    """Every stored event, as an ``events`` row: the events, then the lookups (a lookup's
    category and severity from its verdict)."""
    before = importlib.import_module("monitord.store.migrations.versions.0019_lookups")
    view = str(before.all_events_view(dialect))
    plain = "p.attribution, NULL, 'none',"
    assert plain in view
    judged = "p.attribution, v.category, coalesce(v.severity, 'none'),"
    return view.replace(plain, judged) + " LEFT JOIN lookup_verdicts AS v ON v.id = l.verdict"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute("DROP VIEW all_events")
    op.create_table(
        "lookup_verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", AutoString(length=32), nullable=False),
        sa.Column("category", AutoString(length=32), nullable=True),
        sa.Column("severity", AutoString(length=16), nullable=False),
        sa.Column("matches", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    if dialect == "sqlite":
        _rebuild_lookups(primary=False, verdict=True)
    else:
        op.drop_constraint("lookups_pkey", "lookups", type_="primary")
        op.add_column("lookups", sa.Column("verdict", sa.Integer(), nullable=True))
    op.add_column("raw_blocks", sa.Column("first_offset", _BIG, nullable=False, server_default="0"))
    op.add_column("raw_blocks", sa.Column("last_offset", _BIG, nullable=False, server_default="-1"))
    # The offsets of the lines a block's lookups hold (a block no lookup is left in
    # overlaps nothing: its lines are in events, whose ids are unique).
    op.execute(
        "UPDATE raw_blocks SET "
        'first_offset = coalesce((SELECT min(l."offset") FROM lookups AS l '
        "WHERE l.block = raw_blocks.id), 0), "
        'last_offset = coalesce((SELECT max(l."offset") FROM lookups AS l '
        "WHERE l.block = raw_blocks.id), -1)"
    )
    with op.batch_alter_table("raw_blocks") as batch:
        batch.alter_column("first_offset", server_default=None)
        batch.alter_column("last_offset", server_default=None)
    op.create_index("ix_raw_blocks_file_id", "raw_blocks", ["file_id"])
    op.execute(all_events_view(dialect))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute("DROP VIEW all_events")
    # Lookups that matched a list go back to what 0019 could hold: nothing but clean ones.
    op.execute("DELETE FROM lookups WHERE verdict IS NOT NULL")
    op.execute(
        "DELETE FROM lookups WHERE rowid NOT IN (SELECT min(rowid) FROM lookups GROUP BY id)"
        if dialect == "sqlite"
        else "DELETE FROM lookups AS a USING lookups AS b WHERE a.id = b.id AND a.ctid > b.ctid"
    )
    op.drop_index("ix_raw_blocks_file_id", table_name="raw_blocks")
    with op.batch_alter_table("raw_blocks") as batch:
        batch.drop_column("last_offset")
        batch.drop_column("first_offset")
    if dialect == "sqlite":
        _rebuild_lookups(primary=True, verdict=False)
    else:
        op.drop_column("lookups", "verdict")
        op.create_primary_key("lookups_pkey", "lookups", ["id"])
    op.drop_table("lookup_verdicts")
    before = importlib.import_module("monitord.store.migrations.versions.0019_lookups")
    op.execute(before.all_events_view(dialect))
