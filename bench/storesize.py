"""The store's size: bytes an event, every index included, and per kind of event.

    .venv/bin/python bench/storesize.py STORE [STORE ...]

STORE is a SQLite file (as ``bench/ingest.py --dir DIR`` leaves them, DIR/site-*/var/
monitord.db) or a PostgreSQL URL. Prints every table and index with its bytes and bytes an
event, the whole store's bytes an event, and for SQLite the bytes an event of each kind and
of the lookups that matched nothing: measured on a copy holding only those events (the others
deleted, then VACUUM), less the same copy with no events at all, so that each figure holds
its rows, its index entries and whatever else its events keep in the store. Events are those
of ``events`` and of ``lookups`` (the lookups that matched nothing or only an allow list,
with their names, parties, verdicts and blocks of raw lines, docs/store.md). On PostgreSQL
the figures are ``pg_relation_size`` of each table (with its TOAST) and of each index, a
partitioned table's or index's partitions added to it, and a lookup's bytes are those of the
lookups' tables and their indexes over the lookups (printed for SQLite too; with ``--quick``
that is all, the copies a kind of event each left out, for a store too large to copy).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# What a kind of event is: a condition on the events table, and one on the lookups (their
# own table), or None when no lookup is of the kind.
KINDS: dict[str, tuple[str, str | None]] = {
    "lookups (all: no alert of their own)": ("0", "1"),
    "DNS lookups that matched nothing": ("0", "verdict IS NULL AND request IS NULL"),
    "lookups with a verdict (a list or category)": ("0", "verdict IS NOT NULL"),
    "proxy requests in lookups (schema 0024)": ("0", "request IS NOT NULL"),
    "clean lookups kept in events (dns, no category)": ("kind = 'dns' AND category IS NULL", None),
    "dns": ("kind = 'dns'", "request IS NULL"),
    "http": ("kind = 'http'", "request IS NOT NULL"),
    "text and searches": ("kind IN ('search', 'text', 'title')", None),
}
LOOKUP_TABLES = (
    "lookups",
    "lookups_narrow",  # PostgreSQL from schema 0027: lookups is a view of these two
    "lookups_wide",
    "raw_blocks",
    "lookup_parties",
    "lookup_names",
    "lookup_verdicts",
    "lookup_requests",
    "lookup_urls",
)


def has_lookups(db: sqlite3.Connection) -> bool:
    found = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'lookups'").fetchone()
    return found is not None


def count_events(db: sqlite3.Connection) -> int:
    """Events of both tables."""
    n = int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    if has_lookups(db):
        n += int(db.execute("SELECT count(*) FROM lookups").fetchone()[0])
    return n


def sqlite_objects(db: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(table or index, its table, bytes) for every b-tree of the file."""
    rows = db.execute(
        "SELECT d.name, coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
        "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY d.name ORDER BY 3 DESC"
    ).fetchall()
    return [(str(a), str(b), int(c)) for a, b, c in rows]


