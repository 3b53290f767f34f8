"""What search, the timeline and the alert mail show of the lookups (docs/store.md): DNS
lookups and proxy requests as (id, time, name, party, verdict, URL) rows, chosen by party,
name, verdict or URL and read by the index that fits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from monitord.store.database import mine_sql
from monitord.store.lookupkeys import DAY_MICROS
from monitord.store.lookups import from_micros, id_sql, micros

# A lookup as search shows it: its id, time (µs), name, its party's columns, and its
# verdict's category and severity (NULL when nothing matched).
SHOWN = (
    "n.domain, p.source, p.fmt, p.kind, p.client_ip, p.username, p.role, p.year_group, "
    "p.device_id, v.category, v.severity, u.url"
)
# The party columns a search, a timeline or the alert mail chooses lookups by.
PARTY_KEYS = frozenset({"username", "device_id", "client_ip"})


# A lookup ``l`` joined to its party, name, verdict and URL.
_JOINS = (
    "JOIN lookup_parties AS p ON p.id = l.party JOIN lookup_names AS n ON n.id = l.name "
    "LEFT JOIN lookup_verdicts AS v ON v.id = l.verdict LEFT JOIN lookup_urls AS u "
    "ON u.id = l.url"
)


def select_shown(
    conn: Connection,
    *,
    party: Mapping[str, str] | None = None,
    names: str | None = None,
    verdicts: str | None = None,
    urls: str | None = None,
    where: Sequence[str] = (),
    params: Mapping[str, Any] | None = None,
    newest: bool = True,
    limit: int | None = None,
    by_time: bool = False,
) -> list[tuple[Any, ...]]:
    """Lookups as (id, µs, ``SHOWN``...), newest first (or oldest), at most ``limit``: those
    of the parties whose columns equal ``party`` (``username``, ``device_id``,
    ``client_ip``), of the names ``names`` selects (SQL on ``lookup_names``, a subquery of
    ids), of the verdicts ``verdicts`` selects (likewise on ``lookup_verdicts``), of the
    URLs ``urls`` selects (likewise on ``lookup_urls``: proxy requests), and meeting
    ``where`` (on ``l``, ``p``, ``n``, ``v``, ``u``). Read by the index that fits, or with
    ``by_time`` and no party by time alone (names so often looked up that their newest are
    found sooner among the newest lookups than by sorting all of theirs)."""
    own, site = mine_sql(conn, "site_id")
    values: dict[str, Any] = {**(params or {}), **site}
    clauses = list(where)
    index = "ix_lookups_ts"
    if party:
        clauses.append(_of_party(own, party, values))
        index = "ix_lookups_party_ts"
    else:
        clauses.append(own.replace("site_id", "p.site_id"))
    if names is not None:
        # Read by time, the name index is kept out of the statement (PostgreSQL's planner
        # has no hint to take, and would read every lookup of every name to sort them).
        column = "l.name + 0" if by_time and not party else "l.name"
        clauses.append(f"{column} IN ({names})")
        if not party:
            index = "ix_lookups_name_ts"
    if verdicts is not None:
        clauses.append(f"l.verdict IS NOT NULL AND l.verdict IN ({verdicts})")
        if not party and names is None:
            index = "ix_lookups_verdict_ts"
    if urls is not None:
        clauses.append(f"l.url IS NOT NULL AND l.url IN ({urls})")
        if not party and names is None:
            index = "ix_lookups_url_ts"
    if by_time and not party:
        index = "ix_lookups_ts"
    hint = f" INDEXED BY {index}" if conn.dialect.name == "sqlite" else ""
    order = "DESC" if newest else "ASC"
    sql = (
        f"SELECT {id_sql(conn.dialect.name)}, l.ts, {SHOWN} FROM lookups AS l{hint} "
        f"{_JOINS} WHERE {' AND '.join(clauses)} ORDER BY l.ts {order}, "
        f"l.id {order}"
    )
    if limit is not None:
        sql += " LIMIT :lookup_limit"
        values["lookup_limit"] = limit
    return _serial(conn, bool(party), sql, values)


def _of_party(own: str, party: Mapping[str, str], values: dict[str, Any]) -> str:
    """The clause choosing the lookups of the parties whose columns equal ``party`` (of the
    school ``own`` says), its values added to ``values``."""
    terms = [own]
    for column, value in party.items():
        if column not in PARTY_KEYS:
            raise ValueError(f"lookups are not chosen by {column!r}")
        terms.append(f"{column} = :party_{column}")
        values[f"party_{column}"] = value
    return f"l.party IN (SELECT id FROM lookup_parties WHERE {' AND '.join(terms)})"


def _serial(
    conn: Connection, party: bool, sql: str, values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of ``sql``; a party's read without parallel workers on PostgreSQL.

    A party's lookups (a person's day: a few thousand, from each day's party index) are
    read by this backend alone: starting a parallel worker to sort them took longer than
    the read itself on a busy two-core server (a person's day on 50 million events: 162 ms
    with a worker, 90 ms without, bench/RESULTS.md). A failed statement's transaction is
    rolled back, and the SET with it."""
    serial = party and conn.dialect.name == "postgresql"
    if serial:
        conn.exec_driver_sql("SET max_parallel_workers_per_gather = 0")
    rows = [tuple(r) for r in conn.execute(text(sql), values)]
    if serial:
        conn.exec_driver_sql("RESET max_parallel_workers_per_gather")
    return rows


