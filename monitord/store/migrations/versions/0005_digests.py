"""digests: which weekly digests were queued, so that none is sent twice

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("week", AutoString(length=8), nullable=False),
        sa.Column("edition", AutoString(length=16), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.Column("queued_by", AutoString(length=128), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "week", "edition"),
    )


def downgrade() -> None:
    op.drop_table("digests")
