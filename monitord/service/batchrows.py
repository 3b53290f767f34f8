"""The rows a batch writes beside its events: a source's counts of what it passed over,
updates to events of the same batch or already stored, rejected lines with their reason,
and the keys records are told apart by."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitord.core.model import (
    EventKind,
    EventUpdate,
    Judged,
    Origin,
    RawRecord,
    Severity,
)
from monitord.core.storable import MAX_TEXT, WIDTHS, clean_text
from monitord.store.database import mine, table_of
from monitord.store.lookups import promote
from monitord.store.tables import (
    AlertEventRow,
    AlertRow,
    EventRow,
    SourceCountRow,
)

MAX_LINE = 64 * 1024
# Read once: in Python 3.11 each ``EventKind.X`` and ``.value`` goes through an enum hook.
_KIND_VALUES = {kind: kind.value for kind in EventKind}
_SEVERITY_VALUES = {severity: severity.value for severity in Severity}
_NO_SEVERITY = Severity.NONE.value
# The texts of an event's row cut to their columns' widths (as ``storable`` cuts them).
ROW_WIDTHS = tuple(
    (name, WIDTHS[name])
    for name in (
        "client_mac",
        "user",
        "domain",
        "method",
        "qtype",
        "action",
        "hostname",
        "filter_category",
        "sender",
        "agent",
    )
)


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


def match_rows(matches: dict[str, list[dict[str, Any]]], judged: Judged) -> None:
    """Keep a judged event's matches as the rows ``matches`` (by event id) will insert."""
    if judged.matches:
        matches[judged.event_id] = [
            {
                "event_id": judged.event_id,
                "category": m.category,
                "list_name": m.list_name,
                "entry": m.entry,
                "score": m.score,
                "allow": m.allow,
            }
            for m in judged.matches
        ]


def event_row(j: Judged, site_id: str, checked: bool = False) -> dict[str, Any]:
    """A judged event's row; ``checked``: its event went through ``storable``, which cut
    its texts to their columns' widths already (an event identity made of its own did not)."""
    ev = j.event
    top = j.top if j.decisions else None
    person = j.attribution.person
    device = j.attribution.device
    row: dict[str, Any] = {
        "id": j.event_id,
        "site_id": site_id,
        "ts": ev.ts,
        "source": j.origin.source,
        "fmt": j.fmt,
        "kind": _KIND_VALUES[ev.kind],
        "client_ip": ev.client_ip,
        "client_mac": ev.client_mac,
        "user": ev.user,
        "domain": ev.domain,
        "url": ev.url,
        "method": ev.method,
        "qtype": ev.qtype,
        "action": ev.action,
        "blocked": ev.blocked,
        "status": ev.status,
        "size": ev.size,
        "hostname": ev.hostname,
        "text": ev.text,
        "username": person.username if person else ev.user,
        "device_id": device.device_id if device else None,
        "role": person.role if person else None,
        "year_group": person.year_group if person else None,
        "attributed_by": j.attribution.how,
        "attribution": j.attribution.reason[:512],
        "category": top.category if top else None,
        "severity": _SEVERITY_VALUES[top.severity] if top else _NO_SEVERITY,
        "file_id": j.origin.file_id,
        "offset": j.origin.offset,
        "filter_category": ev.filter_category,
        "sender": ev.sender,
        "received_at": ev.received_at,
        "raw": j.raw,
        "agent": ev.agent,
    }
    if not checked:
        for name, width in ROW_WIDTHS:
            value = row[name]
            if value is not None and len(value) > width:
                row[name] = value[:width]
        if person is None:
            row["username"] = row["user"]
    return row
