"""The rows a batch writes beside its events: a source's counts of what it passed over,
updates to events of the same batch or already stored, rejected lines with their reason,
and the keys records are told apart by."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitord.core.model import (
    EventUpdate,
    Origin,
    RawRecord,
)
from monitord.core.storable import MAX_TEXT, clean_text
from monitord.store.database import mine, table_of
from monitord.store.lookups import promote
from monitord.store.tables import (
    AlertEventRow,
    AlertRow,
    EventRow,
    SourceCountRow,
)

MAX_LINE = 64 * 1024


def add_source_counts(
    conn: Connection,
    site_id: str,
    source: str,
    counts: dict[tuple[str, str], int],
    now: datetime,
) -> None:
    """Add to a source's counts of what it passed over (kept per kind and name). The name
    comes from the line (a syslog program's, a sender's) and is made storable here: NUL or a
    lone surrogate in it would otherwise fail every batch of the source on PostgreSQL."""
    table = table_of(SourceCountRow)
    merged: dict[tuple[str, str], int] = {}
    for (k, n), c in counts.items():
        key = (clean_text(k, 32), clean_text(n, 128))
        merged[key] = merged.get(key, 0) + c
    rows = [
        {
            "site_id": site_id,
            "source": source,
            "kind": k,
            "name": n,
            "count": c,
            "last_at": now,
        }
        for (k, n), c in merged.items()
    ]
    ins: Any = (sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert)(table)
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=["site_id", "source", "kind", "name"],
            set_={"count": table.c.count + ins.excluded.count, "last_at": ins.excluded.last_at},
        ),
        rows,
    )


def clip(value: str | None, width: int) -> str | None:
    """A parsed field cut to its column's width (PostgreSQL refuses a longer one, and SQLite
    should hold what PostgreSQL would)."""
    return value if value is None or len(value) <= width else value[:width]


def update_stored(conn: Connection, upd: EventUpdate, origin: Origin) -> None:
    """Apply a later line's update (read at ``origin``) to an event stored by an earlier
    batch, and mark the alerts that hold it as blocked when the filter blocked it. A lookup
    it changes moves into events first."""
    values: dict[str, Any] = {}
    if upd.blocked is not None:
        values["blocked"] = upd.blocked
    if upd.action:
        values["action"] = clip(upd.action, 64)
    if upd.filter_category:
        values["filter_category"] = clip(upd.filter_category, 128)
    if not values:
        return
    et = table_of(EventRow)
    change = update(et).where(mine(conn, et.c.site_id), et.c.id == upd.event_id).values(**values)
    if not conn.execute(change).rowcount and promote(
        conn, upd.event_id, origin.file_id, origin.source
    ):
        conn.execute(change)
    if upd.blocked:
        at, aet = table_of(AlertRow), table_of(AlertEventRow)
        linked = select(aet.c.alert_id).where(aet.c.event_id == upd.event_id)
        conn.execute(update(at).where(at.c.id.in_(linked)).values(blocked=True))


def error_text(exc: Exception) -> str:
    """An error in one line: its type and the first line of its message."""
    text = str(exc).strip().split("\n", 1)[0]
    return clean_text(f"{type(exc).__name__}: {text}", 500)


def rejected_row(rec: RawRecord, fmt: str, reason: str) -> dict[str, Any]:
    o: Origin = rec.origin
    return {
        "id": o.event_id(0),
        "source": o.source,
        "fmt": fmt,
        "path": clean_text(o.path),
        "file_id": o.file_id,
        "offset": o.offset,
        "reason": clean_text(reason, MAX_TEXT),
        "raw": rec.data[: MAX_LINE + 1],
        "read_at": rec.read_at,
    }
