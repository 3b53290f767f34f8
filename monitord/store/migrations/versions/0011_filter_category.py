"""The school's filter's own category on an event

A firewall or filtering service (FortiGate, Sophos, Palo Alto, Umbrella, e2guardian) logs
its own verdict: whether it blocked the request (``events.blocked``, ``events.action``) and
the category it put the site in, in its own words. ``events.filter_category`` keeps that
category beside monitord's own, for the alert and the explanation.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("filter_category", AutoString(length=128), nullable=True))


def downgrade() -> None:
    op.drop_column("events", "filter_category")
