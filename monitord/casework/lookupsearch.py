"""Search's and timeline's reading of the lookups (``lookups``, see
docs/store.md), as ``Found`` rows beside the events': the same filters, read by the index
that fits, and merged with the events' answer in time order."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from monitord.casework.found import Found
from monitord.casework.plan import COMMON_NAMES, reaches, text_clause, text_variants
from monitord.casework.query import Query
from monitord.store.lookups import from_micros, micros
from monitord.store.lookupshown import select_shown, site_until


def _stamp(dialect: str, us: int) -> Any:
    """A lookup's time as the events' column holds it: SQLite's text as bulk ingest writes
    it, PostgreSQL's datetime without a zone."""
    at = from_micros(us).replace(tzinfo=None)
    return at.isoformat(" ", "microseconds") if dialect == "sqlite" else at


def _found(conn: Connection, rows: Iterable[tuple[Any, ...]], match: bool) -> list[Found]:
    dialect = conn.dialect.name
    return [
        Found(
            r[0],
            _stamp(dialect, int(r[1])),
            r[13],
            None,
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            r[10],
            r[11],
            r[12] or "none",
            0,
            match,
        )
        for r in rows
    ]


def _names(q: Query, params: dict[str, Any]) -> str | None:
    """The subquery of the name ids a domain filter takes, or None without one."""
    if q.domain is None:
        return None
    params["lookup_domain"] = q.domain.name
    if not q.domain.suffix:
        return "SELECT id FROM lookup_names WHERE domain = :lookup_domain"
    escaped = q.domain.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    params["lookup_like"] = "%." + escaped
    return (
        "SELECT id FROM lookup_names WHERE domain = :lookup_domain "
        "OR domain LIKE :lookup_like ESCAPE '\\'"
    )


def url_subquery(conn: Connection, value: str, params: dict[str, Any]) -> str:
    """The subquery of the ids of the URLs holding ``value`` in any case, as search finds
    it in an event's URL (its parameters added to ``params``)."""
    found: dict[str, Any] = {}
    clause = text_clause(conn, text_variants(value), found, ("e.url",), "lookup_text")
    params.update(found)
    return f"SELECT e.id FROM lookup_urls AS e WHERE {clause}"


def lookup_hits(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The newest ``limit`` lookups ``q`` finds, newest first: when it asks for a text, the
    proxy requests whose URL holds it (a DNS lookup has neither URL nor text); by its
    verdict when it asks for a category."""
    party = {
        column: value
        for column, value in (("username", q.user), ("device_id", q.device), ("client_ip", q.ip))
        if value is not None
    }
    params: dict[str, Any] = {}
    where = []
    if q.since is not None:
        where.append("l.ts >= :lookup_since")
        params["lookup_since"] = micros(q.since)
    until = None if q.until is None else micros(q.until)
    if not party:
        # Read by time, name, verdict or URL: no later than this school's newest lookup (a
        # party's are its school's alone).
        until = site_until(conn, until)
    if until is not None:
        where.append("l.ts < :lookup_until")
        params["lookup_until"] = until
    names = _names(q, params)
    verdicts = None
    if q.category is not None:
        verdicts = "SELECT id FROM lookup_verdicts WHERE category = :lookup_category"
        params["lookup_category"] = q.category
    by_time = (
        names is not None
        and not party
        and verdicts is None
        and limit < COMMON_NAMES
        and _common(conn, names, where, params)
    )
    urls = None
    if q.text is not None:
        urls = url_subquery(conn, q.text, params)
    rows = select_shown(
        conn,
        party=party,
        names=names,
        verdicts=verdicts,
        urls=urls,
        where=where,
        params=params,
        limit=limit,
        by_time=by_time,
    )
    return _found(conn, rows, True)


def _common(conn: Connection, names: str, where: list[str], params: dict[str, Any]) -> bool:
    """Whether the names ``names`` selects were looked up ``COMMON_NAMES`` times or more in
    the span ``where`` asks for (counted from their index, up to that many)."""
    hint = " INDEXED BY ix_lookups_name_ts" if conn.dialect.name == "sqlite" else ""
    counted = [f"l.name IN ({names})", *where]
    return reaches(conn, f"lookups AS l{hint}", counted, params, COMMON_NAMES)


def newest(events: list[Found], lookups: list[Found], limit: int) -> list[Found]:
    """The newest ``limit`` of two answers each newest first, newest first."""
    if not lookups:
        return events[:limit]
    both = sorted(events + lookups, key=lambda f: (f.ts, f.id), reverse=True)
    return both[:limit]


def lookup_neighbours(conn: Connection, hit: Found, n: int) -> tuple[list[Found], list[Found]]:
    """The ``n`` lookups just before and just after ``hit`` from its device (else its
    address): (before, newest first; after, oldest first)."""
    if hit.device is not None:
        party = {"device_id": hit.device}
    elif hit.ip is not None:
        party = {"client_ip": hit.ip}
    else:
        return [], []
    at = micros(hit.ts)
    key = bytes.fromhex(hit.id) if len(hit.id) == 32 else b""
    params = {"lookup_at": at, "lookup_id": key}
    out = []
    for cmp, latest in (("<", True), (">", False)):
        where = [f"(l.ts {cmp} :lookup_at OR (l.ts = :lookup_at AND l.id {cmp} :lookup_id))"]
        rows = select_shown(conn, party=party, where=where, params=params, newest=latest, limit=n)
        out.append(_found(conn, rows, False))
    return out[0], out[1]


def nearest(events: list[Found], lookups: list[Found], hit: Found, n: int) -> list[Found]:
    """Of the events' and the lookups' neighbours of ``hit``, the ``n`` nearest on each
    side."""
    if not lookups:
        return events
    before = [f for f in events + lookups if f.ts < hit.ts or (f.ts == hit.ts and f.id < hit.id)]
    after = [f for f in events + lookups if f not in before]
    before.sort(key=lambda f: (f.ts, f.id), reverse=True)
    after.sort(key=lambda f: (f.ts, f.id))
    return before[:n] + after[:n]


def lookup_day(
    conn: Connection,
    start: datetime,
    end: datetime,
    user: str | None,
    device: str | None,
) -> list[Found]:
    """A person's (and/or device's) lookups from ``start`` to ``end``, oldest first."""
    party = {
        column: value
        for column, value in (("username", user), ("device_id", device))
        if value is not None
    }
    where = ["l.ts >= :lookup_start", "l.ts < :lookup_end"]
    params = {"lookup_start": micros(start), "lookup_end": micros(end)}
    rows = select_shown(conn, party=party, where=where, params=params, newest=False)
    return _found(conn, rows, True)


def in_time_order(events: list[Found], lookups: list[Found]) -> list[Found]:
    """Two answers each oldest first, as one (events first at the same instant)."""
    if not lookups:
        return events
    if not events:
        return lookups
    return sorted(events + lookups, key=lambda f: f.ts)
