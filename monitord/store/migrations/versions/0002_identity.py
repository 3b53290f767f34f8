"""identity: who was behind each event

Events keep the person's role and year group and how the person was found; alerts keep the
attribution; devices gain a reserved address and a location; reservations and supply visits
are kept as history; a partial index finds logons and logoffs without reading every event.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SESSIONS = "kind IN ('logon', 'logoff')"


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", AutoString(length=128), nullable=False),
        sa.Column("ip", AutoString(length=64), nullable=False),
        sa.Column("starts", UTCDateTime(), nullable=False),
        sa.Column("ends", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reservations_device_id"), ["device_id"], unique=False)
        batch_op.create_index("ix_reservations_ip_starts", ["ip", "starts"], unique=False)

    op.create_table(
        "supply_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", AutoString(length=256), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", AutoString(length=256), nullable=False),
        sa.Column("class_name", AutoString(length=64), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", AutoString(length=128), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("supply_visits", schema=None) as batch_op:
        batch_op.create_index("ix_supply_visits_login_day", ["login", "day"], unique=False)

    # Adding nullable columns and an index: SQLite does it in place (no table copy), so an
    # upgrade of a large events table is quick.
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attribution", sa.Text(), nullable=True))

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ip", AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("location", AutoString(length=128), nullable=True))

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column("year_group", AutoString(length=8), nullable=True))
        batch_op.add_column(sa.Column("attributed_by", AutoString(length=24), nullable=True))
        batch_op.create_index(
            "ix_events_sessions",
            ["ts"],
            unique=False,
            sqlite_where=sa.text(_SESSIONS),
            postgresql_where=sa.text(_SESSIONS),
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_sessions")
        batch_op.drop_column("attributed_by")
        batch_op.drop_column("year_group")
        batch_op.drop_column("role")

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("location")
        batch_op.drop_column("ip")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("attribution")

    with op.batch_alter_table("supply_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_supply_visits_login_day")

    op.drop_table("supply_visits")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_reservations_ip_starts")
        batch_op.drop_index(batch_op.f("ix_reservations_device_id"))

    op.drop_table("reservations")
