"""Ad-hoc search of the stored events (``monitord search``), with its audit record.

Filters combine (all must hold): ``user``, ``ip``, ``device``, ``domain`` (an exact name, or
``*.tiktok.com`` for the name and every name under it, on label boundaries), ``category``,
``text`` (a substring, in any case, of the URL, a search term or typed text; a search term in
a URL is found as typed, ``how to`` as well as ``how+to`` and ``how%20to``), ``since`` and
``until``. The answer is the newest ``limit`` matching events, oldest first, optionally with
the ``context`` events before and after each from the same device (or the same address when
the device is not known).

How it stays fast on tens of millions of events (SQLite): one index drives each search, read
newest first and stopped at the limit: a person's, device's or address's events by time; the
flagged events of a category; the trigram full-text index of URLs and texts (migration 0007,
used unless the text is very common, when reading by time finds enough sooner); the domain
index, for a suffix through ``domain_names`` (every distinct name, kept by a trigger), so
that the names are scanned rather than the events; else time alone. Every other filter is
checked on the rows the index gives.

Every search is recorded in the audit trail with who searched, the filters and the reason
(required unless ``[search] require_reason = false``).
"""

from __future__ import annotations

import csv
import gc
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple, TextIO
from urllib.parse import quote, quote_plus, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select, text

from monitord.core import terminal
from monitord.core.categories import CATEGORIES
from monitord.store.database import audit, mine, mine_sql, table_of, utc
from monitord.store.tables import TEXT_INDEX, DeviceRow

DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000_000
MAX_CONTEXT = 100
# Above this many full-text candidates a text is common: reading by time finds it sooner.
COMMON_TEXT = 50_000
# At most this many trigrams of a text are asked of the index (spread along it); the rows
# it gives are checked for the whole text anyway.
MAX_TRIGRAMS = 12

# A person's events by time, with every column ``fetch_events`` reads on SQLite (0010).
USER_INDEX = "ix_events_user_ts"

# The columns a search shows and exports, in the order of the CSV.
COLUMNS = (
    "id",
    "ts",
    "local_time",
    "person",
    "role",
    "year_group",
    "device",
    "ip",
    "source",
    "format",
    "kind",
    "domain",
    "url",
    "text",
    "category",
    "severity",
    "blocked",
    "indicator",
    "match",
    "group",
)
# The stored columns of a ``Found``, in its order: first those that differ from event to
# event, then those that mostly repeat (``_REPEATING``).
_REPEATING = (
    "e.source, e.fmt, e.kind, e.client_ip, e.username, e.role, e.year_group, e.device_id, "
    "e.category, e.severity, e.blocked"
)
EVENT_COLUMNS = f"e.id, e.ts, e.url, e.text, e.domain, {_REPEATING}"
# On SQLite the repeating columns come as one JSON array, decoded once for each distinct
# array: one person's day of thousands of events has a handful of them, and the driver
# costs 0.1 to 0.2 µs for each value it hands over, twice what SQLite takes to make the array.
_SQLITE_EVENT_COLUMNS = f"e.id, e.ts, e.url, e.text, e.domain, json_array({_REPEATING})"


class SearchError(ValueError):
    """A search that cannot be run as asked; the message says why, in one line."""


# --- what was asked ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DomainPattern:
    """A domain as asked: ``name`` exactly, or with ``suffix`` the name and every name under
    it on label boundaries (``*.tiktok.com``: tiktok.com and www.tiktok.com, never
    nottiktok.com)."""

    name: str
    suffix: bool

    def __str__(self) -> str:
        return f"*.{self.name}" if self.suffix else self.name

    def matches(self, domain: str) -> bool:
        return domain == self.name or (self.suffix and domain.endswith("." + self.name))


