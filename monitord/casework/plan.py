"""Building a search's SQL: the text clause (full-text index or a scan), the index a person's
or a domain's events are read by, and the choice between reading by time or by text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

from sqlalchemy import Connection, text

from monitord.casework.found import event_columns
from monitord.casework.query import Query
from monitord.store.database import mine_sql, utc
from monitord.store.tables import TEXT_INDEX

# Above this many full-text candidates a text is common: reading by time finds it sooner.
COMMON_TEXT = 50_000
# Names seen so often in a span (a suffix such as ``*.google.com``) that the newest of their
# rows are found sooner by reading the newest rows of all than by sorting every one of theirs:
# on 12.9 million events the 794,100 lookups of ``*.google.com``'s names took 5.6 s to sort
# for the newest 100 on SQLite, and reading by time 0.1 s; PostgreSQL's events of those names,
# 807,700 on 10.8 million events, 9.4 s.
COMMON_NAMES = 50_000
# At most this many trigrams of a text are asked of the index (spread along it); the rows
# it gives are checked for the whole text anyway.
MAX_TRIGRAMS = 12

# A person's events by time, with every column ``fetch_events`` reads on SQLite (0010).
USER_INDEX = "ix_events_user_ts"


def text_variants(value: str) -> list[str]:
    """The forms a text takes in stored URLs and texts, lower case: as typed, and encoded
    as a URL's query (``how+to``) and path (``how%20to``) encode it."""
    s = value.strip().lower()
    out: list[str] = []
    for v in (s, quote_plus(s, safe="/:"), quote(s, safe="/:")):
        v = v.lower()
        if v not in out:
            out.append(v)
    return out


def _trigrams(value: str) -> list[str]:
    grams = list(dict.fromkeys(value[i : i + 3] for i in range(len(value) - 2)))
    if len(grams) <= MAX_TRIGRAMS:
        return grams
    step = (len(grams) - 1) / (MAX_TRIGRAMS - 1)
    return list(dict.fromkeys(grams[round(i * step)] for i in range(MAX_TRIGRAMS)))


def fts_match(variants: Sequence[str]) -> str | None:
    """An FTS5 query for the trigram index that every row holding one of ``variants`` meets
    (None if a variant is too short for trigrams). The index keeps no positions, so it
    finds rows with all the trigrams; the rows are then checked for the text itself."""
    parts = []
    for v in variants:
        grams = _trigrams(v)
        if not grams or len(v) < 3:
            return None
        parts.append("(" + " AND ".join('"' + g.replace('"', '""') + '"' for g in grams) + ")")
    return " OR ".join(parts)


def _casefold_contains(haystack: str | None, needle: str) -> bool:
    return haystack is not None and needle in haystack.casefold()


@dataclass
class _Sql:
    """A search as SQL: the predicates on ``e`` (events) and their parameters."""

    dialect: str
    where: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, clause: str, **params: Any) -> None:
        self.where.append(clause)
        self.params.update(params)


def time_param(conn: Connection, value: datetime) -> Any:
    """A time to compare with stored event times. SQLite holds them as text in UTC, written
    either ``2026-11-19 10:01:00+00:00`` (bulk ingest) or ``2026-11-19 10:01:00.000000``;
    the bound ``2026-11-19 10:01:00`` is a prefix of both, so it sorts at the same instant
    as either: ``>=`` takes them and ``<`` leaves them."""
    if conn.dialect.name != "sqlite":
        return value
    at = utc(value).astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(" ", "microseconds" if at.microsecond else "seconds")


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_clause(conn: Connection, variants: Sequence[str], sql: _Sql) -> str:
    """Rows whose URL or text holds one of ``variants``, in any case."""
    return text_clause(conn, variants, sql.params, ("e.url", "e.text"))


def text_clause(
    conn: Connection,
    variants: Sequence[str],
    params: dict[str, Any],
    columns: Sequence[str],
    prefix: str = "text",
) -> str:
    """Rows whose ``columns`` (one or more) hold one of ``variants``, in any case; the
    parameters (named ``prefix`` and a number) added to ``params``."""
    dialect = conn.dialect.name
    terms = []
    for i, v in enumerate(variants):
        name = f"{prefix}{i}"
        params[name] = v
        if dialect == "postgresql":
            # The form the trigram indexes (migration 0008) answer: lower(column) LIKE.
            params[name] = "%" + _like_escape(v) + "%"
            terms.append(" OR ".join(f"lower({c}) LIKE :{name} ESCAPE '\\'" for c in columns))
        elif v.isascii():
            # SQLite's lower() folds ASCII only, which is all an ASCII text needs.
            terms.append(
                " OR ".join(f"instr(lower(coalesce({c}, '')), :{name}) > 0" for c in columns)
            )
        else:
            driver = conn.connection.driver_connection
            driver.create_function(  # type: ignore[union-attr]
                "monitord_contains", 2, _casefold_contains, deterministic=True
            )
            params[name] = v.casefold()
            terms.append(" OR ".join(f"monitord_contains({c}, :{name})" for c in columns))
    return "(" + " OR ".join(terms) + ")"


