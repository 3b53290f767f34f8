"""postgresql: events partitioned by day, trigram indexes for text search, wider counters

A trust's store on PostgreSQL holds many schools' events, months of them. ``events`` becomes
a table partitioned by range of ``ts``, one partition a day in UTC (``events_pYYYYMMDD``,
made as the first event of a day arrives: ``monitord.store.partitions``), so that retention
drops a whole day at once rather than deleting its rows one by one. A partitioned table's
primary key must hold the partition key: it is (id, ts), and an event's time comes from its
origin line as its id does, so the pair is as unique as the id alone.

``monitord search --text`` is served by pg_trgm GIN indexes on the lower-cased URL and text
(the extension is trusted: the database owner may create it). ``size`` and ``offset`` become
64-bit: a download or a log file can pass 2 GiB.

SQLite is unchanged: its INTEGER is already 64-bit and its text index is FTS5 (0007).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The event indexes, as the models declare them (``monitord.store.tables.EventRow``).
INDEXES = [
    "CREATE INDEX ix_events_ts ON events (ts)",
    "CREATE INDEX ix_events_ip_ts ON events (client_ip, ts)",
    "CREATE INDEX ix_events_user_ts ON events (username, ts)",
    "CREATE INDEX ix_events_device_ts ON events (device_id, ts)",
    "CREATE INDEX ix_events_domain_ts ON events (domain, ts)",
    "CREATE INDEX ix_events_category_ts ON events (category, ts) WHERE category IS NOT NULL",
    "CREATE INDEX ix_events_sessions ON events (ts) WHERE kind IN ('logon', 'logoff')",
]
TRIGRAM_INDEXES = [
    "CREATE INDEX ix_events_url_trgm ON events USING gin (lower(url) gin_trgm_ops) "
    "WHERE url IS NOT NULL",
    "CREATE INDEX ix_events_text_trgm ON events USING gin (lower(text) gin_trgm_ops) "
    "WHERE text IS NOT NULL",
]
DOMAIN_TRIGGER = (
    "CREATE TRIGGER events_domain_name AFTER INSERT OR UPDATE OF domain ON events "
    "FOR EACH ROW EXECUTE FUNCTION monitord_domain_name()"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from monitord.store.partitions import create_partition, day_of

    op.execute("ALTER TABLE events RENAME TO events_unpartitioned")
    op.execute("ALTER TABLE events_unpartitioned DROP CONSTRAINT events_pkey")
    for statement in INDEXES:
        name = statement.split()[2]
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")
    op.execute(
        "CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (ts)"
    )
    op.execute("ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (id, ts)")
    op.execute("ALTER TABLE events ALTER COLUMN size TYPE BIGINT")
    op.execute('ALTER TABLE events ALTER COLUMN "offset" TYPE BIGINT')
    for statement in INDEXES:
        op.execute(statement)
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for statement in TRIGRAM_INDEXES:
        op.execute(statement)
    days = bind.execute(text("SELECT DISTINCT date_trunc('day', ts) FROM events_unpartitioned"))
    for (start,) in days:
        create_partition(bind, day_of(start))
    op.execute("INSERT INTO events SELECT * FROM events_unpartitioned")
    op.execute("DROP TABLE events_unpartitioned")
    op.execute(DOMAIN_TRIGGER)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE events RENAME TO events_partitioned")
    for statement in INDEXES:
        name = statement.split()[2]
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")
    op.execute("ALTER INDEX events_pkey RENAME TO events_pkey_old")
    for statement in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX {statement.split()[2]}")
    op.execute("CREATE TABLE events (LIKE events_partitioned INCLUDING DEFAULTS)")
    op.execute("ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (id)")
    op.execute("ALTER TABLE events ALTER COLUMN size TYPE INTEGER")
    op.execute('ALTER TABLE events ALTER COLUMN "offset" TYPE INTEGER')
    op.execute("INSERT INTO events SELECT * FROM events_partitioned")
    op.execute("DROP TABLE events_partitioned")
    for statement in INDEXES:
        op.execute(statement)
    op.execute(DOMAIN_TRIGGER)
