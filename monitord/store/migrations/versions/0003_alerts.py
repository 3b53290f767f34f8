"""alerts: case work, silences and threaded, capped mail

Alerts gain an assignee and a second reviewer; outbox messages keep their severity (critical
mail is never held by the hourly cap), the thread they reply to and the recipients a server
refused while it accepted others; silences hold back the mail of alerts about one person or
device for a while.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", AutoString(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("person", AutoString(length=256), nullable=True),
        sa.Column("device", AutoString(length=128), nullable=True),
        sa.Column("category", AutoString(length=32), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("expired_at", UTCDateTime(), nullable=True),
        sa.Column("expired_by", AutoString(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_silences_expires_at"), ["expires_at"], unique=False)

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee", AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column("reviewer", AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", UTCDateTime(), nullable=True))

    # Messages queued before this revision carry no severity: an empty one counts as not
    # critical, so at worst such a message waits for the hourly cap.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("severity", AutoString(length=16), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("thread", AutoString(length=256), nullable=True))
        batch_op.add_column(sa.Column("refused", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("refused")
        batch_op.drop_column("thread")
        batch_op.drop_column("severity")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("reviewer")
        batch_op.drop_column("assignee")

    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_silences_expires_at"))

    op.drop_table("silences")