def has_text_index(conn: Connection) -> bool:
    """Whether the store has a text index: FTS5 on SQLite, pg_trgm on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        found = conn.exec_driver_sql("SELECT to_regclass('ix_events_url_trgm')").scalar()
        return found is not None
    if conn.dialect.name != "sqlite":
        return False
    found = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TEXT_INDEX,)
    ).first()
    return found is not None


def flush_text_queue(conn: Connection) -> int:
    """Move every event waiting in the queue into the text index now, in the caller's
    transaction; return how many. (The follower's commits move them 20,000 at a time; a
    backfill with ``monitord ingest`` leaves them for the first text search.)"""
    if conn.dialect.name != "sqlite" or not has_text_index(conn):
        return 0
    moved = conn.exec_driver_sql(
        f"INSERT INTO {TEXT_INDEX}(rowid, url, text) SELECT e.rowid, e.url, e.text "
        f"FROM {TEXT_INDEX}_queue AS q JOIN events AS e ON e.rowid = q.event_rowid"
    ).rowcount
    conn.exec_driver_sql(f"DELETE FROM {TEXT_INDEX}_queue")
    return max(int(moved), 0)


def text_queue_waiting(conn: Connection) -> bool:
    """Whether events are waiting to go into the text index."""
    if conn.dialect.name != "sqlite" or not has_text_index(conn):
        return False
    return conn.exec_driver_sql(f"SELECT 1 FROM {TEXT_INDEX}_queue LIMIT 1").first() is not None


def _text_candidates(match: str) -> str:
    """The rowids the text index gives, and those still queued for it."""
    return (
        f"SELECT rowid AS rid FROM {TEXT_INDEX} WHERE {TEXT_INDEX} MATCH :match "
        f"UNION ALL SELECT event_rowid FROM {TEXT_INDEX}_queue"
    )


def reaches(
    conn: Connection, source: str, where: Sequence[str], params: dict[str, Any], n: int
) -> bool:
    """Whether ``n`` rows of ``source`` or more meet every clause of ``where``, counting no
    further than ``n`` (so that a common name or text costs no more to check than a rare
    one): the one count behind each choice between an index and reading by time."""
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    # PostgreSQL: each name (or key) looked for in each day's index, stopping at ``n``. Its
    # planner would hash a suffix's thousands of names over a scan of every lookup of every
    # day (on 50 million events 2.8-4.7 s; this way 171 ms, bench/RESULTS.md). A failed
    # statement's transaction is rolled back, and the SETs with it.
    pg = conn.dialect.name == "postgresql"
    if pg:
        conn.exec_driver_sql("SET enable_hashjoin = off")
        conn.exec_driver_sql("SET enable_mergejoin = off")
    found = conn.execute(
        text(f"SELECT count(*) FROM (SELECT 1 FROM {source}{clause} LIMIT :reach) AS c"),
        {**params, "reach": n},
    ).scalar_one()
    if pg:
        conn.exec_driver_sql("RESET enable_hashjoin")
        conn.exec_driver_sql("RESET enable_mergejoin")
    return int(found) >= n


def _common(conn: Connection, match: str, common: int, sql: _Sql) -> bool:
    """Whether the text index holds more than ``common`` candidates for ``match``."""
    if sql.dialect == "postgresql":
        return reaches(conn, "events AS e", sql.where[-1:], sql.params, common + 1)
    return reaches(conn, TEXT_INDEX, [f"{TEXT_INDEX} MATCH :match"], {"match": match}, common + 1)


def _suffix_clause(column: str) -> str:
    """Events whose ``column`` is a name of the suffix asked (``:domain`` and under it)."""
    return (
        f"{column} IN (SELECT domain FROM domain_names WHERE domain = :domain "
        "OR domain LIKE :domain_like ESCAPE '\\')"
    )


def tie_key(dialect: str, index: str | None) -> str:
    """What orders events at the same instant, so that reading ``index`` (None: no index
    gives the order) needs no sort: on SQLite the rowid an index's entries end with, but
    for the person's index the event's id, which its entries hold after the time (migration
    0010); on PostgreSQL the id."""
    return "rowid" if dialect == "sqlite" and index != USER_INDEX else "id"


def build_sql(conn: Connection, q: Query, common: int) -> tuple[str, _Sql, str]:
    """The SQL selecting the newest ``limit + 1`` hits (``fetch_events``' columns), and the
    plan's name."""
    sql = _Sql(conn.dialect.name)
    columns = event_columns(conn)
    drivers: list[tuple[str, str]] = []  # (plan, index), best first
    own, site = mine_sql(conn, "e.site_id")
    if site:  # one school's events (a trust's view reads every school's)
        sql.add(own, **site)
    if q.user is not None:
        sql.add("e.username = :user", user=q.user)
        drivers.append(("user", USER_INDEX))
    if q.device is not None:
        sql.add("e.device_id = :device", device=q.device)
        drivers.append(("device", "ix_events_device_ts"))
    if q.ip is not None:
        sql.add("e.client_ip = :ip", ip=q.ip)
        drivers.append(("ip", "ix_events_ip_ts"))
    fts: str | None = None
    if q.text is not None:
        variants = text_variants(q.text)
        sql.where.append(_text_clause(conn, variants, sql))
        match = fts_match(variants)
        # One person's, device's or address's events are few enough to check each; else
        # the text index, unless the text is so common that reading by time finds it sooner.
        if (
            not drivers
            and match is not None
            and has_text_index(conn)
            and not _common(conn, match, common, sql)
        ):
            fts = match
            if sql.dialect == "sqlite":
                sql.params["match"] = match
    if q.category is not None:
        sql.add("e.category = :category", category=q.category)
        drivers.append(("category", "ix_events_category_ts"))
    names = -1  # where the suffix's clause is in ``sql.where``
    if q.domain is not None:
        if q.domain.suffix:
            names = len(sql.where)
            sql.add(
                _suffix_clause("e.domain"),
                domain=q.domain.name,
                domain_like="%." + _like_escape(q.domain.name),
            )
        else:
            sql.add("e.domain = :domain", domain=q.domain.name)
        drivers.append(("domain", "ix_events_domain_ts"))
    span = len(sql.where)
    if q.since is not None:
        sql.add("e.ts >= :since", since=time_param(conn, q.since))
    if q.until is not None:
        sql.add("e.ts < :until", until=time_param(conn, q.until))
    drivers.append(("time", "ix_events_ts"))
    sql.params["lim"] = q.limit + 1
    where = " AND ".join(sql.where) or "1 = 1"
    sqlite = sql.dialect == "sqlite"
    plan, index = drivers[0]
    key = tie_key(sql.dialect, None if fts is not None else index)
    newest = f"ORDER BY e.ts DESC, e.{key} DESC LIMIT :lim"
    if fts is not None and not sqlite:
        # PostgreSQL's planner reads the trigram indexes for the text's LIKE itself.
        return f"SELECT {columns} FROM events AS e WHERE {where} {newest}", sql, "text"
    if fts is not None:
        # The text index gives candidates; each is read once, by rowid.
        source = (
            f"({_text_candidates(fts)}) AS c CROSS JOIN events AS e ON e.rowid = c.rid "
            f"WHERE {where}"
        )
        return f"SELECT {columns} FROM {source} {newest}", sql, "text"
    hint = f" INDEXED BY {index}" if sqlite else ""
    source = f"events AS e{hint} WHERE {where} {newest}"
    if plan == "domain" and names >= 0 and not sqlite and q.limit + 1 < COMMON_NAMES:
        counted = [sql.where[names], *sql.where[span:]]
        if reaches(conn, "events AS e", counted, sql.params, COMMON_NAMES):
            # The newest events of all, each checked against the names (the domain index kept
            # out of the statement, which PostgreSQL's planner would otherwise read name by
            # name, every event of each, to sort them).
            sql.where[names] = _suffix_clause("(e.domain || '')")
            where = " AND ".join(sql.where)
            return f"SELECT {columns} FROM events AS e WHERE {where} {newest}", sql, plan
    if plan == "domain" and names >= 0:
        # Many names: the newest of all their events are sorted from the index alone, and
        # only those rows read (rather than every row of every name before sorting).
        if not sqlite:
            # Fewer than COMMON_NAMES events (counted above), or every match asked for: read
            # by their names. Given the time's order PostgreSQL's planner would walk every
            # event by time for them (a suffix with none, on 50 million: 507 ms; 0.6 ms so).
            by_names = newest.replace("e.ts DESC", "e.ts + interval '0 seconds' DESC", 1)
            source = f"events AS e WHERE {where} {by_names}"
        return (
            f"SELECT {columns} FROM events AS e WHERE e.{key} IN "
            f"(SELECT e.{key} FROM {source}) ORDER BY e.ts DESC, e.{key} DESC",
            sql,
            plan,
        )
    return f"SELECT {columns} FROM {source}", sql, plan
