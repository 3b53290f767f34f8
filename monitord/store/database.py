"""Opening the store, keeping its schema current, and the few write paths everything shares."""

from __future__ import annotations

import ast
import hashlib
import json
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from typing import cast as cast_to

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    Select,
    String,
    Table,
    bindparam,
    cast,
    create_engine,
    event,
    insert,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    InternalError,
    OperationalError,
)
from sqlalchemy.pool import ConnectionPoolEntry, Pool

from monitord.core.private import ensure_private_file, tighten
from monitord.store.bulkrows import left_out, sqlite_bulk
from monitord.store.partitions import ensure_partitions
from monitord.store.tables import AlertRow, AuditRow, CheckpointRow

if TYPE_CHECKING:
    # psycopg (5 MB) is imported by SQLAlchemy when a PostgreSQL store opens; alembic (125
    # modules, 9 MB) when its migrations run: the daemon that only opens a store holds neither.
    import psycopg
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
GENESIS = "0" * 64
# The site of a store that one school has to itself.
DEFAULT_SITE = "default"
# The "site" of a trust-wide view (reading only): every school's rows.
ALL_SITES = "*"
# The advisory lock that orders audit records on PostgreSQL ("monitaud").
AUDIT_LOCK = 0x6D6F6E6974617564
# The audit action of a retention run (its detail may declare a cut of the trail).
RETENTION_ACTION = "retention.run"


# SQLSTATE classes of trouble with the server rather than with the values written: the
# connection (08), a rolled-back transaction (40: deadlock, serialisation), resources such
# as disk or memory (53), the operator (57: shutting down), the system (58), a privilege or
# the schema (42: permission denied, a table missing), a read-only server (25: a standby),
# an internal error (XX).
_SERVER_TROUBLE = frozenset({"08", "25", "40", "42", "53", "57", "58", "XX"})


