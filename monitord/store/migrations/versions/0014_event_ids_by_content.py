"""event ids from what was read, not the source's name

An event's id was made from the source's name, the file's identity, the offset and the
event's place in its record, so the same line read under two names (``ingest --source
pihole``, then ``ingest`` without it, or a followed log backfilled under another name) was
stored twice and counted twice in its alert. Ids are now made without the name
(``monitord.store.origins``). The events already stored keep their ids: every file they came from is
listed here with the source whose name its ids were made with, and a record of such a file
is given the same id as before, however it is read again (a file read under two names
before the upgrade, its events stored twice then, keeps the ids of one of them).

This reads every event's site, file and source once (on SQLite about a minute per 50 million
events).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legacy_origins",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "file_id"),
    )
    # A monitoring gap's record has no file: its id keeps the source's name as it always did.
    op.execute(
        "INSERT INTO legacy_origins (site_id, file_id, source) "
        "SELECT site_id, file_id, MIN(source) FROM ("
        "SELECT site_id, file_id, source FROM events WHERE file_id <> 'monitoring_gap' "
        "UNION ALL SELECT site_id, file_id, source FROM rejected"
        ") AS read_before GROUP BY site_id, file_id"
    )


def downgrade() -> None:
    op.drop_table("legacy_origins")
