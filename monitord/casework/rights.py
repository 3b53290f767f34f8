"""Backups and data rights: ``monitord backup`` copies the store while it runs; ``monitord sar``
gathers everything held about one person for a subject access request."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import zipfile
from contextlib import closing
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from monitord.casework.subject import README, gather
from monitord.core.private import open_new, private_temp, private_workdir
from monitord.store.database import audit


class RightsError(Exception):
    """A backup or request that cannot be made; the message says why."""


def backup(engine: Engine, target: Path) -> int:
    """A consistent copy of the store into ``target`` while monitord keeps running: SQLite's
    online backup, or ``pg_dump`` for PostgreSQL. Returns the bytes written."""
    if engine.dialect.name not in ("sqlite", "postgresql"):
        raise RightsError(f"no backup method for a {engine.dialect.name} store")
    # The copy is made in a folder of its own that nobody else can enter (SQLite and
    # pg_dump open files by name), then renamed into place: a link planted at the target's
    # name is replaced, never written through.
    with private_workdir(target.parent) as work:
        tmp = work / "backup"
        os.close(open_new(tmp))
        if engine.dialect.name == "sqlite":
            source = engine.url.database
            if not source or source == ":memory:":
                raise RightsError("the store is in memory: nothing to back up")
            with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(tmp)) as dst:
                src.backup(dst, pages=1024)
        else:
            _pg_dump(engine, tmp)
        os.replace(tmp, target)
    return target.stat().st_size


def pg_dump_command(engine: Engine, out: Path) -> tuple[list[str], dict[str, str]]:
    """pg_dump's arguments and environment for the store: the password, if the URL has one,
    goes in PGPASSWORD (only the process's own user can read it), never on the command line
    that every user of the server sees in ps; without one, ~/.pgpass or PGPASSFILE serves."""
    url = engine.url
    params: dict[str, str] = {
        key: str(value[-1] if isinstance(value, tuple) else value)
        for key, value in url.query.items()
        if key != "password"
    }
    for key, value in (("host", url.host), ("port", url.port), ("user", url.username)):
        if value:
            params[key] = str(value)
    params["dbname"] = url.database or ""
    conninfo = " ".join(f"{k}={_conninfo_value(v)}" for k, v in params.items())
    argv = ["pg_dump", "--format=custom", f"--file={out}", "--no-password", "--dbname", conninfo]
    env = dict(os.environ)
    password = url.password or url.query.get("password")
    if password:
        env["PGPASSWORD"] = str(password[-1] if isinstance(password, tuple) else password)
    return argv, env


def _conninfo_value(value: str) -> str:
    """A value in a libpq connection string: quoted, with quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pg_dump(engine: Engine, out: Path) -> None:
    if shutil.which("pg_dump") is None:
        raise RightsError("pg_dump is not installed (apt-get install postgresql-client)")
    argv, env = pg_dump_command(engine, out)
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        raise RightsError(f"pg_dump failed: {done.stderr.decode(errors='replace').strip()}")


def subject_access(
    engine: Engine, username: str, target: Path, actor: str, reason: str, now: datetime
) -> dict[str, int]:
    """A zip of everything held about ``username`` (``monitord.casework.subject``). The request
    itself is recorded in the audit trail."""
    user = username.lower()
    with engine.connect() as conn:
        # This school's records of them: a user name is only unique within a school.
        parts = gather(conn, user)
    if not parts["person"] and not parts["accounts"]:
        raise RightsError(
            f"no one with the user name {username!r} on the roster or among the accounts"
        )
    with (
        private_temp(target) as fh,
        zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as bundle,
    ):
        for name, rows in parts.items():
            bundle.writestr(f"{name}.json", json.dumps(rows, indent=2, ensure_ascii=False))
        bundle.writestr(
            "README.txt",
            README.format(user=user, now=now.isoformat(), actor=actor, reason=reason),
        )
    counts = {name: len(rows) for name, rows in parts.items()}
    with engine.begin() as conn:
        audit(conn, actor, "sar.export", f"person:{user}", {"reason": reason, **counts}, now=now)
    return counts