def sqlite_size(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return sum(n for _, _, n in sqlite_objects(db))
    finally:
        db.close()


def kept_only(
    source: Path, folder: Path, where: str | None, lookups: str | None
) -> tuple[int, int]:
    """(events kept, bytes) of a copy of ``source`` with only the events ``where`` picks
    and the lookups ``lookups`` picks (none: no lookup, nor their names, parties, verdicts
    or blocks)."""
    copy = folder / "copy.db"
    src = sqlite3.connect(source)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    # The text index's triggers follow the deletes, as retention's would.
    dst.execute(f"DELETE FROM events WHERE NOT ({where or '0'})")
    if lookups is None and has_lookups(dst):
        for table in LOOKUP_TABLES:
            if dst.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
                dst.execute(f"DELETE FROM {table}")
    elif lookups is not None and has_lookups(dst):
        dst.execute(f"DELETE FROM lookups WHERE NOT ({lookups})")
    dst.commit()
    kept = count_events(dst)
    dst.execute("VACUUM")
    dst.close()
    size = sqlite_size(copy)
    copy.unlink()
    return kept, size


def report_sqlite(path: Path, quick: bool = False) -> None:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    events = count_events(db)
    by_kind = db.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall()
    if has_lookups(db):
        by_kind.append(("lookups", db.execute("SELECT count(*) FROM lookups").fetchone()[0]))
    objects = sqlite_objects(db)
    db.close()
    total = sum(n for _, _, n in objects)
    print(f"{path}: {events:,} events ({', '.join(f'{k} {n:,}' for k, n in by_kind)})")
    print(f"  file {path.stat().st_size:,} bytes; b-trees {total:,} bytes")
    for name, table, size in objects:
        if size >= total / 500:
            label = name if name == table else f"{name} (on {table})"
            print(f"  {label:52s} {size:>13,d}  {size / max(events, 1):8.1f} B/event")
    print(f"  whole store: {total / max(events, 1):,.1f} bytes an event")
    lookups = dict(by_kind).get("lookups", 0)
    if lookups:
        theirs = sum(n for _, table, n in objects if table in LOOKUP_TABLES)
        print(f"  a lookup, with its tables' indexes: {theirs / lookups:,.1f} bytes")
    if quick:
        return
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        folder = Path(tmp)
        _, empty = kept_only(path, folder, None, None)
        for label, (where, lookups) in KINDS.items():
            kept, size = kept_only(path, folder, where, lookups)
            if kept:
                print(f"  {label:40s} {kept:>9,d} events  {(size - empty) / kept:8.1f} B/event")


def report_postgresql(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    lookups = 0
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        if conn.execute(text("SELECT to_regclass('lookups')")).scalar() is not None:
            lookups = conn.execute(text("SELECT count(*) FROM lookups")).scalar_one()
            events += lookups
        # Each table (heap and TOAST) and each index, its partitions added to it.
        rows = conn.execute(
            text(
                "WITH RECURSIVE tree(top, rel) AS ("
                "  SELECT c.oid, c.oid FROM pg_class c"
                "  JOIN pg_namespace n ON n.oid = c.relnamespace"
                "  WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'i', 'I')"
                "  AND NOT c.relispartition"
                "  UNION ALL SELECT t.top, i.inhrelid FROM tree t"
                "  JOIN pg_inherits i ON i.inhparent = t.rel) "
                "SELECT top::regclass::text, coalesce(tab.relname, top::regclass::text), "
                "sum(pg_relation_size(rel) + coalesce(pg_total_relation_size("
                "  nullif(c.reltoastrelid, 0)), 0)) AS size "
                "FROM tree JOIN pg_class c ON c.oid = rel "
                "LEFT JOIN pg_index x ON x.indexrelid = top "
                "LEFT JOIN pg_class tab ON tab.oid = x.indrelid "
                "GROUP BY 1, 2 ORDER BY size DESC"
            )
        ).all()
        kinds: list[Any] = []
        heap = "lookups"
        if lookups:
            # From schema 0027 the DNS lookups have a table of their own.
            if conn.execute(text("SELECT to_regclass('lookups_narrow')")).scalar() is not None:
                heap = "lookups_narrow"
            # Each row's bytes on its page: the tuple padded to 8, and its line pointer.
            kinds = conn.execute(
                text(
                    "SELECT verdict IS NULL AND request IS NULL, count(*), "
                    "sum((pg_column_size(l.*) + 7) / 8 * 8 + 4) FROM lookups AS l GROUP BY 1"
                    if heap == "lookups"
                    else "SELECT verdict IS NULL, count(*), "
                    "sum((pg_column_size(l.*) + 7) / 8 * 8 + 4) FROM lookups_narrow AS l GROUP BY 1"
                )
            ).all()
    engine.dispose()
    total = sum(int(s) for _, _, s in rows)
    print(f"{url.rsplit('@', 1)[-1]}: {events:,} events ({lookups:,} in lookups)")
    for name, table, size in rows:
        if size >= total / 500:
            label = name if name == table else f"{name} (on {table})"
            print(f"  {label:52s} {int(size):>13,d}  {int(size) / max(events, 1):8.1f} B/event")
    print(f"  whole store: {total / max(events, 1):,.1f} bytes an event")
    if lookups:
        theirs = sum(int(s) for _, table, s in rows if table in LOOKUP_TABLES)
        print(f"  a lookup, with its tables' indexes: {theirs / lookups:,.1f} bytes")
        clean = unmatched_share(
            rows, {bool(k): (int(n), int(b)) for k, n, b in kinds}, heap, lookups
        )
        if clean is not None:
            print(f"  a lookup that matched nothing, its share: {clean:,.1f} bytes")


def unmatched_share(
    rows: Sequence[Any], kinds: dict[bool, tuple[int, int]], table: str, everyone: int
) -> float | None:
    """PostgreSQL: the bytes of a DNS lookup that matched nothing, apportioned (no copy of
    the store is made): the bytes of the heap of ``table`` (``lookups``, or from schema 0027
    ``lookups_narrow``) in proportion to its rows' bytes on their pages, each of its indexes'
    bytes over the lookups it holds (the verdict index holds none of these), and the other
    lookups' tables (blocks, names, parties, verdicts) over ``everyone``, every lookup.
    ``kinds``: (whether they matched nothing) -> (the heap's rows, their bytes)."""
    n, size = kinds.get(True, (0, 0))
    if not n:
        return None
    held = sum(c for c, _ in kinds.values()) if table == "lookups_narrow" else everyone
    heap = others = 0.0
    index = 0.0
    for name, on, bytes_ in rows:
        if name == table:
            heap = int(bytes_) * size / sum(b for _, b in kinds.values())
        elif on == table and "verdict" not in name and "url" not in name:
            index += int(bytes_) / held
        elif on in (table, "lookups", "lookups_wide") or name == "lookups_wide":
            continue  # the verdict's and URL's indexes, the requests: none of these
        elif on in LOOKUP_TABLES:
            others += int(bytes_) / everyone
    return heap / n + index + others


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("stores", nargs="+")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="SQLite: the tables and indexes only, not the copies a kind of event each "
        "(for a large store)",
    )
    args = ap.parse_args()
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for store in args.stores:
        if store.startswith("postgresql"):
            report_postgresql(store)
        elif Path(store).is_file():
            report_sqlite(Path(store), args.quick)
        else:
            print(f"{store}: not a SQLite file or a PostgreSQL URL", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
