"""The store's size: bytes an event, every index included, and per kind of event.

    .venv/bin/python bench/storesize.py STORE [STORE ...]

STORE is a SQLite file (as ``bench/ingest.py --dir DIR`` leaves them, DIR/site-*/var/
monitord.db) or a PostgreSQL URL. Prints every table and index with its bytes and bytes an
event, the whole store's bytes an event, and for SQLite the bytes an event of each kind and
of the lookups that matched nothing: measured on a copy holding only those events (the others
deleted, then VACUUM), less the same copy with no events at all, so that each figure holds
its rows, its index entries and whatever else its events keep in the store. On PostgreSQL
the figures are ``pg_total_relation_size`` of each table (its partitions, indexes and TOAST
included).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

# What a kind of event is, as a condition on the events table.
KINDS = {
    "clean lookups (dns, no category)": "kind = 'dns' AND category IS NULL",
    "dns": "kind = 'dns'",
    "http": "kind = 'http'",
    "text and searches": "kind IN ('search', 'text', 'title')",
}


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


def kept_only(source: Path, folder: Path, where: str | None) -> tuple[int, int]:
    """(events kept, bytes) of a copy of ``source`` with only the events ``where`` picks."""
    copy = folder / "copy.db"
    src = sqlite3.connect(source)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    # The text index's triggers follow the deletes, as retention's would.
    dst.execute(f"DELETE FROM events WHERE NOT ({where or '0'})")
    dst.commit()
    kept = int(dst.execute("SELECT count(*) FROM events").fetchone()[0])
    dst.execute("VACUUM")
    dst.close()
    size = sqlite_size(copy)
    copy.unlink()
    return kept, size


def report_sqlite(path: Path) -> None:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    events = int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    by_kind = db.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall()
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
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        folder = Path(tmp)
        _, empty = kept_only(path, folder, None)
        for label, where in KINDS.items():
            kept, size = kept_only(path, folder, where)
            if kept:
                print(f"  {label:40s} {kept:>9,d} events  {(size - empty) / kept:8.1f} B/event")


def report_postgresql(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        rows = conn.execute(
            text(
                "SELECT c.relname, pg_total_relation_size(c.oid) + coalesce(("
                "  SELECT sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i"
                "  WHERE i.inhparent = c.oid), 0) AS size "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
                "AND NOT c.relispartition ORDER BY size DESC"
            )
        ).all()
    engine.dispose()
    total = sum(int(s) for _, s in rows)
    print(f"{url.rsplit('@', 1)[-1]}: {events:,} events")
    for name, size in rows:
        if size >= total / 500:
            print(f"  {name:52s} {int(size):>13,d}  {int(size) / max(events, 1):8.1f} B/event")
    print(f"  whole store: {total / max(events, 1):,.1f} bytes an event")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("stores", nargs="+")
    args = ap.parse_args()
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for store in args.stores:
        if store.startswith("postgresql"):
            report_postgresql(store)
        elif Path(store).is_file():
            report_sqlite(Path(store))
        else:
            print(f"{store}: not a SQLite file or a PostgreSQL URL", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
