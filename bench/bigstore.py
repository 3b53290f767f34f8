"""Writing a large generated store as ingest writes it, on SQLite or PostgreSQL.

``bench/search.py`` generates a month of a school's events as the pipeline's rows (every
column ``monitord.service.pipeline`` fills, the raw line, the file and offset, the
classification of each name by the starter lists, the policy's severity); this module stores
them with the store's own bulk writes, split as the pipeline splits a batch: DNS lookups
with nothing more to them (``is_clean``) through ``store_lookups`` (the ``lookups`` table,
their names, parties and verdicts, and the raw lines in zstandard blocks), every other event
through ``insert_ignore`` into ``events`` with its matches. Batches hold a file's next
10,000 lines, as ``monitord ingest`` reads them (``BACKFILL_BATCH``), so the blocks hold
what an ingest's would. Every table, index and trigger is the migrations' own and in place
while rows go in, so whatever the store's layout becomes, a build makes it.

``--replicate STORE --events N`` makes a built store hold N events quickly: its days copied
day by day inside the store (``bench/bigcopy.py``), so that a store of 50 million events
takes a generated day or a few and then minutes, not hours.

``pg_server`` starts a PostgreSQL server (tests/pgserver.py's) with its data in a folder of
one's choosing, left running for the measurements after the build.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence, Set
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from monitord.casework.plan import flush_text_queue
from monitord.classify.engine import Classifier
from monitord.classify.lists import STARTER_LISTS, load_index
from monitord.classify.policy import policy_of
from monitord.settings.config import load_config
from monitord.store.database import insert_ignore, insert_rows, open_store, table_of
from monitord.store.lookups import is_clean, store_lookups
from monitord.store.tables import EventRow, MatchRow

# The lines of one file an ingest batch holds (monitord.service.app.BACKFILL_BATCH).
BATCH_LINES = 10_000


class Judge:
    """What the starter lists and the default policy make of a name: the category and
    severity an event of it gets, and its matches (as the pipeline's match rows, without
    the event id). Each name is classified once."""

    def __init__(self, engine: Engine, config: Path) -> None:
        self.classifier = Classifier(load_index(engine, STARTER_LISTS))
        self.policy = policy_of(load_config(config))
        self.names: dict[str, tuple[str | None, str, tuple[dict[str, Any], ...], bool]] = {}

    def name(
        self, host: str, ts: datetime
    ) -> tuple[str | None, str, tuple[dict[str, Any], ...], bool]:
        """The category and severity an event of ``host`` gets, its matches, and whether a
        decision of it does more than label it (opens an alert or is an exemption, as the
        default policy decides for a pupil)."""
        found = self.names.get(host)
        if found is None:
            c = self.classifier.classify_name(host)
            matches = tuple(
                {
                    "category": m.category,
                    "list_name": m.list_name,
                    "entry": m.entry,
                    "score": m.score,
                    "allow": m.allow,
                }
                for m in c.matches
            )
            decisions = [self.policy.decide(cat, None, None, ts) for cat in c.categories]
            # The most severe of the categories, as the pipeline's top decision.
            top = max(decisions, key=lambda d: d.severity.rank, default=None)
            found = self.names[host] = (
                top.category if top else None,
                top.severity.value if top else "none",
                matches,
                any(d.weighty for d in decisions),
            )
        return found


def store_batch(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    matches: Mapping[str, Sequence[Any]],
    weighty: Set[str] = frozenset(),
) -> int:
    """Store one batch's event rows, their matches (by event id) and the ids of those with
    a decision that does more than label them, as the pipeline's commit does, in the
    caller's transaction; return the events stored. No lease or alert is made here."""
    lean = [r for r in rows if r["id"] not in weighty and is_clean(r)]
    kept = {r["id"] for r in lean}
    wide = [r for r in rows if r["id"] not in kept]
    stored = insert_ignore(conn, table_of(EventRow), wide)
    stored += store_lookups(conn, lean, matches)
    match_rows = [{"event_id": r["id"], **m} for r in wide for m in matches.get(r["id"], ())]
    insert_rows(conn, table_of(MatchRow), match_rows)
    return stored


