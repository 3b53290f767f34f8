"""The key the accounts' TOTP secrets are encrypted with, kept outside the store.

A TOTP secret has to be kept to check codes, so it cannot be hashed like a password. The
store keeps it encrypted with AES-256-GCM under a key in a file of its own: ``[web]
totp_key_file``, by default ``totp.key`` in the server's state folder (beside a SQLite
store; beside the lists folder with PostgreSQL). A copy of the store, a ``monitord backup``
or a ``pg_dump`` gives nobody a second factor without that file. The school and the user
name are bound into each encrypted secret (associated data), so that one account's secret
copied onto another in the store does not decrypt.

The file (32 random bytes in base64, 0600 in a 0700 folder) is made the first time a
secret is encrypted, and never while the school's accounts hold secrets encrypted already:
then a missing or wrong file is an error naming it (``TotpKeyError``), not a sign-in that
fails for everyone. Secrets kept before encryption (plain base32) keep working and are
encrypted by ``seal_plain``, which ``monitord db upgrade``, ``monitord web`` and every
``monitord users`` command run.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, func, select, update

from monitord.casework.trail import anchor_file
from monitord.core.private import tighten, write_private
from monitord.settings.config import Config
from monitord.store.database import audit, mine, site_of, table_of
from monitord.store.tables import AccountRow

PREFIX = "aesgcm1:"  # an encrypted secret: PREFIX + base64url(nonce + ciphertext + tag)
NONCE = 12
KEY_BYTES = 32
FILE_NAME = "totp.key"


class TotpKeyError(Exception):
    """The key file cannot be used: missing, unreadable or not the key the secrets were
    encrypted with. The message names the file and says what to do."""


def key_file(cfg: Config) -> Path:
    """Where the key is: ``[web] totp_key_file``, or ``totp.key`` in the state folder."""
    name = cfg.settings.web.totp_key_file
    return cfg.resolve(name) if name else anchor_file(cfg).parent / FILE_NAME


def sealed(stored: str | None) -> bool:
    """Whether a stored secret is an encrypted one."""
    return stored is not None and stored.startswith(PREFIX)


def _aad(bind: Engine | Connection, username: str) -> bytes:
    return f"{site_of(bind)}\x00{username}".encode()


def _has_sealed(conn: Connection) -> bool:
    t = table_of(AccountRow)
    found = conn.execute(
        select(func.count())
        .select_from(t)
        .where(mine(conn, t.c.site_id), t.c.totp_secret.startswith(PREFIX, autoescape=True))
    ).scalar()
    return bool(found)


class TotpKey:
    """The key file at ``path``, read when first needed (and made when first needed, if
    nothing in the store was encrypted before), then kept in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._aead: AESGCM | None = None
        self._lock = threading.Lock()

    def _missing(self) -> TotpKeyError:
        return TotpKeyError(
            f"{self.path}: the key the accounts' two-factor secrets are encrypted with is "
            "missing ([web] totp_key_file): put it back from where it was kept (it is not in "
            "the store or its backups), or, if it is lost, give each account a new second "
            "factor with `monitord users reset-2fa USERNAME`"
        )

    def _read(self) -> AESGCM | None:
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TotpKeyError(
                f"{self.path}: cannot read the two-factor key ([web] totp_key_file): "
                f"{exc.strerror}; it must be readable by the user monitord runs as"
            ) from None
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise TotpKeyError(
                f"{self.path}: not a two-factor key monitord made ([web] totp_key_file): "
                f"expected {KEY_BYTES} bytes in base64 on one line"
            )
        tighten(self.path)
        return AESGCM(key)

    def _make(self) -> AESGCM:
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        try:
            write_private(self.path, base64.b64encode(key) + b"\n", replace=False)
        except FileExistsError:  # another process made it meanwhile: theirs is the key
            made = self._read()
            if made is None:
                raise self._missing() from None
            return made
        return AESGCM(key)

    def cipher(self, conn: Connection | None = None) -> AESGCM:
        """The key, read from its file; made if missing and ``conn`` (a connection to the
        store about to keep a secret) shows that no secret was encrypted before."""
        with self._lock:
            if self._aead is None:
                self._aead = self._read()
            if self._aead is None:
                if conn is None or _has_sealed(conn):
                    raise self._missing()
                self._aead = self._make()
            return self._aead

    def check(self, engine: Engine) -> None:
        """Before serving: the key is there if the school's accounts need it (TotpKeyError
        naming the file if not)."""
        with engine.connect() as conn:
            if _has_sealed(conn):
                self.cipher()

    def seal(self, conn: Connection, username: str, secret: str) -> str:
        """The base32 ``secret`` of ``username`` as the store keeps it: encrypted."""
        raw = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
        nonce = os.urandom(NONCE)
        box = self.cipher(conn).encrypt(nonce, raw, _aad(conn, username))
        return PREFIX + base64.urlsafe_b64encode(nonce + box).decode().rstrip("=")

    def open(self, bind: Engine | Connection, username: str, stored: str | None) -> str | None:
        """The base32 secret of ``username`` from its stored value (None stays None; a
        secret kept before encryption is taken as it is)."""
        if stored is None or not sealed(stored):
            return stored
        body = stored[len(PREFIX) :]
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            raw = self.cipher().decrypt(blob[:NONCE], blob[NONCE:], _aad(bind, username))
        except (InvalidTag, binascii.Error, ValueError):
            raise TotpKeyError(
                f"{self.path}: the two-factor secret of account {username} does not decrypt "
                "with this key ([web] totp_key_file): put back the key it was encrypted with, "
                f"or give the account a new one with `monitord users reset-2fa {username}`"
            ) from None
        return base64.b32encode(raw).decode().rstrip("=")


def seal_plain(engine: Engine, key: TotpKey, actor: str, now: datetime) -> list[str]:
    """Encrypt every secret of the school's accounts still kept plain (from before secrets
    were encrypted), each recorded in the audit trail; returns the accounts' names."""
    t = table_of(AccountRow)
    with engine.begin() as conn:
        found = conn.execute(
            select(t.c.username, t.c.totp_secret).where(
                mine(conn, t.c.site_id),
                t.c.totp_secret.is_not(None),
                ~t.c.totp_secret.startswith(PREFIX, autoescape=True),
            )
        ).all()
        for name, secret in found:
            conn.execute(
                update(t)
                .where(mine(conn, t.c.site_id), t.c.username == name)
                .values(totp_secret=key.seal(conn, name, secret))
            )
            detail = {"site": site_of(conn), "key_file": str(key.path)}
            audit(conn, actor, "account.totp_encrypted", f"account:{name}", detail, now=now)
    return [str(name) for name, _ in found]
