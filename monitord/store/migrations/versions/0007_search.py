"""search: domain names for suffix search, a category index, and the text index

``domain_names`` holds each domain the events name once, kept by a trigger, so that
``monitord search --domain '*.tiktok.com'`` scans names rather than events.
``ix_events_domain_ts`` (domain, time) replaces ``ix_events_domain`` so that the newest events
of many names come from the index alone; ``ix_events_category_ts`` covers flagged events only.

On SQLite with FTS5, ``events_text`` is a full-text index of the events' URLs and texts with
the trigram tokenizer (any substring of three characters or more), external-content: it
holds no copy of the text, only the index, keyed by the events' rowid.

Nothing on the path of an event insert writes to it. A statement whose triggers may write to
a virtual table needs a statement journal, which SQLite then keeps for every row of ingest's
bulk insert (a copy of each page the row touches): that alone cost ingest a fifth of its
speed. So a new event with a URL or text only has its rowid put in ``events_text_queue`` (a
plain insert, next to free), and the queue is moved into the index in one statement, up to
20,000 rows at a time, when the follower commits its read position (``checkpoints``) with at
least 1,024 events waiting, and wholly before a text search (``monitord.casework.search``),
which also reads whatever is still queued. Deleting an event or changing its URL or text
takes it out of the queue, or out of the index with its old text.

PostgreSQL gets ``domain_names`` and its trigger; its text search scans (pg_trgm would be the
equivalent index).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Rows that have something for the text index.
_HAS_TEXT = "{0}.url IS NOT NULL OR {0}.text IS NOT NULL"
# Take an event out of the index (with the text it was indexed with) or out of the queue.
_UNINDEX = """
    INSERT INTO events_text(events_text, rowid, url, text)
        SELECT 'delete', old.rowid, old.url, old.text
        WHERE NOT EXISTS (SELECT 1 FROM events_text_queue WHERE event_rowid = old.rowid);
    DELETE FROM events_text_queue WHERE event_rowid = old.rowid;
"""
_OLDEST = "SELECT event_rowid FROM events_text_queue ORDER BY event_rowid LIMIT 20000"
_MOVE = f"""
    INSERT INTO events_text(rowid, url, text)
        SELECT e.rowid, e.url, e.text FROM events AS e WHERE e.rowid IN ({_OLDEST});
    DELETE FROM events_text_queue WHERE event_rowid IN ({_OLDEST});
"""
_QUEUE_FULL = "(SELECT count(*) FROM (SELECT 1 FROM events_text_queue LIMIT 1024)) = 1024"

SQLITE_TEXT_INDEX = [
    """CREATE VIRTUAL TABLE events_text USING fts5(
        url, text, content='events', content_rowid='rowid',
        tokenize='trigram', detail='none', columnsize=0
    )""",
    "CREATE TABLE events_text_queue (event_rowid INTEGER PRIMARY KEY)",
    f"""CREATE TRIGGER events_text_insert AFTER INSERT ON events
        WHEN {_HAS_TEXT.format("new")}
        BEGIN
            INSERT OR IGNORE INTO events_text_queue(event_rowid) VALUES (new.rowid);
        END""",
    f"""CREATE TRIGGER events_text_delete BEFORE DELETE ON events
        WHEN {_HAS_TEXT.format("old")}
        BEGIN {_UNINDEX} END""",
    f"""CREATE TRIGGER events_text_change BEFORE UPDATE OF url, text ON events
        WHEN {_HAS_TEXT.format("old")}
        BEGIN {_UNINDEX} END""",
    f"""CREATE TRIGGER events_text_changed AFTER UPDATE OF url, text ON events
        WHEN {_HAS_TEXT.format("new")}
        BEGIN
            INSERT OR IGNORE INTO events_text_queue(event_rowid) VALUES (new.rowid);
        END""",
    f"""CREATE TRIGGER events_text_on_checkpoint AFTER UPDATE ON checkpoints
        WHEN {_QUEUE_FULL}
        BEGIN {_MOVE} END""",
    f"""CREATE TRIGGER events_text_on_new_checkpoint AFTER INSERT ON checkpoints
        WHEN {_QUEUE_FULL}
        BEGIN {_MOVE} END""",
]

SQLITE_DOMAIN_NAMES = [
    """CREATE TRIGGER events_domain_name AFTER INSERT ON events
        WHEN new.domain IS NOT NULL
        BEGIN
            INSERT OR IGNORE INTO domain_names(domain) VALUES (new.domain);
        END""",
    """CREATE TRIGGER events_domain_name_changed AFTER UPDATE OF domain ON events
        WHEN new.domain IS NOT NULL
        BEGIN
            INSERT OR IGNORE INTO domain_names(domain) VALUES (new.domain);
        END""",
]

POSTGRESQL_DOMAIN_NAMES = [
    """CREATE FUNCTION monitord_domain_name() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.domain IS NOT NULL THEN
                INSERT INTO domain_names(domain) VALUES (NEW.domain) ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END $$""",
    """CREATE TRIGGER events_domain_name AFTER INSERT OR UPDATE OF domain ON events
        FOR EACH ROW EXECUTE FUNCTION monitord_domain_name()""",
]


def _has_fts5() -> bool:
    bind = op.get_bind()
    options = {str(r[0]) for r in bind.exec_driver_sql("PRAGMA compile_options")}
    return "ENABLE_FTS5" in options


def upgrade() -> None:
    op.create_table(
        "domain_names",
        sa.Column("domain", AutoString(length=512), nullable=False),
        sa.PrimaryKeyConstraint("domain"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_domain")
        batch_op.create_index("ix_events_domain_ts", ["domain", "ts"], unique=False)
        batch_op.create_index(
            "ix_events_category_ts",
            ["category", "ts"],
            unique=False,
            sqlite_where=sa.text("category IS NOT NULL"),
            postgresql_where=sa.text("category IS NOT NULL"),
        )
    op.execute(
        "INSERT INTO domain_names(domain) SELECT DISTINCT domain FROM events "
        "WHERE domain IS NOT NULL"
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_DOMAIN_NAMES:
            op.execute(statement)
        if _has_fts5():
            for statement in SQLITE_TEXT_INDEX:
                op.execute(statement)
            op.execute(
                "INSERT INTO events_text(rowid, url, text) SELECT rowid, url, text FROM events "
                f"WHERE {_HAS_TEXT.format('events')}"
            )
    elif dialect == "postgresql":
        for statement in POSTGRESQL_DOMAIN_NAMES:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in (
            "events_text_insert",
            "events_text_delete",
            "events_text_change",
            "events_text_changed",
            "events_text_on_checkpoint",
            "events_text_on_new_checkpoint",
            "events_domain_name",
            "events_domain_name_changed",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS events_text_queue")
        op.execute("DROP TABLE IF EXISTS events_text")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_domain_name ON events")
        op.execute("DROP FUNCTION IF EXISTS monitord_domain_name()")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_category_ts")
        batch_op.drop_index("ix_events_domain_ts")
        batch_op.create_index("ix_events_domain", ["domain"], unique=False)
    op.drop_table("domain_names")
