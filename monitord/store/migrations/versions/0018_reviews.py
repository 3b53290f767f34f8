"""filtering_reviews: the annual review of filtering and monitoring

One row per review the school records (the DfE filtering and monitoring standard asks for
one at least every year): the day, the reviewers' accounts, what was checked, what was
changed, the next review's day, who recorded it and when.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "filtering_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("reviewers", sa.Text(), nullable=False),
        sa.Column("checked", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("changed", sa.Text(), nullable=False),
        sa.Column("next_review", sa.Date(), nullable=False),
        sa.Column("recorded_by", AutoString(length=128), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_filtering_reviews_site_id", "filtering_reviews", ["site_id"])


def downgrade() -> None:
    op.drop_index("ix_filtering_reviews_site_id", table_name="filtering_reviews")
    op.drop_table("filtering_reviews")
