"""accounts: room for a TOTP secret kept encrypted

``accounts.totp_secret`` holds the secret encrypted with the key in ``[web] totp_key_file``
(AES-256-GCM: a prefix, the nonce, the secret and the tag in base64), longer than the plain
base32 it held before. Secrets already stored are encrypted by ``monitord db upgrade``
itself once this revision is in place (the migration cannot: the key is not in the store).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _width(before: int, after: int) -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column(
            "totp_secret",
            existing_type=AutoString(length=before),
            type_=AutoString(length=after),
            existing_nullable=True,
        )


def upgrade() -> None:
    _width(64, 128)


def downgrade() -> None:
    _width(128, 64)
