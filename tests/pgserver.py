"""A real PostgreSQL server for the store tests.

The server is the machine's own (``initdb`` and ``pg_ctl`` from Debian's postgresql
package), started in a private folder and reached through a Unix socket there only; run as
the ``postgres`` user when the tests run as root, as the user itself otherwise. One database
is migrated once to the current schema and every test gets a copy of it (``CREATE DATABASE
... TEMPLATE``), dropped afterwards.

Where no server can be started the tests that need one are skipped with the reason, unless
``MONITORD_TEST_POSTGRESQL=required`` (as CI sets it), which makes that a failure.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from monitord.store.database import open_store

TEMPLATE = "monitord_template"


class Unavailable(Exception):
    """No PostgreSQL server can be started here."""


def _bindir() -> Path:
    """The folder holding initdb and pg_ctl: Debian's newest, or the PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise Unavailable("initdb not found (Debian: apt-get install postgresql)")


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


class PostgresServer:
    """A throwaway cluster; ``url(name)`` reaches one of its databases."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.folder = Path(tempfile.mkdtemp(prefix="monitord-pg-"))
        self.data = self.folder / "data"
        self._names = itertools.count(1)
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise Unavailable("running as root and there is no postgres user") from exc
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.folder.chmod(0o700)

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise Unavailable(f"{Path(args[0]).name} failed: {done.stderr.strip()[-400:]}")

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            # Not "C": lower() then folds every letter, not only ASCII (search by text).
            "--locale=C.UTF-8",
            "--no-sync",
        )
        # A test server: nothing here needs to survive a power cut.
        options = (
            f"-k {self.folder} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "start",
        )
        with self._admin() as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        open_store(self.url(TEMPLATE)).dispose()

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                [
                    *self._as,
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "stop",
                ],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.folder}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host=str(self.folder), user="postgres", autocommit=True)

    def new_database(self, *, migrated: bool = True) -> str:
        """A new database, at the current schema and empty (or with no tables at all); its
        name."""
        name = f"t{os.getpid()}_{next(self._names)}"
        template = TEMPLATE if migrated else "template0"
        with self._admin() as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
