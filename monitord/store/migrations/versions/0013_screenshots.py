"""screenshots: which agent sent each picture, for its quota and its removal

``screenshots``: one row per picture and agent that sent it, with its size (the agent's
quota counts them). ``ix_events_screenshots``: screenshot reports by the picture they carry
(``text``), so retention finds at once whether a picture is still carried by a report.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SCREENSHOTS = sa.text("kind = 'screenshot'")


def upgrade() -> None:
    op.create_table(
        "screenshots",
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("sha256", AutoString(length=64), nullable=False),
        sa.Column("agent", AutoString(length=128), nullable=False),
        sa.Column("bytes", _BIG, nullable=False),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "sha256", "agent"),
    )
    op.create_index(
        "ix_events_screenshots",
        "events",
        ["text"],
        sqlite_where=_SCREENSHOTS,
        postgresql_where=_SCREENSHOTS,
    )


def downgrade() -> None:
    op.drop_index("ix_events_screenshots", table_name="events")
    op.drop_table("screenshots")