Shown = list[tuple[Any, ...]]


def shown_around(
    conn: Connection, party: Mapping[str, str], at: int, low: int, high: int, limit: int
) -> tuple[Shown, Shown]:
    """A party's lookups (as ``select_shown``'s rows) from ``low`` to ``at``, newest first,
    and after ``at`` to ``high``, oldest first (µs), at most ``limit`` each: the alert mail's
    lookups around its event. PostgreSQL reads both in one statement, each side chosen,
    ordered and cut to ``limit`` before its rows are joined to their keys (a party's hour of
    lookups joined whole, then cut, took 4-10 ms a side while ingest ran; two statements
    and their settings were half an alert's round trips: bench/RESULTS.md, pgin19);
    SQLite as ``select_shown`` reads each."""
    params = {"at": at, "low": low, "high": high}
    sides = ((["l.ts <= :at", "l.ts >= :low"], True), (["l.ts > :at", "l.ts <= :high"], False))
    if conn.dialect.name != "postgresql":
        before, after = (
            select_shown(conn, party=party, where=w, params=params, newest=n, limit=limit)
            for w, n in sides
        )
        return before, after
    own, site = mine_sql(conn, "site_id")
    values: dict[str, Any] = {**params, **site, "lookup_limit": limit}
    chosen = _of_party(own, party, values)
    cut = []
    for side, (where, newest) in enumerate(sides):
        order = "DESC" if newest else "ASC"
        cut.append(
            f"(SELECT *, {side} AS side FROM lookups AS l WHERE {chosen} AND "
            f"{' AND '.join(where)} ORDER BY l.ts {order}, l.id {order} LIMIT :lookup_limit)"
        )
    sql = (
        f"SELECT {id_sql(conn.dialect.name)}, l.ts, {SHOWN}, l.side "
        f"FROM ({' UNION ALL '.join(cut)}) AS l {_JOINS}"
    )
    rows = _serial(conn, True, sql, values)
    # Each side in select_shown's order: by time, then id (hex keeps the bytes' order).
    before = sorted((r[:-1] for r in rows if r[-1] == 0), key=lambda r: (r[1], r[0]), reverse=True)
    after = sorted((r[:-1] for r in rows if r[-1] != 0), key=lambda r: (r[1], r[0]))
    return before, after


def site_until(conn: Connection, until: int | None) -> int | None:
    """An end (µs, exclusive) for reading this site's lookups before ``until`` (None: no
    end) by time or by name that leaves out no lookup of this site's and as few of other
    schools' as the blocks tell: just after the newest lookup of this site's blocks that
    began before ``until``, or 0 when it has none (no lookup is read). Without it such a
    read of a trust's shared store walks every school's lookups newer than this school's
    newest first (on 50 million events, two days of another school's before ``*.google.com``
    took 3.3-5.7 s, bench/RESULTS.md). None for every site's view, or when the blocks tell
    nothing sooner than ``until``. Every lookup's time is within its block's, and a block
    within one day: the blocks that began before ``until`` ended before a day after it, so
    the time index's walk stops there."""
    own, site = mine_sql(conn, "site_id")
    if not site:
        return until
    params: dict[str, Any] = dict(site)
    span = ""
    if until is not None:
        span = "last_ts < :block_end AND first_ts < :until AND "
        params.update(block_end=until + DAY_MICROS, until=until)
    newest = conn.execute(
        text(f"SELECT last_ts FROM raw_blocks WHERE {span}{own} ORDER BY last_ts DESC LIMIT 1"),
        params,
    ).scalar()
    if newest is None:
        return 0
    end = int(newest) + 1
    return end if until is None else min(end, until)


def lookup_count(conn: Connection) -> int:
    """How many lookups this site (or every site) holds."""
    own, site = mine_sql(conn, "p.site_id")
    sql = (
        f"SELECT count(*) FROM lookups AS l JOIN lookup_parties AS p ON p.id = l.party WHERE {own}"
    )
    return int(conn.execute(text(sql), site).scalar_one())


def newest_lookup(conn: Connection) -> datetime | None:
    """The time of this site's newest lookup (read from the newest end of the time index)."""
    found = select_shown(conn, limit=1)
    return from_micros(int(found[0][1])) if found else None


def lookup_sightings(conn: Connection, since: datetime) -> list[tuple[datetime, str, str]]:
    """This site's proxy requests since ``since`` that name a user and an address, as (time,
    user name, address), oldest first: who was behind an address, as identity learns it from
    a proxy's log (read by the time index: the span is minutes)."""
    own, site = mine_sql(conn, "p.site_id")
    sql = (
        'SELECT l.ts, p."user", p.client_ip FROM lookups AS l JOIN lookup_parties AS p '
        "ON p.id = l.party WHERE l.ts >= :since "
        f'AND p."user" IS NOT NULL AND p.client_ip IS NOT NULL AND {own} ORDER BY l.ts'
    )
    found = conn.execute(text(sql), {"since": micros(since), **site})
    return [(from_micros(int(ts)), str(user), str(ip)) for ts, user, ip in found]