_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def parse_domain(value: str) -> DomainPattern:
    """``www.tiktok.com``, ``*.tiktok.com`` or ``.tiktok.com`` (a suffix), or a pasted URL
    (its host). Names are compared in lower case; international names as stored (xn--)."""
    s = value.strip().lower()
    if "://" in s:
        s = urlsplit(s).hostname or ""
    suffix = False
    if s.startswith("*."):
        s, suffix = s[2:], True
    elif s.startswith("."):
        s, suffix = s[1:], True
    s = s.rstrip(".")
    if s and not s.isascii():
        try:
            s = s.encode("idna").decode("ascii")
        except UnicodeError:
            raise SearchError(f"--domain {value!r}: not a domain name") from None
    if "*" in s:
        raise SearchError(
            f"--domain {value!r}: a wildcard goes only at the start, as in *.example.com "
            "(the name and every name under it)"
        )
    labels = s.split(".")
    if not s or len(s) > 253 or not all(_LABEL.match(label) for label in labels):
        raise SearchError(
            f"--domain {value!r}: not a domain name (expected e.g. www.tiktok.com or *.tiktok.com)"
        )
    return DomainPattern(s, suffix)


@dataclass(frozen=True, slots=True)
class Query:
    user: str | None = None
    ip: str | None = None
    device: str | None = None
    domain: DomainPattern | None = None
    category: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = DEFAULT_LIMIT
    context: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise SearchError(f"--limit must be between 1 and {MAX_LIMIT:,}")
        if not 0 <= self.context <= MAX_CONTEXT:
            raise SearchError(f"--context must be between 0 and {MAX_CONTEXT}")
        if self.category is not None and self.category not in CATEGORIES:
            raise SearchError(
                f"--category {self.category!r} is not a category "
                f"(expected one of {', '.join(CATEGORIES)})"
            )
        if self.text is not None and not self.text.strip():
            raise SearchError("--text needs some text to look for")
        if self.since and self.until and self.until <= self.since:
            raise SearchError("--until must be later than --since")

    def filters(self) -> dict[str, Any]:
        """The filters as asked, for the audit trail."""
        out: dict[str, Any] = {}
        for key in ("user", "ip", "device", "category", "text"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.domain is not None:
            out["domain"] = str(self.domain)
        if self.since is not None:
            out["since"] = _iso(self.since)
        if self.until is not None:
            out["until"] = _iso(self.until)
        out["limit"] = self.limit
        if self.context:
            out["context"] = self.context
        return out

    @property
    def subject(self) -> str:
        """Whom or what the search is about, for the audit record's subject."""
        for key in ("user", "device", "ip"):
            value = getattr(self, key)
            if value:
                return f"{key}:{value}"[:256]
        if self.domain is not None:
            return f"domain:{self.domain}"[:256]
        return ""


# --- what was found ----------------------------------------------------------------------


class Found(NamedTuple):
    """One event as search and timeline show it: a tuple made straight from the driver's row
    (a person's day is thousands), its time as stored, read as a datetime by ``ts``."""

    id: str
    stamp: Any  # the time as stored: SQLite's text, PostgreSQL's datetime
    url: str | None
    text: str | None
    domain: str | None
    source: str
    fmt: str
    kind: str
    ip: str | None
    person: str | None
    role: str | None
    year_group: str | None
    device: str | None
    category: str | None
    severity: str
    blocked: int  # 0 or 1, as SQLite holds a boolean
    match: bool = True  # False: shown only as context
    group: int | None = None  # with context: the block of neighbouring events it is in
    alerts: tuple[int, ...] | None = None  # the alerts holding it (timeline)

    @property
    def ts(self) -> datetime:
        """The event's time, aware UTC."""
        return _stored_time(self.stamp)

    @property
    def indicator(self) -> str:
        """What the event is about: the search or text, else the URL, else the domain."""
        if self.kind in ("search", "text") and self.text:
            return self.text
        return (
            self.url or self.domain or self.text or " ".join(x for x in (self.kind, self.ip) if x)
        )

    @property
    def flagged(self) -> bool:
        return bool(self.alerts) or (self.category is not None and self.severity != "none")

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": _iso(self.ts),
            "local_time": self.ts.astimezone(tz).isoformat(),
            "person": self.person,
            "role": self.role,
            "year_group": self.year_group,
            "device": self.device,
            "ip": self.ip,
            "source": self.source,
            "format": self.fmt,
            "kind": self.kind,
            "domain": self.domain,
            "url": self.url,
            "text": self.text,
            "category": self.category,
            "severity": self.severity,
            "blocked": bool(self.blocked),
            "indicator": self.indicator,
            "match": self.match,
            "group": self.group,
        }


