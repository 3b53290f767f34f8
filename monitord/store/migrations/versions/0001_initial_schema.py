"""initial schema

Revision ID: 0001


"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "alert_events",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("event_id", AutoString(length=32), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "event_id"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("group_key", AutoString(length=512), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("severity", AutoString(length=16), nullable=False),
        sa.Column("category", AutoString(length=32), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("person", AutoString(length=256), nullable=True),
        sa.Column("role", AutoString(length=32), nullable=True),
        sa.Column("year_group", AutoString(length=8), nullable=True),
        sa.Column("device", AutoString(length=128), nullable=True),
        sa.Column("ip", AutoString(length=64), nullable=True),
        sa.Column("indicator", sa.Text(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("sources", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("outcome", AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_group", ["group_key", "status"], unique=False)

    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("actor", AutoString(length=128), nullable=False),
        sa.Column("action", AutoString(length=64), nullable=False),
        sa.Column("subject", AutoString(length=256), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", AutoString(length=64), nullable=False),
        sa.Column("hash", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_action"), ["action"], unique=False)

    op.create_table(
        "checkpoints",
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("file_id", AutoString(length=64), nullable=False),
        sa.Column("inode", sa.Integer(), nullable=False),
        sa.Column("offset", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("last_event_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "devices",
        sa.Column("device_id", AutoString(length=128), nullable=False),
        sa.Column("mac", AutoString(length=32), nullable=True),
        sa.Column("hostname", AutoString(length=256), nullable=True),
        sa.Column("ownership", AutoString(length=32), nullable=False),
        sa.Column("assigned_to", AutoString(length=256), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("device_id"),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_mac"), ["mac"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", AutoString(length=32), nullable=False),
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("fmt", AutoString(length=32), nullable=False),
        sa.Column("kind", AutoString(length=16), nullable=False),
        sa.Column("client_ip", AutoString(length=64), nullable=True),
        sa.Column("client_mac", AutoString(length=32), nullable=True),
        sa.Column("user", AutoString(length=256), nullable=True),
        sa.Column("domain", AutoString(length=512), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("method", AutoString(length=16), nullable=True),
        sa.Column("qtype", AutoString(length=16), nullable=True),
        sa.Column("action", AutoString(length=64), nullable=True),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("hostname", AutoString(length=256), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("username", AutoString(length=256), nullable=True),
        sa.Column("device_id", AutoString(length=128), nullable=True),
        sa.Column("attribution", AutoString(length=512), nullable=False),
        sa.Column("category", AutoString(length=32), nullable=True),
        sa.Column("severity", AutoString(length=16), nullable=False),
        sa.Column("file_id", AutoString(length=64), nullable=False),
        sa.Column("offset", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_device_ts", ["device_id", "ts"], unique=False)
        batch_op.create_index("ix_events_domain", ["domain"], unique=False)
        batch_op.create_index("ix_events_ip_ts", ["client_ip", "ts"], unique=False)
        batch_op.create_index("ix_events_ts", ["ts"], unique=False)
        batch_op.create_index("ix_events_user_ts", ["username", "ts"], unique=False)

    op.create_table(
        "leases",
        sa.Column("id", AutoString(length=32), nullable=False),
        sa.Column("ip", AutoString(length=64), nullable=False),
        sa.Column("mac", AutoString(length=32), nullable=False),
        sa.Column("hostname", AutoString(length=256), nullable=True),
        sa.Column("starts", UTCDateTime(), nullable=False),
        sa.Column("ends", UTCDateTime(), nullable=True),
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.create_index("ix_leases_ip_starts", ["ip", "starts"], unique=False)
        batch_op.create_index(batch_op.f("ix_leases_mac"), ["mac"], unique=False)

    op.create_table(
        "list_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", AutoString(length=256), nullable=False),
        sa.Column("category", AutoString(length=32), nullable=False),
        sa.Column("fmt", AutoString(length=32), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", AutoString(length=64), nullable=False),
        sa.Column("domains", sa.Integer(), nullable=False),
        sa.Column("urls", sa.Integer(), nullable=False),
        sa.Column("expressions", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.Column("imported_by", AutoString(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("list_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_list_versions_name"), ["name"], unique=False)

    op.create_table(
        "matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", AutoString(length=32), nullable=False),
        sa.Column("category", AutoString(length=32), nullable=False),
        sa.Column("list_name", AutoString(length=256), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("allow", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matches_event_id"), ["event_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", AutoString(length=256), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_to", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_status"), ["status"], unique=False)

    op.create_table(
        "people",
        sa.Column("username", AutoString(length=256), nullable=False),
        sa.Column("display_name", AutoString(length=256), nullable=False),
        sa.Column("role", AutoString(length=32), nullable=False),
        sa.Column("year_group", AutoString(length=8), nullable=True),
        sa.Column("class_name", AutoString(length=64), nullable=True),
        sa.Column("email", AutoString(length=256), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "rejected",
        sa.Column("id", AutoString(length=32), nullable=False),
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("fmt", AutoString(length=32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("file_id", AutoString(length=64), nullable=False),
        sa.Column("offset", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rejected", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rejected_source"), ["source"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("rejected", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejected_source"))

    op.drop_table("rejected")
    op.drop_table("people")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_alert_id"))

    op.drop_table("outbox")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matches_event_id"))

    op.drop_table("matches")
    with op.batch_alter_table("list_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_list_versions_name"))

    op.drop_table("list_versions")
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leases_mac"))
        batch_op.drop_index("ix_leases_ip_starts")

    op.drop_table("leases")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_user_ts")
        batch_op.drop_index("ix_events_ts")
        batch_op.drop_index("ix_events_ip_ts")
        batch_op.drop_index("ix_events_domain")
        batch_op.drop_index("ix_events_device_ts")

    op.drop_table("events")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_mac"))

    op.drop_table("devices")
    op.drop_table("checkpoints")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_action"))

    op.drop_table("audit")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_group")

    op.drop_table("alerts")
    op.drop_table("alert_events")
