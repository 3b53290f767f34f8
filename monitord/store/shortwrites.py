"""Short write transactions beside a busy writer (retention's deletes while ingest stores),
each timed for as long as it holds the store's write lock.

On SQLite the lock is taken at the start (``BEGIN IMMEDIATE``) and released by the commit,
and two things are kept out of that time on the transaction's connection:

- the statement journal is kept in memory (``temp_store``): a DELETE on ``events`` needs one
  (its triggers write to the text index, so SQLite must be able to undo the statement
  alone), the first copy of every page it changes, about 5 MB for 500 events, which as a
  file spills to disk while the lock is held;
- the WAL checkpoint is taken after the transaction, once the changes since the last one
  come to ``CHECKPOINT_CHANGES`` rows, instead of by the commit that finds the WAL past its
  limit (``wal_autocheckpoint``): SQLite runs that checkpoint after releasing the lock, but
  inside the commit call, so the transaction's time would include tens to hundreds of
  milliseconds that held no writer up, and a pace judged from it would be wrong.

Both settings are the connection's own, and are put back before it returns to the pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, Engine

# Row changes between two checkpoints. Retention deletes a day in time order, so each
# transaction changes again the pages it changed before at the oldest end of every person's,
# name's and URL's entries; a checkpoint writes each page once however often it changed, so
# fewer of them write less: deleting lookups that matched nothing took 21 µs of CPU a row
# checkpointed every 20,000 changes against 28 µs every 1,000. About 2.7 pages of WAL an
# event (two changes, the text index's included).
CHECKPOINT_CHANGES = 10_000


class ShortWrites:
    """Short write transactions on ``engine``, with the changes since the last checkpoint
    counted across them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pending = 0  # row changes not yet checkpointed (SQLite)

    def transaction(self, work: Callable[[Connection], None]) -> float:
        """Run ``work`` in one transaction; return the seconds it held the write lock (on
        SQLite from taking it to the end of the commit; elsewhere from the start)."""
        with self.engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                with conn.begin():
                    began = time.perf_counter()
                    work(conn)
                return time.perf_counter() - began
            autocheckpoint = _set_aside(conn)
            before = _total_changes(conn)
            try:
                with conn.begin():
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    began = time.perf_counter()
                    work(conn)
                held = time.perf_counter() - began
                self.pending += _total_changes(conn) - before
                if self.pending >= CHECKPOINT_CHANGES:
                    # Passive: it copies what it can without waiting for, or holding up,
                    # any reader or writer.
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                    conn.commit()
                    self.pending = 0
            finally:
                _put_back(conn, autocheckpoint)
            return held


def _set_aside(conn: Connection) -> int:
    """The statement journal in memory and no checkpoint in a commit, on this connection;
    return its ``wal_autocheckpoint`` to put back."""
    pages = int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())
    conn.exec_driver_sql("PRAGMA temp_store = MEMORY")
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint = 0")
    conn.commit()
    return pages


def _put_back(conn: Connection, autocheckpoint: int) -> None:
    """The connection's settings as they were; a connection they cannot be put back on (a
    failed one) is discarded rather than pooled with them."""
    try:
        conn.exec_driver_sql("PRAGMA temp_store = DEFAULT")
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint = {autocheckpoint}")
        conn.commit()
    except Exception:  # the error that failed the transaction, if any, is the one raised
        conn.invalidate()


def _total_changes(conn: Connection) -> int:
    """Rows the SQLite connection has inserted, changed or deleted since it opened,
    triggers' included."""
    return int(conn.connection.driver_connection.total_changes)  # type: ignore[union-attr]