@dataclass(slots=True)
class SearchResult:
    events: list[Found]  # hits (and context), in the order shown
    hits: int  # events that matched (not counting context)
    more: bool  # more events matched than the limit: these are the newest
    plan: str  # the index that drove the search (for the benchmark and the curious)


def _iso(value: datetime) -> str:
    return utc(value).isoformat().replace("+00:00", "Z")


def _stored_time(value: Any) -> datetime:
    """An event time as the driver gives it: SQLite's text (``2026-11-19 10:01:02+00:00``,
    or without the zone when SQLAlchemy wrote it) or PostgreSQL's datetime; aware UTC."""
    if isinstance(value, datetime):
        return utc(value)
    ts = datetime.fromisoformat(value)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def event_columns(conn: Connection) -> str:
    """The select list ``fetch_events`` reads, for this connection's database."""
    return _SQLITE_EVENT_COLUMNS if conn.dialect.name == "sqlite" else EVENT_COLUMNS


class _Repeating(dict[str, tuple[Any, ...]]):
    """The repeating columns of one fetch's rows, each distinct JSON array decoded once,
    with the fields that follow them in a ``Found``."""

    def __init__(self, tail: tuple[Any, ...]) -> None:
        super().__init__()
        self.tail = tail

    def __missing__(self, key: str) -> tuple[Any, ...]:
        value = self[key] = (*json.loads(key), *self.tail)
        return value


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector held off while a fetch makes thousands of tuples: they
    hold no cycles, and a collection would walk them (and now and then every object the
    imports made) for nothing."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def fetch_events(
    conn: Connection, sql: str, params: Mapping[str, Any], *, match: bool = True
) -> list[Found]:
    """The events ``sql`` selects (``event_columns(conn)``, with ``:name`` parameters), in
    its order. On SQLite straight through the driver, each row made a ``Found`` as it
    comes: a person's day is thousands of rows, and per-row processing would cost more
    than SQLite's own work."""
    tail = (match, None, None)
    new = tuple.__new__
    if conn.dialect.name == "sqlite":
        driver = conn.connection.driver_connection
        repeating = _Repeating(tail)
        with _collector_paused():
            rows = driver.execute(sql, dict(params)).fetchall()  # type: ignore[union-attr]
            return [new(Found, (i, t, u, x, d) + repeating[r]) for i, t, u, x, d, r in rows]
    return [new(Found, (*r, *tail)) for r in conn.execute(text(sql), dict(params))]


# --- building the query ------------------------------------------------------------------


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
    terms = []
    for i, v in enumerate(variants):
        name = f"text{i}"
        sql.params[name] = v
        if sql.dialect == "postgresql":
            # The form the trigram indexes (migration 0008) answer: lower(column) LIKE.
            sql.params[name] = "%" + _like_escape(v) + "%"
            terms.append(
                f"lower(e.url) LIKE :{name} ESCAPE '\\' OR lower(e.text) LIKE :{name} ESCAPE '\\'"
            )
        elif v.isascii():
            # SQLite's lower() folds ASCII only, which is all an ASCII text needs.
            terms.append(
                f"instr(lower(coalesce(e.url, '')), :{name}) > 0 "
                f"OR instr(lower(coalesce(e.text, '')), :{name}) > 0"
            )
        else:
            driver = conn.connection.driver_connection
            driver.create_function(  # type: ignore[union-attr]
                "monitord_contains", 2, _casefold_contains, deterministic=True
            )
            sql.params[name] = v.casefold()
            terms.append(f"monitord_contains(e.url, :{name}) OR monitord_contains(e.text, :{name})")
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