# The tables whose indexes a SQLite build may make at its end rather than row by row.
DEFERRED = ("events", "lookups")


def drop_indexes(conn: Connection) -> list[tuple[str, str]]:
    """SQLite: drop the secondary indexes of ``DEFERRED`` (their primary keys stay, and the
    blocks' and keys' indexes, which the writes read); return (name, SQL) of each, to be
    made again by ``make_indexes`` exactly as the migrations made them."""
    rows = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({', '.join(repr(t) for t in DEFERRED)})"
    ).all()
    for name, _ in rows:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    conn.commit()
    return [(str(n), str(q)) for n, q in rows]


def make_indexes(conn: Connection, kept: Sequence[tuple[str, str]]) -> None:
    """Make the indexes ``drop_indexes`` dropped, and fill the text index from its queue."""
    for name, sql in kept:
        t = time.perf_counter()
        conn.exec_driver_sql(sql)
        conn.commit()
        print(f"  index {name}: {time.perf_counter() - t:,.0f} s", flush=True)
    t = time.perf_counter()
    with conn.begin():
        moved = flush_text_queue(conn)
    print(f"  text index: {moved:,} events in {time.perf_counter() - t:,.0f} s", flush=True)


def writer_connection(engine: Engine) -> Connection:
    """One connection for the whole build; on SQLite with a large page cache and no fsync
    (the layout is the same, the build quicker)."""
    conn = engine.connect()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size=-1048576")
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        conn.commit()
    return conn


