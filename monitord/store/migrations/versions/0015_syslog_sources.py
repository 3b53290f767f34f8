"""syslog sources: the sender and receive time on events, and what a source passed over

A syslog event keeps the host its envelope named and the time monitord received it
(``events.sender``, ``events.received_at``). ``source_counts`` counts, per source, what it
passed over by kind and name: programs a syslog source has no parser for, senders a listener
refused, messages it had to drop.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("events", sa.Column("sender", AutoString(length=255), nullable=True))
    op.add_column("events", sa.Column("received_at", UTCDateTime(), nullable=True))
    op.create_table(
        "source_counts",
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("kind", AutoString(length=32), nullable=False),
        sa.Column("name", AutoString(length=128), nullable=False),
        sa.Column("count", _BIG, nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "source", "kind", "name"),
    )


def downgrade() -> None:
    op.drop_table("source_counts")
    op.drop_column("events", "received_at")
    op.drop_column("events", "sender")
