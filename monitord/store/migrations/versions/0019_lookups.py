"""lookups: DNS lookups that matched nothing, in narrow rows with their lines in blocks

``lookups``: one row a lookup (its id as 16 bytes, its time in microseconds, keys to its
name, its party and its block of raw lines); ``lookup_names``: each name once;
``lookup_parties``: who looked, from where, as an event row would have said it;
``raw_blocks``: the lines as read, zstandard-compressed a source's file and day at a time.
Events stored before stay in ``events``; see docs/store.md. The view ``all_events`` reads
both as event rows (its ``raw`` is NULL for a lookup: its line is in its block).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lookups",
        sa.Column("id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("ts", _BIG, nullable=False),
        sa.Column("name", sa.Integer(), nullable=False),
        sa.Column("qtype", AutoString(length=16), nullable=True),
        sa.Column("party", sa.Integer(), nullable=False),
        sa.Column("block", _BIG, nullable=False),
        sa.Column("offset", _BIG, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lookups_party_ts", "lookups", ["party", "ts"])
    op.create_index("ix_lookups_name_ts", "lookups", ["name", "ts"])
    op.create_index("ix_lookups_ts", "lookups", ["ts"])
    op.create_table(
        "lookup_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("domain", AutoString(length=512), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("domain"),
    )
    op.create_table(
        "lookup_parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", AutoString(length=32), nullable=False),
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("fmt", AutoString(length=32), nullable=False),
        sa.Column("kind", AutoString(length=16), nullable=False),
        sa.Column("client_ip", AutoString(length=64), nullable=True),
        sa.Column("client_mac", AutoString(length=32), nullable=True),
        sa.Column("user", AutoString(length=256), nullable=True),
        sa.Column("hostname", AutoString(length=256), nullable=True),
        sa.Column("username", AutoString(length=256), nullable=True),
        sa.Column("device_id", AutoString(length=128), nullable=True),
        sa.Column("role", AutoString(length=32), nullable=True),
        sa.Column("year_group", AutoString(length=8), nullable=True),
        sa.Column("attributed_by", AutoString(length=24), nullable=True),
        sa.Column("attribution", AutoString(length=512), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    for column in ("client_ip", "username", "device_id"):
        op.create_index(f"ix_lookup_parties_{column}", "lookup_parties", [column])
    op.create_table(
        "raw_blocks",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("site_id", AutoString(length=64), nullable=False),
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("file_id", AutoString(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("first_ts", _BIG, nullable=False),
        sa.Column("last_ts", _BIG, nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_raw_blocks_last_ts", "raw_blocks", ["last_ts"])

    op.execute(all_events_view(op.get_bind().dialect.name))


# The columns of ``events`` the view gives, in its order.
_SAME = (
    'id, site_id, ts, source, fmt, kind, client_ip, client_mac, "user", domain, url, method, '
    "qtype, action, blocked, status, size, hostname, text, username, device_id, role, "
    'year_group, attributed_by, attribution, category, severity, file_id, "offset", '
    "filter_category, sender, received_at, raw, agent"
)


def all_events_view(dialect: str) -> str:
    """Every stored event, as an ``events`` row: the events, then the lookups."""
    if dialect == "sqlite":
        ident = "lower(hex(l.id))"
        # As bulk ingest writes an event's time: ``2026-11-19 10:01:02.000000``.
        ts = (
            "strftime('%Y-%m-%d %H:%M:%S', l.ts / 1000000, 'unixepoch') "
            "|| printf('.%06d', l.ts % 1000000)"
        )
        false = "0"
    else:
        ident = "encode(l.id, 'hex')"
        ts = "TIMESTAMP '1970-01-01' + l.ts * INTERVAL '1 microsecond'"
        false = "false"
    lookups = (
        f"SELECT {ident}, p.site_id, {ts}, p.source, p.fmt, p.kind, p.client_ip, "
        f'p.client_mac, p."user", n.domain, NULL, NULL, l.qtype, NULL, {false}, NULL, NULL, '
        "p.hostname, NULL, p.username, p.device_id, p.role, p.year_group, p.attributed_by, "
        "p.attribution, NULL, 'none', b.file_id, l.\"offset\", NULL, NULL, NULL, NULL, NULL "
        "FROM lookups AS l JOIN lookup_parties AS p ON p.id = l.party "
        "JOIN lookup_names AS n ON n.id = l.name JOIN raw_blocks AS b ON b.id = l.block"
    )
    return f"CREATE VIEW all_events AS SELECT {_SAME} FROM events UNION ALL {lookups}"


def downgrade() -> None:
    op.execute("DROP VIEW all_events")
    op.drop_table("raw_blocks")
    op.drop_table("lookup_parties")
    op.drop_table("lookup_names")
    op.drop_table("lookups")