def pg_server(folder: Path, shared_buffers: str = "1GB") -> str:
    """Start a PostgreSQL server with its data under ``folder`` (tests/pgserver.py's, its
    template database migrated); return the URL of a new database in it, ``bench``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pgserver import PostgresServer

    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    old = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        server = PostgresServer()
    finally:
        tempfile.tempdir = old
    server.start()
    with server._admin() as conn:
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
        conn.execute("ALTER SYSTEM SET max_wal_size = '8GB'")
        conn.execute("ALTER SYSTEM SET maintenance_work_mem = '512MB'")
        conn.execute("CREATE DATABASE bench")
    log = str(server.folder / "server.log")
    server._run(str(server.bindir / "pg_ctl"), "-D", str(server.data), "-l", log, "-w", "restart")
    url = server.url("bench")
    open_store(url).dispose()
    print(
        f"PostgreSQL data in {server.data}; stop it with: runuser -u postgres -- "
        f"{server.bindir / 'pg_ctl'} -D {server.data} stop",
        flush=True,
    )
    return url


# What a layout is, compared between a built store and an ingest of the same raw logs:
# each a query giving rows to compare. Who an event is attributed to is left out (the
# builder attributes every address to its laptop's owner; the ingest here has no roster).
LAYOUT = {
    "events by format, kind, categorised": (
        "SELECT fmt, kind, category IS NOT NULL, severity, count(*) FROM events "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
    ),
    "events: columns filled, by kind": (
        "SELECT kind, "
        + ", ".join(
            f"count({c})"
            for c in (
                "client_ip",
                "client_mac",
                "user",
                "domain",
                "url",
                "method",
                "qtype",
                "action",
                "status",
                "size",
                "hostname",
                "text",
                "category",
                "filter_category",
                "agent",
                "sender",
                "received_at",
            )
        )
        + ", sum(blocked), sum(length(raw)) FROM events GROUP BY kind ORDER BY kind"
    ),
    "lookups: rows, with a verdict, names, qtypes": (
        "SELECT count(*), count(verdict), count(DISTINCT name), group_concat(DISTINCT qtype) "
        "FROM lookups"
    ),
    "verdicts": "SELECT category, severity, matches FROM lookup_verdicts ORDER BY matches",
    "blocks: count, lines, one source and day each": (
        "SELECT source, day, count(*), sum(lines) FROM raw_blocks GROUP BY 1, 2 ORDER BY 1, 2"
    ),
    "lookup parties: columns filled": (
        "SELECT source, fmt, kind, count(client_ip), count(client_mac), count(user), "
        "count(hostname) FROM lookup_parties GROUP BY 1, 2, 3"
    ),
    "matches by category, list, allow": (
        "SELECT category, list_name, allow, count(*) FROM matches GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ),
    "schema: tables, indexes, triggers": (
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
        "ORDER BY type, name"
    ),
}
FORMATS = {"pihole": "dnsmasq", "squid": "squid", "agents": "agent"}
SOURCES = {"pihole": "pihole", "squid": "proxy", "agents": "agents"}


def check(root: Path) -> int:
    """Ingest the raw logs a one-day build left under ``root`` (``monitord ingest``'s own
    code, into a fresh site) and compare the two stores' layouts; 0 when they agree."""
    import sqlite3

    from monitord.core.clock import FixedClock
    from monitord.service.app import ingest_files, open_app
    from monitord.service.initdir import init_dir

    site = root / "ingested"
    if site.exists():
        raise SystemExit(f"{site} exists: remove it first")
    cfg = load_config(init_dir(site)[0])
    day = min(p.name.split("-")[1].split(".")[0] for p in (root / "raw").glob("*.gz"))
    when = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC) + timedelta(days=1)
    app = open_app(cfg, FixedClock(when))
    for prefix, fmt in FORMATS.items():
        files = sorted((root / "raw").glob(f"{prefix}-*"))
        if len(files) != 1:
            raise SystemExit(f"expected one {prefix} file under {root}/raw (a build of one day)")
        done = ingest_files(app, files, fmt, SOURCES[prefix])
        print(f"ingested {files[0].name}: {done.lines:,} lines, {done.events:,} events")
    app.engine.dispose()
    stores = {"built": root / "monitord.db", "ingested": site / "var" / "monitord.db"}
    answers: dict[str, dict[str, list[Any]]] = {}
    for label, path in stores.items():
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        answers[label] = {k: db.execute(q).fetchall() for k, q in LAYOUT.items()}
        db.close()
    differ = 0
    for key in LAYOUT:
        same = answers["built"][key] == answers["ingested"][key]
        differ += not same
        print(f"{'same' if same else 'DIFFERENT'}: {key}")
        if not same:
            for label in stores:
                for row in answers[label][key]:
                    print(f"    {label}: {row}")
    return 1 if differ else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg", type=Path, help="start a server with its data in this folder")
    ap.add_argument("--shared-buffers", default="1GB")
    ap.add_argument("--check", type=Path, help="compare a one-day build with its ingest")
    ap.add_argument(
        "--replicate",
        metavar="STORE",
        help="copy a built store's days onto the days after (bench/bigcopy.py) until it "
        "holds --events events; STORE a SQLite file or a PostgreSQL URL",
    )
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="--replicate: seconds to wait after each day for each second it took",
    )
    ap.add_argument(
        "--max-load",
        type=float,
        help="--replicate: before each day, wait (2 minutes at most) while the load "
        "average is above this",
    )
    args = ap.parse_args()
    if args.check:
        return check(args.check.resolve())
    if args.replicate:
        from bigcopy import replicate

        url = args.replicate
        if not url.startswith("postgresql"):
            url = f"sqlite:///{Path(url).resolve()}"
        print(
            f"{replicate(open_store(url), args.events, args.pause, args.max_load):,} events",
            flush=True,
        )
        return 0
    if args.pg:
        print(pg_server(args.pg.resolve(), args.shared_buffers))
        return 0
    ap.error("--pg, --check or --replicate")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
