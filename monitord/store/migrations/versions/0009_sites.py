"""sites: every school's own rows in a store that several schools share

A trust points many schools' daemons at one PostgreSQL database, each with its own
``[school] site_id``. Events and alerts carried the site already; now so does everything a
daemon reads back as its own: the roster and the inventory (a username or a device name is
only unique within a school), address leases and reservations (schools reuse the same private
addresses), supply visits, where each source has read to, the agents allowed to report, the
silences, rejected lines and the mail waiting to go. People, devices, read positions and agents
are keyed by site and name. A store of one school has every row at ``default``, as before.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import importlib
import warnings

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Table -> its key within a site (a new primary key with the site first), or None for a
# table that only gains the column.
TABLES: dict[str, list[str] | None] = {
    "people": ["username"],
    "devices": ["device_id"],
    "checkpoints": ["source"],
    "agents": ["name"],
    "leases": None,
    "reservations": None,
    "supply_visits": None,
    "silences": None,
    "rejected": None,
    "outbox": None,
}


def _site_column() -> sa.Column[str]:
    return sa.Column("site_id", sa.String(64), nullable=False, server_default="default")


def _sqlite_rekey(table: str, key: list[str], *, add: bool) -> None:
    """SQLite: copy the table anew with the site column added (or dropped) and ``key`` as
    its primary key. SQLAlchemy warns that the new key differs from the copied one's,
    which is the point."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_", sa.exc.SAWarning)
        with op.batch_alter_table(table, recreate="always") as batch:
            if add:
                batch.add_column(_site_column())
            else:
                batch.drop_column("site_id")
            batch.create_primary_key(f"{table}_pkey", key)


def _checkpoint_triggers() -> None:
    """SQLite: make again the triggers on ``checkpoints`` that copying the table dropped
    (migration 0007's, which move queued events into the text index), where there is one."""
    bind = op.get_bind()
    found = bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events_text'"
    ).first()
    if found is None:
        return
    search = importlib.import_module("monitord.store.migrations.versions.0007_search")
    for statement in search.SQLITE_TEXT_INDEX:
        if " ON checkpoints" in statement:
            op.execute(statement)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, key in TABLES.items():
        if key is None:
            op.add_column(table, _site_column())
            op.create_index(f"ix_{table}_site_id", table, ["site_id"])
        elif postgresql:
            op.add_column(table, _site_column())
            op.drop_constraint(f"{table}_pkey", table, type_="primary")
            op.create_primary_key(f"{table}_pkey", table, ["site_id", *key])
        else:
            _sqlite_rekey(table, ["site_id", *key], add=True)
    if not postgresql:
        _checkpoint_triggers()


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, key in TABLES.items():
        if key is None:
            op.drop_index(f"ix_{table}_site_id", table_name=table)
            op.drop_column(table, "site_id")
        elif postgresql:
            op.drop_constraint(f"{table}_pkey", table, type_="primary")
            op.drop_column(table, "site_id")
            op.create_primary_key(f"{table}_pkey", table, key)
        else:
            _sqlite_rekey(table, key, add=False)
    if not postgresql:
        _checkpoint_triggers()