def _common(conn: Connection, match: str, common: int, sql: _Sql) -> bool:
    """Whether the text index holds more than ``common`` candidates for ``match``."""
    if sql.dialect == "postgresql":
        n = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM events AS e "
                f"WHERE {sql.where[-1]} LIMIT :cap) AS c"
            ),
            {**sql.params, "cap": common + 1},
        ).scalar_one()
        return int(n) > common
    n = conn.execute(
        text(
            f"SELECT count(*) FROM (SELECT rowid FROM {TEXT_INDEX} WHERE {TEXT_INDEX} "
            "MATCH :match LIMIT :cap)"
        ),
        {"match": match, "cap": common + 1},
    ).scalar_one()
    return int(n) > common


def tie_key(dialect: str, index: str | None) -> str:
    """What orders events at the same instant, so that reading ``index`` (None: no index
    gives the order) needs no sort: on SQLite the rowid an index's entries end with, but
    for the person's index the event's id, which its entries hold after the time (migration
    0010); on PostgreSQL the id."""
    return "rowid" if dialect == "sqlite" and index != USER_INDEX else "id"


def _build(conn: Connection, q: Query, common: int) -> tuple[str, _Sql, str]:
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
    if q.domain is not None:
        if q.domain.suffix:
            sql.add(
                "e.domain IN (SELECT domain FROM domain_names WHERE domain = :domain "
                "OR domain LIKE :domain_like ESCAPE '\\')",
                domain=q.domain.name,
                domain_like="%." + _like_escape(q.domain.name),
            )
        else:
            sql.add("e.domain = :domain", domain=q.domain.name)
        drivers.append(("domain", "ix_events_domain_ts"))
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
    if plan == "domain" and q.domain is not None and q.domain.suffix:
        # Many names: the newest of all their events are sorted from the index alone, and
        # only those rows read (rather than every row of every name before sorting).
        return (
            f"SELECT {columns} FROM events AS e WHERE e.{key} IN "
            f"(SELECT e.{key} FROM {source}) ORDER BY e.ts DESC, e.{key} DESC",
            sql,
            plan,
        )
    return f"SELECT {columns} FROM {source}", sql, plan


def run_query(conn: Connection, q: Query, *, common_text: int = COMMON_TEXT) -> SearchResult:
    """The newest ``q.limit`` events that meet every filter, oldest first, with context.
    ``common_text``: above this many candidates from the text index, read by time instead."""
    stmt, sql, plan = _build(conn, q, common_text)
    hits = fetch_events(conn, stmt, sql.params)  # newest first
    hits.reverse()
    more = len(hits) > q.limit
    if more:
        hits = hits[len(hits) - q.limit :]
    events = hits if not q.context else _with_context(conn, hits, q.context)
    return SearchResult(events, len(hits), more, plan)


# --- context -----------------------------------------------------------------------------


def _neighbours(conn: Connection, hit: Found, n: int) -> list[Found]:
    """The ``n`` events before and after ``hit`` from the same device (else address)."""
    if hit.device is not None:
        column, value, index = "device_id", hit.device, "ix_events_device_ts"
    elif hit.ip is not None:
        column, value, index = "client_ip", hit.ip, "ix_events_ip_ts"
    else:
        return []
    hint = f" INDEXED BY {index}" if conn.dialect.name == "sqlite" else ""
    out = []
    for cmp, order in (("<", "DESC"), (">", "ASC")):
        stmt = (
            f"SELECT {event_columns(conn)} FROM events AS e{hint} WHERE e.{column} = :value "
            f"AND (e.ts {cmp} :ts OR (e.ts = :ts AND e.id {cmp} :id)) "
            f"ORDER BY e.ts {order}, e.id {order} LIMIT :n"
        )
        # The hit's time exactly as stored, so that events at the same instant sort by id.
        params = {"value": value, "ts": hit.stamp, "id": hit.id, "n": n}
        out += fetch_events(conn, stmt, params, match=False)
    return out


