"""alert_events by event: retention asks which events belong to an alert

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alert_events_event_id", "alert_events", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_alert_events_event_id", table_name="alert_events")