def store_trouble(exc: BaseException) -> bool:
    """Whether ``exc`` is trouble with the store itself (unreachable, locked, full,
    read-only, a schema it does not have), which any batch would meet, rather than with the
    values of one batch (a value a column cannot take)."""
    if isinstance(exc, OSError | MemoryError | DisconnectionError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlstate", None)
    if isinstance(code, str) and code:
        return code[:2] in _SERVER_TROUBLE
    # SQLite (no SQLSTATE): locked, read-only, disk I/O, full, no such table
    return isinstance(exc, OperationalError | InterfaceError | InternalError)


def check_writable(engine: Engine) -> None:
    """Raise the store's error unless a row can be written (then taken back): a store the
    daemon can read but not write (a root-owned SQLite file, a read-only role) must stop it
    at start, not leave it running while it stores nothing."""
    table = table_of(CheckpointRow)
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            conn.execute(
                table.insert().values(
                    site_id=site_of(conn),
                    source="\x1fwrite check",
                    path="",
                    file_id="",
                    inode=0,
                    offset=0,
                    updated_at=datetime.now(UTC),
                )
            )
        finally:
            trans.rollback()


class SchemaError(Exception):
    """The database schema is not the one this version of monitord needs."""


# SQLite's page cache, per connection (KiB). Every pooled connection fills its own (the
# daemon holds three or four), so this is the largest part of its memory that a setting bounds;
# a page not in it is read from the operating system's page cache, shared and reclaimable.
SQLITE_CACHE_KIB = 16 * 1024


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    # Fewer, larger WAL checkpoints: each one syncs the disk.
    cur.execute("PRAGMA wal_autocheckpoint=8000")
    cur.close()


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store's URL; None for any other store (or one in memory)."""
    if not url.startswith("sqlite:///"):
        return None
    name = url[len("sqlite:///") :]
    if not name or name == ":memory:" or name.startswith("file:") or "?" in name:
        return None
    return Path(name)


def store_files(db: Path) -> list[Path]:
    """The files of a SQLite store: the database, its WAL, shared memory and journal."""
    return [db, *(db.with_name(db.name + end) for end in ("-wal", "-shm", "-journal"))]


def make_engine(url: str) -> Engine:
    """An engine for ``url``. A SQLite store gets WAL mode; its file is created 0600 in a 0700
    folder before SQLite opens it, so that the WAL and shared-memory files SQLite makes beside
    it take the same mode (and files of an older store others could read are made 0600)."""
    db = sqlite_file(url)
    if db is not None:
        ensure_private_file(db)
        for extra in store_files(db)[1:]:
            tighten(extra)
    # PostgreSQL sessions work in UTC: stored times are UTC without a zone, as on SQLite.
    # Every statement is planned for its values: psycopg prepares a statement run five times
    # on a connection, and a few runs later the server may keep a generic plan, which for a
    # person's day on the partitioned events took 5-10 times as long. No statement is
    # compiled to machine code: a search's newest 100, read in time order and stopped at the
    # limit, is costed over every row it might read, and compiling it took 37 ms of 39.
    options = "-c timezone=UTC -c plan_cache_mode=force_custom_plan -c jit=off"
    connect_args = {"options": options} if url.startswith("postgresql") else {}
    # SQLite: the connection returned last is taken first, so that the writer keeps working
    # in one connection's page cache and the others, seldom used, stay small.
    lifo = {"pool_use_lifo": True} if db is not None else {}
    engine = create_engine(url, future=True, connect_args=connect_args, **lifo)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    _close_when_dropped(engine)
    return engine


def _close_when_dropped(engine: Engine) -> None:
    """Close the pooled connections of an engine that is dropped without ``dispose()`` (a
    command returning), rather than leaving them to the garbage collector."""
    current: list[Pool] = [engine.pool]

    def new_pool(disposed: Engine) -> None:
        current[0] = disposed.pool

    event.listen(engine, "engine_disposed", new_pool)
    weakref.finalize(engine, lambda: current[0].dispose())


def _alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


# alembic's table of the revision a store is at
VERSION_TABLE = "alembic_version"


def _stated(path: Path) -> dict[str, object]:
    """The ``revision`` and ``down_revision`` a migration file states at its top level."""
    out: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            out[target.id] = ast.literal_eval(value)
    return out


def head_revision() -> str:
    """The newest migration, the one no other follows, read from the migrations' files as
    alembic reads them, without importing alembic."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        if path.name.startswith("_"):
            continue
        stated = _stated(path)
        revision, down = stated.get("revision"), stated.get("down_revision")
        if not isinstance(revision, str):
            raise SchemaError(f"{path}: no revision")
        revisions.add(revision)
        if isinstance(down, str):
            followed.add(down)
        elif isinstance(down, tuple):  # a merge of two branches
            followed.update(down)
    heads = sorted(revisions - followed)
    if len(heads) != 1:
        raise SchemaError(f"the migrations have {len(heads)} heads: {', '.join(heads)}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    """The revision the store is at (None for a store alembic never migrated)."""
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, VERSION_TABLE):
            return None
        found = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(found) > 1:
        raise SchemaError(f"the store is at {len(found)} revisions at once: {', '.join(found)}")
    return str(found[0]) if found else None


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Apply the pending migrations (up to ``target``); return (revision before, after)."""
    from alembic import command

    before = current_revision(engine)
    cfg = _alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
    return before, current_revision(engine)


def site_of(bind: Engine | Connection) -> str:
    """The school whose rows an engine (or a connection of it) reads and writes: the
    ``[school] site_id`` it was opened for."""
    return str(bind.get_execution_options().get("site_id", DEFAULT_SITE))


def mine(bind: Engine | Connection, column: Any, site: str | None = None) -> ColumnElement[bool]:
    """The condition that a row is this site's (``column`` its site_id); every row when the
    engine works for ``ALL_SITES`` (a trust-wide view). ``site``: a given school's rows
    instead (the school of a row already read, such as an alert's person on its own roster).

    Every read of a table with a site_id column goes through this (or ``mine_sql``), so that
    one school's daemon never reads another's people, devices, events or mail; a test lists
    those tables from the models and fails on a read of one that does not."""
    site = site_of(bind) if site is None else site
    return true() if site == ALL_SITES else column == site


def mine_sql(bind: Engine | Connection, column: str) -> tuple[str, dict[str, str]]:
    """``mine`` for a statement written as SQL: the condition on ``column`` (as named in the
    statement, e.g. ``e.site_id``) and its parameter."""
    site = site_of(bind)
    return ("1 = 1", {}) if site == ALL_SITES else (f"{column} = :site", {"site": site})


def alert_subjects(bind: Engine | Connection) -> Select[Any]:
    """The audit subjects (``alert:ID``) of this site's alerts, as a subquery: the audit
    trail is the whole store's, the alerts each school's."""
    at = table_of(AlertRow)
    subject = literal("alert:").concat(cast(at.c.id, String))
    return select(subject).where(mine(bind, at.c.site_id))


def for_site(engine: Engine, site: str) -> Engine:
    """The engine working for ``site``: the same pool, the site carried with it."""
    return engine if site == site_of(engine) else engine.execution_options(site_id=site)


def open_store(url: str, *, create: bool = True, site: str = DEFAULT_SITE) -> Engine:
    """Open the store for the school ``site`` (several schools may share a PostgreSQL
    store). A new, empty database is created at the current schema; one that is behind
    raises SchemaError telling the operator to run ``monitord db upgrade``."""
    engine = for_site(make_engine(url), site)
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return engine
    if current is None and create:
        with engine.connect() as conn:
            has_tables = bool(engine.dialect.get_table_names(conn))
        if not has_tables:
            upgrade(engine)
            return engine
    engine.dispose()
    raise SchemaError(
        f"database schema is at revision {current or 'none'} but this monitord needs {head}: "
        "run `monitord db upgrade` (take a backup first)"
    )


def stored_event_ids(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """Which of the event rows' ids ``events`` holds (every school's: an id carries its
    school). PostgreSQL: the partitioned table's key is (id, ts), so the key alone would let
    in a second event with a known id at another time (an unauthorised device is one event a
    device a day, whenever it is seen); an id names one day's event, so the days around the
    rows' are where to look. The ids go as one array planned afresh each time (never as a
    prepared statement's generic plan), which the server then matches in a partition's key
    index or in a hash of the ids; a generic plan compares each row a partition's scan reads
    with every id in turn (on a day's first partition, which has no statistics yet and is
    scanned: 40 ms for 500 ids and 5,000 events, 170 ms for 3,300)."""
    rows = list(rows)
    if not rows:
        return set()
    ids = [r["id"] for r in rows]
    if conn.dialect.name == "postgresql":
        stamps = [r["ts"] for r in rows]
        since, until = min(stamps) - timedelta(days=2), max(stamps) + timedelta(days=2)
        driver = cast_to("psycopg.Connection[Any]", conn.connection.dbapi_connection)
        # The ids as one text the server splits: psycopg writes out a list as an array
        # element by element in Python.
        joined = ",".join(ids)
        listed = "string_to_array(%s, ',')" if joined.count(",") == len(ids) - 1 else "%s"
        with driver.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM events WHERE id = ANY({listed}) AND ts >= %s AND ts < %s",
                (joined if listed != "%s" else ids, since, until),
                prepare=False,
            )
            return {r[0] for r in cursor.fetchall()}
    return {r[0] for r in sqlite_in(conn, "SELECT id FROM events WHERE id IN ", ids)}


def sqlite_in(conn: Connection, query: str, values: Sequence[Any], chunk: int = 500) -> list[Any]:
    """The rows of ``query`` followed by a list of ``values`` (``IN (?, ...)``), asked
    through SQLite's driver ``chunk`` values at a time in the connection's transaction:
    SQLAlchemy's expanding parameters cost more than SQLite's own work for a batch's
    hundreds of ids or keys (bench/RESULTS.md, seventh round)."""
    driver: Any = conn.connection.dbapi_connection
    cursor = driver.cursor()
    out: list[Any] = []
    marks = ""
    try:
        for i in range(0, len(values), chunk):
            part = values[i : i + chunk]
            if len(part) != marks.count("?"):
                marks = "(" + ", ".join("?" * len(part)) + ")"
            out.extend(cursor.execute(query + marks, part).fetchall())
    finally:
        cursor.close()
    return out


def _events_not_stored(
    conn: Connection, rows: Sequence[Mapping[str, Any]]
) -> Sequence[Mapping[str, Any]]:
    """PostgreSQL: the rows whose id is not stored yet, one of each id."""
    known = stored_event_ids(conn, rows)
    fresh: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        if r["id"] not in known:
            fresh.setdefault(r["id"], r)
    return list(fresh.values())


def _pg_value(value: Any) -> Any:
    """A Python value as a PostgreSQL column without a zone takes it (UTC times)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _pg_copy(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> bool:
    """COPY rows into ``table`` in the connection's transaction: PostgreSQL's fastest way in
    (a partitioned table sends each row to its day's partition). A column the rows leave
    out takes its model's default, as an INSERT would give it; False (nothing copied) when
    such a default is not a plain value."""
    columns = list(rows[0])
    defaults = left_out(table, rows[0])
    if defaults is None:
        return False
    quoted = ", ".join('"' + c + '"' for c in [*columns, *defaults])
    extra = [_pg_value(v) for v in defaults.values()]
    driver = conn.connection.dbapi_connection
    assert driver is not None
    cursor = driver.cursor()
    with cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:  # type: ignore[attr-defined]
        for row in rows:
            copy.write_row([*(_pg_value(row[c]) for c in columns), *extra])
    return True


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, skipping any whose primary key is already stored; return rows added."""
    if not rows:
        return 0
    if conn.dialect.name == "sqlite" and len(rows) > 1:
        return sqlite_bulk(conn, table, rows)
    if conn.dialect.name == "sqlite":
        stmt: Any = sqlite.insert(table).on_conflict_do_nothing()
    elif conn.dialect.name == "postgresql":
        if table.name == "events":
            ensure_partitions(conn, (r["ts"] for r in rows))
            rows = _events_not_stored(conn, rows)
            if not rows:
                return 0
            # The events not stored yet are the ones added (a school's events come from its
            # own daemon alone): they are copied in, with no conflict to look for.
            if not _pg_copy(conn, table, rows):
                conn.execute(postgresql.insert(table).on_conflict_do_nothing(), list(rows))
            return len(rows)
        # The rows added are the rows returned: executemany's rowcount is not reliable here.
        key = next(iter(table.primary_key.columns))
        pg = postgresql.insert(table).on_conflict_do_nothing().returning(key)
        return len(conn.execute(pg, list(rows)).all())
    else:
        stmt = insert(table).prefix_with("IGNORE")
    result = conn.execute(stmt, list(rows))
    return max(result.rowcount, 0)


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows that cannot conflict (no unique key of theirs is stored): on PostgreSQL
    with COPY, one statement rather than one a row."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and _pg_copy(conn, table, rows):
        return
    conn.execute(table.insert(), list(rows))


# The form of the hash of the records written now: the site is hashed with the rest.
AUDIT_VERSION = 1


def _chain_hash(
    prev: str,
    ts: datetime,
    actor: str,
    action: str,
    subject: str,
    detail: str,
    site: str,
    version: int = AUDIT_VERSION,
) -> str:
    """A record's hash in its form: version 0 (before records named their school) leaves the
    site out; version 1 hashes it too."""
    fields = [prev, ts.isoformat(), actor, action, subject, detail]
    if version >= 1:
        fields.append(site)
    body = json.dumps(fields, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def audit(
    conn: Connection,
    actor: str,
    action: str,
    subject: str = "",
    detail: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> str:
    """Append one hash-chained audit record inside the caller's transaction, as a record of
    the school the connection works for. A record about an alert (subject ``alert:ID``) is
    the alert's school's, and carries the alert's case state as it stands after the change
    (``state``), so that the chain covers it: a status changed in the store by hand no
    longer matches its last record. A record written through a trust-wide view (and about
    no alert) is the trust's (``ALL_SITES``), which only such a view reads back."""
    site = site_of(conn)
    found = alert_state(conn, subject)
    if found is not None:
        site, state = found
        detail = {**(detail or {}), "state": state}
    if conn.dialect.name == "postgresql":
        # One chain for every school writing to the store: each record's link is read and
        # written by one transaction at a time (SQLite's single writer gives this for free).
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(key)s)", {"key": AUDIT_LOCK})
    last = conn.execute(_LAST_HASH).scalar()
    prev = last or GENESIS
    ts = (now or datetime.now(UTC)).replace(microsecond=0)
    text = json.dumps(dict(detail or {}), sort_keys=True, ensure_ascii=False, default=str)
    digest = _chain_hash(prev, ts, actor, action, subject, text, site)
    record = {
        "site_id": site,
        "version": AUDIT_VERSION,
        "ts": ts,
        "actor": actor,
        "action": action,
        "subject": subject,
        "detail": text,
        "prev_hash": prev,
        "hash": digest,
    }
    conn.execute(_AUDIT_INSERT, record)
    return digest


# The columns of an alert that case work changes, covered by the audit chain.
ALERT_STATE = ("status", "severity", "outcome", "assignee", "reviewer")


def alert_state(conn: Connection, subject: str) -> tuple[str, dict[str, Any]] | None:
    """The school and the case state of the alert an audit subject names (``alert:ID``),
    or None."""
    kind, _, number = subject.partition(":")
    if kind != "alert" or not number.isdigit():
        return None
    row = conn.execute(_ALERT_STATE, {"alert_id": int(number)}).first()
    if row is None:
        return None
    state = dict(row._mapping)
    return str(state.pop("site_id")), state


def _declared_cut(conn: Connection) -> tuple[int, str] | None:
    """The newest cut of the audit trail a retention run declared (in its own, chained,
    record): the id of the first record kept, and the hash of the record before it."""
    table = table_of(AuditRow)
    query = (
        select(table.c.detail).where(table.c.action == RETENTION_ACTION).order_by(table.c.id.desc())
    )
    for (detail,) in conn.execute(query):
        try:
            value = json.loads(detail)
        except ValueError:
            continue
        cut = value.get("audit_kept_from") if isinstance(value, dict) else None
        anchor = value.get("audit_anchor") if isinstance(value, dict) else None
        if isinstance(cut, int) and isinstance(anchor, str):
            return cut, anchor
    return None


def verify_audit(conn: Connection) -> tuple[int, int | None]:
    """Recompute the chain; return (records checked, id of the first broken record or None).

    A trail whose oldest records were removed by retention starts at the cut its retention
    record declares (records older than the cut and still there are on their way out, and
    not counted); any other gap at the start is a break."""
    table = table_of(AuditRow)
    prev = GENESIS
    checked = 0
    start = 0
    first = conn.execute(
        select(table.c.id, table.c.prev_hash).order_by(table.c.id).limit(1)
    ).first()
    if first is not None and first.prev_hash != GENESIS:
        cut = _declared_cut(conn)
        if cut is not None and cut[0] >= first.id:
            start, prev = cut
    newest_form = 0
    for row in conn.execute(select(table).where(table.c.id >= start).order_by(table.c.id)):
        ts = row.ts if row.ts.tzinfo else row.ts.replace(tzinfo=UTC)
        # Each record in the form it was written in; none in an older form after a newer.
        form = int(row.version)
        if not newest_form <= form <= AUDIT_VERSION:
            return checked, int(row.id)
        newest_form = form
        expect = _chain_hash(
            prev, ts, row.actor, row.action, row.subject, row.detail, row.site_id, form
        )
        if row.prev_hash != prev or row.hash != expect:
            return checked, int(row.id)
        prev = row.hash
        checked += 1
    return checked, None


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just added."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the database did not return the new row's id")
    return int(key[0])


def table_of(model: type[Any]) -> Table:
    """The SQLAlchemy table behind a SQLModel class."""
    table: Table = model.__table__
    return table


def utc(value: datetime) -> datetime:
    """Attach UTC to a naive datetime read back from SQLite."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rows_as_dicts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in rows]


# The statements every audit record runs, made once (building them cost more than running
# them when alerts are opened by the dozen).
_AUDITS = table_of(AuditRow)
_LAST_HASH = select(_AUDITS.c.hash).order_by(_AUDITS.c.id.desc()).limit(1)
_AUDIT_INSERT = insert(_AUDITS)
_ALERTS = table_of(AlertRow)
_ALERT_STATE = select(_ALERTS.c.site_id, *(_ALERTS.c[name] for name in ALERT_STATE)).where(
    _ALERTS.c.id == bindparam("alert_id")
)