def _with_context(conn: Connection, hits: list[Found], n: int) -> list[Found]:
    """Hits with their neighbours, in blocks: a block is one device's run of events around
    one or more hits whose neighbourhoods share events; blocks in order of their first."""
    by_id: dict[str, Found] = {h.id: h for h in hits}
    windows: list[list[str]] = []
    for h in hits:
        ids = [h.id]
        for ev in _neighbours(conn, h, n):
            by_id.setdefault(ev.id, ev)
            ids.append(ev.id)
        windows.append(ids)
    # Union the windows that share an event.
    parent = list(range(len(windows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, ids in enumerate(windows):
        for eid in ids:
            if eid in owner:
                parent[root(i)] = root(owner[eid])
            else:
                owner[eid] = i
    blocks: dict[int, set[str]] = {}
    for eid, i in owner.items():
        blocks.setdefault(root(i), set()).add(eid)
    ordered = sorted(
        (sorted((by_id[e] for e in ids), key=lambda f: (f.ts, f.id)) for ids in blocks.values()),
        key=lambda block: (block[0].ts, block[0].id),
    )
    return [ev._replace(group=number) for number, block in enumerate(ordered, 1) for ev in block]


# --- the audited entry points ------------------------------------------------------------


def check_reason(reason: str | None, required: bool, command: str = "search") -> str:
    """The reason given, stripped; SearchError if one is needed and none was given."""
    given = (reason or "").strip()
    if required and not given:
        raise SearchError(
            f'{command} needs --reason "..." (why you are looking: it is kept in the audit '
            "trail with your name, as the investigation procedure requires)"
        )
    return given


def search(
    engine: Engine,
    q: Query,
    actor: str,
    reason: str | None,
    now: datetime,
    *,
    require_reason: bool = True,
    output: str = "table",
) -> SearchResult:
    """Run ``q`` and record it in the audit trail (operator, filters, reason, count)."""
    why = check_reason(reason, require_reason)
    asked = q.filters()
    subject = q.subject
    if q.text is not None:
        with engine.connect() as conn:
            waiting = text_queue_waiting(conn)
        if waiting:
            with engine.begin() as conn:
                flush_text_queue(conn)
    with engine.connect() as conn:
        if q.device is not None:
            q = replace(q, device=resolve_device(conn, q.device))
        result = run_query(conn, q)
    detail = {
        "filters": asked,
        "reason": why,
        "results": result.hits,
        "more": result.more,
        "output": output,
    }
    with engine.begin() as conn:
        audit(conn, actor, "search", subject, detail, now=now)
    return result


# --- output ------------------------------------------------------------------------------


def printable(value: str | None, width: int | None = None) -> str:
    """Log content made safe for a terminal (``monitord.core.terminal``): control characters,
    escape sequences and bidirectional overrides a pupil could type shown as ``?``, long
    values cut."""
    if value is None:
        return "-"
    s = terminal.printable(value)
    if width is not None and len(s) > width:
        s = s[: width - 1] + "…"
    return s


def _spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab or
    carriage return) is prefixed with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_csv(events: Iterable[Found], tz: ZoneInfo, stream: TextIO) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    for ev in events:
        row = ev.as_json(tz)
        writer.writerow([_spreadsheet_safe(row[c]) for c in COLUMNS])


def csv_text(events: Iterable[Found], tz: ZoneInfo) -> str:
    buf = io.StringIO()
    write_csv(events, tz, buf)
    return buf.getvalue()


def json_text(events: Iterable[Found], tz: ZoneInfo) -> str:
    return json.dumps([ev.as_json(tz) for ev in events], indent=2, ensure_ascii=False) + "\n"


def local_time(ts: datetime, tz: ZoneInfo, with_date: bool = True) -> str:
    return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def resolve_device(conn: Connection, value: str) -> str:
    """A device as the operator names it: its id in the inventory, or its host name (in any
    case) when that names exactly one device; otherwise the value as given."""
    dt = table_of(DeviceRow)
    own = mine(conn, dt.c.site_id)
    known = conn.execute(select(dt.c.device_id).where(own, dt.c.device_id == value)).first()
    if known is not None:
        return value
    named = conn.execute(
        select(dt.c.device_id).where(own, func.lower(dt.c.hostname) == value.lower()).limit(2)
    ).all()
    return str(named[0][0]) if len(named) == 1 else value
