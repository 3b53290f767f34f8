"""lookup verdicts by time: an index of the lookups that have a verdict

A DNS lookup whose category opens no alert (a low-severity ``video_streaming``, say) is kept
in ``lookups`` from now on, its category and severity in its verdict, as lookups that
matched an allow list already are. The weekly report, the digest and search read such
lookups by severity or category in a span of time: ``ix_lookups_verdict_ts`` (verdict,
time) holds only lookups with a verdict, so a lookup that matched nothing costs it nothing.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_lookups_verdict_ts",
        "lookups",
        ["verdict", "ts"],
        sqlite_where=sa.text("verdict IS NOT NULL"),
        postgresql_where=sa.text("verdict IS NOT NULL"),
    )


def downgrade() -> None:
    # Lookups with a category stay where they are: ``all_events`` gives them with their
    # category as before, but 0021's reports do not count them.
    op.drop_index("ix_lookups_verdict_ts", table_name="lookups")
