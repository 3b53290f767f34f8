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

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, Engine

from monitord.casework.found import Found, SearchResult, event_columns, fetch_events
from monitord.casework.lookupsearch import lookup_hits, lookup_neighbours, nearest, newest
from monitord.casework.output import resolve_device
from monitord.casework.plan import COMMON_TEXT, build_sql, flush_text_queue, text_queue_waiting
from monitord.casework.query import Query, SearchError
from monitord.store.database import audit

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
    before, after = lookup_neighbours(conn, hit, n)
    return nearest(out, before + after, hit, n)


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


def run_query(conn: Connection, q: Query, *, common_text: int = COMMON_TEXT) -> SearchResult:
    """The newest ``q.limit`` events that meet every filter, oldest first, with context.
    ``common_text``: above this many candidates from the text index, read by time instead."""
    stmt, sql, plan = build_sql(conn, q, common_text)
    hits = fetch_events(conn, stmt, sql.params)  # newest first
    hits = newest(hits, lookup_hits(conn, q, q.limit + 1), q.limit + 1)
    hits.reverse()
    more = len(hits) > q.limit
    if more:
        hits = hits[len(hits) - q.limit :]
    events = hits if not q.context else _with_context(conn, hits, q.context)
    return SearchResult(events, len(hits), more, plan)
