"""lookup requests: proxy requests that opened no alert, in ``lookups``

A proxy request (Squid's and the other proxies' formats) whose category opened no alert
holds nothing a lookup's row cannot: its time, party, host name and line, and besides them
its URL, method, the proxy's action and status and its bytes. It is kept in ``lookups`` from
now on, as DNS lookups are (docs/store.md): ``url`` is a key to ``lookup_urls`` (each URL
once), ``request`` a key to ``lookup_requests`` (each method, action and status once),
``size`` its bytes; all three NULL for a DNS lookup. Search by a text of a URL reads the
URLs that hold it, then their requests by ``ix_lookups_url_ts`` (proxy requests only; on
PostgreSQL ``ix_lookups_url``, by URL alone within each day's partition, as 0024 made the
others).
``all_events`` gives a request's URL, method, action, status and bytes.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def all_events_view(dialect: str) -> str:
    """Every stored event, as an ``events`` row: the events, then the lookups (a proxy
    request's URL, method, action, status and bytes from its keys)."""
    before = importlib.import_module("monitord.store.migrations.versions.0021_lean_lookups")
    view = str(before.all_events_view(dialect))
    false = "0" if dialect == "sqlite" else "false"
    plain = f"n.domain, NULL, NULL, l.qtype, NULL, {false}, NULL, NULL,"
    assert plain in view
    request = f"n.domain, u.url, r.method, l.qtype, r.action, {false}, r.status, l.size,"
    return (
        view.replace(plain, request)
        + " LEFT JOIN lookup_urls AS u ON u.id = l.url"
        + " LEFT JOIN lookup_requests AS r ON r.id = l.request"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute("DROP VIEW all_events")
    op.create_table(
        "lookup_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", AutoString(length=32), nullable=False),
        sa.Column("method", AutoString(length=16), nullable=True),
        sa.Column("action", AutoString(length=64), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_table(
        "lookup_urls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", AutoString(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    with op.batch_alter_table("lookups") as batch:
        batch.add_column(sa.Column("request", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("url", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("size", big, nullable=True))
    if dialect == "sqlite":
        op.create_index(
            "ix_lookups_url_ts", "lookups", ["url", "ts"], sqlite_where=sa.text("url IS NOT NULL")
        )
    else:
        op.execute("CREATE INDEX ix_lookups_url ON lookups (url) WHERE url IS NOT NULL")
    op.execute(all_events_view(dialect))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute("DROP VIEW all_events")
    # Proxy requests go, as 0021 let lookups 0019 could not hold go: 0024 has no room for
    # their URLs (their lines are in blocks, which SQL cannot open to make them events).
    op.execute("DELETE FROM lookups WHERE url IS NOT NULL OR request IS NOT NULL")
    op.execute(f"DROP INDEX {'ix_lookups_url_ts' if dialect == 'sqlite' else 'ix_lookups_url'}")
    with op.batch_alter_table("lookups") as batch:
        batch.drop_column("size")
        batch.drop_column("url")
        batch.drop_column("request")
    op.drop_table("lookup_urls")
    op.drop_table("lookup_requests")
    before = importlib.import_module("monitord.store.migrations.versions.0021_lean_lookups")
    op.execute(before.all_events_view(dialect))
