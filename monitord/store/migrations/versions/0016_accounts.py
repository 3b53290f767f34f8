"""accounts: staff who sign in, their recovery codes, sign-in attempts and console sessions

``accounts``: one per member of staff and school, with a role, an argon2id password hash,
a TOTP secret and the last time step accepted, an enrolment state and the hash of the
one-time enrolment code. ``recovery_codes``: each account's one-time codes, hashed.
``signin_attempts``: who tried to sign in, from where, when and how it ended (lock-out).
``web_sessions``: the console's sessions, by the hash of their id.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("username", AutoString(length=64), nullable=False),
        sa.Column("full_name", AutoString(length=256), nullable=False),
        sa.Column("email", AutoString(length=256), nullable=False),
        sa.Column("role", AutoString(length=16), nullable=False),
        sa.Column("password_hash", AutoString(length=256), nullable=True),
        sa.Column("totp_secret", AutoString(length=64), nullable=True),
        sa.Column("totp_step", _BIG, nullable=False),
        sa.Column("state", AutoString(length=16), nullable=False),
        sa.Column("enrol_hash", AutoString(length=64), nullable=True),
        sa.Column("enrol_expires", UTCDateTime(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "username"),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("username", AutoString(length=64), nullable=False),
        sa.Column("code_hash", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("site_id", "username", "code_hash"),
    )
    op.create_table(
        "signin_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("username", AutoString(length=64), nullable=False),
        sa.Column("address", AutoString(length=64), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("outcome", AutoString(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_signin_attempts_username_ts", "signin_attempts", ["site_id", "username", "ts"]
    )
    op.create_index(
        "ix_signin_attempts_address_ts", "signin_attempts", ["site_id", "address", "ts"]
    )
    op.create_table(
        "web_sessions",
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("id_hash", AutoString(length=64), nullable=False),
        sa.Column("username", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("csrf", AutoString(length=64), nullable=False),
        sa.Column("address", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_web_sessions_username", "web_sessions", ["username"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_username", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index("ix_signin_attempts_address_ts", table_name="signin_attempts")
    op.drop_index("ix_signin_attempts_username_ts", table_name="signin_attempts")
    op.drop_table("signin_attempts")
    op.drop_table("recovery_codes")
    op.drop_table("accounts")
