"""SQLite: a person's events read from their index alone

``monitord search --user`` and ``monitord timeline --user`` read one person's day: thousands
of events, each on a page of its own among everyone else's. ``ix_events_user_ts`` (username,
time) gave their rowids in order and each row was then fetched, a page a row; on 50 million
events the fetches were a third of the time of a whole day (4,262 events). On SQLite the
index now holds, after the username and the time, every column search and timeline show
(the event's id first, which breaks ties in time) and the site, so that the day is read
from the index's own pages, a person's events side by side. It costs about 130 bytes an
event (the URL and text are most of it).

PostgreSQL keeps (username, ts): its index entries have a size limit a long URL or text
would pass, and its planner chooses for itself.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The columns after (username, ts), as ``monitord.casework.search`` reads them.
SHOWN = (
    "id, url, text, domain, source, fmt, kind, client_ip, role, year_group, device_id, "
    "category, severity, blocked, site_id"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP INDEX ix_events_user_ts")
    op.execute(f"CREATE INDEX ix_events_user_ts ON events (username, ts, {SHOWN})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP INDEX ix_events_user_ts")
    op.execute("CREATE INDEX ix_events_user_ts ON events (username, ts)")
