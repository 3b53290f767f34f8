"""What reports count of the lookups kept with a category (docs/store.md): a lookup whose
category opened no alert is a ``lookups`` row whose verdict holds its category and severity,
so a count of the events of a severity or category in a span adds these to the events'."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text

from monitord.store.database import mine_sql
from monitord.store.lookups import from_micros, micros

# What lookups may be counted by, as the events' columns are named.
_BY = {"category": "v.category", "year_group": "p.year_group", "ts": "l.ts"}


def judged_lookups(
    conn: Connection,
    start: datetime,
    end: datetime,
    by: Sequence[str] = (),
    *,
    severities: Collection[str] = (),
    category: str | None = None,
) -> list[tuple[Any, ...]]:
    """This site's lookups from ``start`` to ``end`` (not included) whose verdict is of one
    of ``severities`` (and of ``category``), counted by the columns ``by`` (``category``,
    ``year_group``, ``ts``, a time given back as an aware datetime): (*by, count) rows,
    one with no ``by``. Read by the index of lookups with a verdict, by verdict and time."""
    if not severities and category is None:
        raise ValueError("lookups are counted by their verdict's severity or category")
    own, site = mine_sql(conn, "p.site_id")
    chosen = []
    params: dict[str, Any] = {"start": micros(start), "end": micros(end), **site}
    if severities:
        chosen.append("severity IN :severities")
        params["severities"] = sorted(severities)
    if category is not None:
        chosen.append("category = :category")
        params["category"] = category
    columns = [_BY[b] for b in by]
    hint = " INDEXED BY ix_lookups_verdict_ts" if conn.dialect.name == "sqlite" else ""
    sql = (
        f"SELECT {', '.join([*columns, 'count(*)'])} FROM lookups AS l{hint} "
        "JOIN lookup_verdicts AS v ON v.id = l.verdict "
        "JOIN lookup_parties AS p ON p.id = l.party "
        "WHERE l.verdict IS NOT NULL AND l.verdict IN "
        f"(SELECT id FROM lookup_verdicts WHERE {' AND '.join(chosen)}) "
        f"AND l.ts >= :start AND l.ts < :end AND {own}"
    )
    if columns:
        sql += f" GROUP BY {', '.join(columns)}"
    stmt = text(sql)
    if severities:
        stmt = stmt.bindparams(bindparam("severities", expanding=True))
    at = by.index("ts") if "ts" in by else None
    out = []
    for r in conn.execute(stmt, params):
        values = list(r)
        if at is not None:
            values[at] = from_micros(int(values[at]))
        out.append(tuple(values))
    return out


def judged_count(
    conn: Connection,
    start: datetime,
    end: datetime,
    *,
    severities: Collection[str] = (),
    category: str | None = None,
) -> int:
    """How many of this site's lookups ``judged_lookups`` finds, in all."""
    found = judged_lookups(conn, start, end, severities=severities, category=category)
    return int(found[0][-1])
