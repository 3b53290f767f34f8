"""Making a store cold before a query: its files dropped from the operating system's page
cache (``posix_fadvise(DONTNEED)``, this store's files only, so the other work on the
machine keeps its cache) and, for PostgreSQL, its server restarted so that its shared
buffers are empty too. Used by ``bench/bigsearch.py --evict``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PG_CTL = Path("/usr/lib/postgresql/15/bin/pg_ctl")


def drop_file(path: Path) -> None:
    """Drop ``path``'s pages from the page cache (dirty pages are written first)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def drop_tree(folder: Path) -> int:
    """Drop every file under ``folder`` from the page cache; return how many."""
    n = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                drop_file(Path(root) / name)
            except OSError:  # a file removed meanwhile, or a socket
                continue
            n += 1
    return n


def restart_pg(data: Path) -> None:
    """Restart the PostgreSQL server of ``data`` (run as the owner of ``data``, with the
    options it was started with: ``postmaster.opts``), so its shared buffers are empty."""
    owner = data.owner()
    run = ["runuser", "-u", owner, "--"] if os.geteuid() == 0 and owner != "root" else []
    log = ["-l", str(data.parent / "server.log")] if (data.parent / "server.log").exists() else []
    subprocess.run(
        [*run, str(PG_CTL), "-D", str(data), *log, "-m", "fast", "-w", "restart"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def make_cold(store: str, pg_data: Path | None) -> None:
    """``store`` (a SQLite file's URL, or a PostgreSQL URL with ``pg_data``) made cold."""
    if store.startswith("sqlite:///"):
        db = Path(store.removeprefix("sqlite:///"))
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            if path.exists():
                drop_file(path)
        return
    if pg_data is None:
        raise ValueError("--evict on PostgreSQL needs --pg-data (the server's data folder)")
    restart_pg(pg_data)
    drop_tree(pg_data / "base")
