"""What an ingest stored, as one digest a table: two runs of the same day compare equal
exactly when they stored the same rows (events, lookups and their blocks, matches, leases,
alerts and their mail, the audit trail, checkpoints, counts).

    .venv/bin/python bench/outcome.py STORE [OTHER]

A store is a SQLite file or a PostgreSQL URL (``postgresql+psycopg://...``: the tables of
its database, a partitioned table's partitions read through their parent).

With two stores, says which tables differ. ``bench/ingest.py --digest`` prints the digest of
each store it makes, so that a change meant to be faster and nothing else can be checked
against the code before it: the same generated day (the generator is seeded) must give the
same digests.

Every column is compared, autoincrement keys included (they follow the order rows were
stored in, which is part of the outcome), but for what differs between two runs of the same
code: the MIME boundary of a queued mail, and the key of a match (a batch's matches are
inserted in the order of a set of event ids, which Python's string hashing varies from one
process to the next). A block of raw lines is compared by its lines and their offsets, not
its compressed bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg

# The one random part of a stored row: the MIME boundary of a queued mail.
_BOUNDARY = re.compile(rb"={15}[0-9]+==")
# Columns whose values differ between two runs of the same code (see above).
_VARYING = {"matches": "id"}
# Tables of the store that an ingest does not write, or writes with the wall clock.
_SKIPPED = frozenset({"alembic_version", "sqlite_sequence", "sqlite_stat1"})
# Columns a table stores only to make its others from (SQLite's lookups from schema 0028:
# the query type, verdict and a request's keys and bytes are generated from them, and are
# compared as read, so that a store before and after compares equal).
_PACKED = {"lookups": ("qt", "extra")}


def digests(store: Path | str) -> dict[str, tuple[int, str]]:
    """Each table's rows (every column, in a fixed order) as (count, SHA-256)."""
    if str(store).startswith("postgresql"):
        return _pg_digests(str(store))
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        tables = [
            str(name)
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        out: dict[str, tuple[int, str]] = {}
        for table in tables:
            if table in _SKIPPED or table.startswith("events_text_"):
                continue  # the text index's shadow tables follow from the events
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            packed = _PACKED.get(table, ())
            if any(n in packed for n in names):
                read = ", ".join(f'"{n}"' for n in names if n not in packed)
                cursor = conn.execute(f'SELECT {read} FROM "{table}"')
                names = [n for n in names if n not in packed]
            out[table] = _digest(table, names, cursor)
        return out
    finally:
        conn.close()


def _pg_digests(url: str) -> dict[str, tuple[int, str]]:
    """``digests`` of a PostgreSQL database: its tables, not their partitions; from schema
    0027 the lookups as the view ``lookups`` gives them, not its two tables (so that a store
    before and after compares equal)."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        conn.execute("SET timezone = 'UTC'")
        tables = [
            str(name)
            for (name,) in conn.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND (relkind IN ('r', 'p') OR relname = 'lookups') AND NOT relispartition "
                "AND relname NOT IN ('lookups_narrow', 'lookups_wide') ORDER BY relname"
            )
        ]
        out: dict[str, tuple[int, str]] = {}
        for table in tables:
            if table in _SKIPPED:
                continue
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            names = [d.name for d in cursor.description or ()]
            out[table] = _digest(table, names, cursor)
        return out


def _digest(table: str, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    h = hashlib.sha256()
    keep = [i for i, name in enumerate(names) if name != _VARYING.get(table)]
    if table == "raw_blocks":
        rows = _unpacked(names, rows)
    found = sorted(repr(tuple(row[i] for i in keep)).encode() for row in rows)
    for row in found:
        h.update(_BOUNDARY.sub(b"=*=", row) if table == "outbox" else row)
        h.update(b"\n")
    return len(found), h.hexdigest()[:16]


def _unpacked(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """A block's lines by their offsets in place of its compressed bytes: the same lines
    packed another way (the level, the header's layout) are the same outcome."""
    from monitord.store.lookups import unpack_block

    at = list(names).index("data")
    out = []
    for row in rows:
        values = list(row)
        values[at] = sorted(unpack_block(bytes(values[at])).items())
        out.append(values)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("store", help="a SQLite file or a PostgreSQL URL")
    ap.add_argument("other", nargs="?")
    args = ap.parse_args()
    first = digests(args.store)
    if args.other is None:
        for table, (n, digest) in first.items():
            print(f"{table:24s} {n:>9,d} rows  {digest}")
        return 0
    second = digests(args.other)
    differ = [t for t in sorted(first.keys() | second.keys()) if first.get(t) != second.get(t)]
    for table in differ:
        print(f"{table}: {first.get(table)} != {second.get(table)}")
    print("the same rows in every table" if not differ else f"{len(differ)} table(s) differ")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
