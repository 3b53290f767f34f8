"""agents bound to their devices; each event says which agent reported it

``agents.device_id``: the device (from the devices file) an agent was enrolled for; its
reports must name that device's host name and MAC. Agents enrolled before this have none
and are refused until enrolled again with ``--device``.

``events.agent``: the agent that reported an event (its ``agent_id``, checked against the
token or the enrolment); null for events from logs.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("agents", sa.Column("device_id", AutoString(length=128), nullable=True))
    op.add_column("events", sa.Column("agent", AutoString(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("agent")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("device_id")
