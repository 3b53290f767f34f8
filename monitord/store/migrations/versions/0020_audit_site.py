"""audit site: each audit record names its school, and its hash covers it

In a trust's shared store every school's daemon and console write to one audit trail; until
now a record did not say whose it was, so a school's trail page showed another school's
sign-ins, searches and case work. ``site_id`` is the school a record belongs to; ``version``
is the form of its hash: 0 for the records written before this revision (their hash was made
over the previous hash, time, actor, action, subject and detail), 1 for every record written
since (the same and the site). ``monitord evidence verify`` checks each record in its own
form, so the chain written before still verifies; the hashes already written are left as
they are, since the anchors kept outside the store name them.

Which school the records already written belong to cannot be read from them. They are given
the site of the store as it is opened for the upgrade (``[school] site_id`` of the config
that runs ``monitord db upgrade``), or ``default`` when it is opened without one: a store
that one school has to itself was written by that school alone, so its trail stays whole
and its own; a trust upgrading a shared store gives the records from before to the school
that ran the upgrade, whose readers alone then see them (rather than every school seeing
each other's, as before). The site of a record written before is outside its hash.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

DEFAULT_SITE = "default"


def upgrade() -> None:
    bind = op.get_bind()
    site = str(bind.get_execution_options().get("site_id", DEFAULT_SITE))
    if site == "*":  # a trust-wide view is no school
        site = DEFAULT_SITE
    with op.batch_alter_table("audit") as batch:
        batch.add_column(
            sa.Column("site_id", sa.String(64), nullable=False, server_default=DEFAULT_SITE)
        )
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    if site != DEFAULT_SITE:
        bind.execute(sa.text("UPDATE audit SET site_id = :site"), {"site": site})
    op.create_index("ix_audit_site_id_id", "audit", ["site_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_site_id_id", table_name="audit")
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("version")
        batch.drop_column("site_id")
