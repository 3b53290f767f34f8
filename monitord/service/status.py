"""``monitord status``: how this monitord stands, on one page: its sources, the mail waiting,
the open alerts, the last digest and retention run, the store's size and schema revision."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, text

from monitord.service.sources import source_states
from monitord.service.supervise import health_path, read_health
from monitord.settings.config import Config
from monitord.store.database import current_revision, head_revision, mine, table_of, utc
from monitord.store.lookupshown import newest_lookup
from monitord.store.retention import last_run
from monitord.store.tables import AlertRow, CheckpointRow, DigestRow, EventRow, OutboxRow

SEVERITIES = ("critical", "high", "medium", "low")


def _iso(value: datetime | None) -> str | None:
    return utc(value).isoformat().replace("+00:00", "Z") if value else None


def _outbox(engine: Engine) -> dict[str, Any]:
    t = table_of(OutboxRow)
    own = mine(engine, t.c.site_id)
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.status, func.count()).where(own).group_by(t.c.status)).all()
        oldest = conn.execute(
            select(func.min(t.c.created_at)).where(own, t.c.status == "queued")
        ).scalar()
    counts = {str(status): int(n) for status, n in rows}
    return {
        "queued": int(counts.get("queued", 0)),
        "failed": int(counts.get("failed", 0)),
        "oldest_queued": _iso(oldest),
    }


def _open_alerts(engine: Engine) -> dict[str, int]:
    """Alerts not closed (open or acknowledged), by severity, most severe first."""
    t = table_of(AlertRow)
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.severity, func.count())
            .where(mine(engine, t.c.site_id), t.c.status != "closed")
            .group_by(t.c.severity)
        ).all()
    found = {str(s): int(n) for s, n in rows}
    ordered = {s: found.pop(s, 0) for s in SEVERITIES}
    return {**ordered, **dict(sorted(found.items()))}


def _last_digest(engine: Engine) -> dict[str, Any] | None:
    """The newest digest queued (table ``digests``) and what became of its mail."""
    d, o = table_of(DigestRow), table_of(OutboxRow)
    with engine.connect() as conn:
        row = conn.execute(
            select(d.c.week, d.c.edition, d.c.queued_at, d.c.queued_by, o.c.status, o.c.sent_at)
            .select_from(d.outerjoin(o, o.c.id == d.c.outbox_id))
            .where(mine(conn, d.c.site_id))
            .order_by(d.c.queued_at.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    return {
        "week": row.week,
        "edition": row.edition,
        "queued_at": _iso(row.queued_at),
        "queued_by": row.queued_by,
        "mail": row.status or "removed",
        "sent_at": _iso(row.sent_at),
    }


def _last_stored(engine: Engine) -> dict[str, Any] | None:
    """When events were last stored, from which source, and when the newest event happened.
    A source's checkpoint is written in the same transaction as its events, so the newest
    checkpoint of a source that has stored any says when (the daemon's or an ingest's);
    events put in another way (the demo's) have no such time. None: no events at all."""
    t, et = table_of(CheckpointRow), table_of(EventRow)
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(et.c.ts)).where(mine(conn, et.c.site_id))).scalar()
        lookup = newest_lookup(conn)
        if lookup is not None and (newest is None or lookup > utc(newest)):
            newest = lookup
        row = conn.execute(
            select(t.c.source, t.c.updated_at)
            .where(mine(conn, t.c.site_id), t.c.events > 0)
            .order_by(t.c.updated_at.desc())
            .limit(1)
        ).first()
    if newest is None and row is None:
        return None
    return {
        "at": _iso(row.updated_at) if row else None,
        "source": row.source if row else None,
        "newest_event": _iso(newest),
    }


def store_size(cfg: Config, engine: Engine) -> int | None:
    """Bytes the store takes: the SQLite file with its write-ahead log, or PostgreSQL's
    ``pg_database_size``; None for an in-memory database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            )
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return None
    total = 0
    for name in (path, path + "-wal"):
        try:
            total += os.stat(name).st_size
        except FileNotFoundError:
            continue
    return total


def collect_status(cfg: Config, engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    """``now``: when given, the daemon's health (its health file) is read as of then."""
    revision = current_revision(engine)
    head = head_revision()
    return {
        "school": cfg.settings.school.name,
        "daemon": None if now is None else read_health(health_path(cfg), now),
        "sources": [s.as_json() for s in source_states(cfg, engine)],
        "last_stored": _last_stored(engine),
        "outbox": _outbox(engine),
        "open_alerts": _open_alerts(engine),
        "last_digest": _last_digest(engine),
        "last_retention": last_run(engine),
        "store": {
            "backend": engine.dialect.name,
            "size_bytes": store_size(cfg, engine),
            "schema_revision": revision,
            "schema_head": head,
            "schema_current": revision == head,
        },
    }


def render(status: dict[str, Any]) -> list[str]:
    """The status as plain lines for a terminal."""
    lines = [f"monitord at {status['school']}"]
    lines += _daemon_lines(status.get("daemon"))
    lines.append("sources:")
    for s in status["sources"]:
        lag = "-" if s["lag_bytes"] is None else f"{s['lag_bytes']:,} B behind"
        where = "not read yet" if s["position"] is None else f"at {s['position']:,}"
        lines.append(
            f"  {s['name']} ({s['format']}): {where}, {lag}, last event "
            f"{s['last_event_at'] or 'none'}, {s['rejected']:,} rejected"
        )
        lost = s.get("passed_over", {}).get("dropped", {})
        if s.get("udp_drops") is not None or lost:
            kernel = lost.get("kernel", 0)
            senders = sum(n for name, n in lost.items() if name != "kernel")
            lines.append(
                f"    UDP loss: {kernel:,} dropped by the kernel (buffer full), {senders:,} "
                f"from senders over their share; the socket's drop counter now "
                f"{s['udp_drops'] if s.get('udp_drops') is not None else 'not open'}"
            )
    if not status["sources"]:
        lines.append("  none configured")
    lines.append(_stored_line(status.get("last_stored")))
    o = status["outbox"]
    lines.append(
        f"outbox: {o['queued']} queued, {o['failed']} failed"
        + (f", oldest queued {o['oldest_queued']}" if o["oldest_queued"] else "")
    )
    alerts = status["open_alerts"]
    lines.append(
        f"open alerts: {sum(alerts.values())} ("
        + ", ".join(f"{n} {s}" for s, n in alerts.items())
        + ")"
    )
    dg = status["last_digest"]
    lines.append(
        "last digest: none"
        if dg is None
        else f"last digest: {dg['week']} ({dg['edition']}), queued {dg['queued_at']} by "
        f"{dg['queued_by']}, mail {dg['mail']}" + (f" {dg['sent_at']}" if dg["sent_at"] else "")
    )
    rr = status["last_retention"]
    if rr is None:
        lines.append("last retention run: none")
    else:
        removed = ", ".join(f"{n} {k}" for k, n in rr["removed"].items() if n) or "nothing"
        lines.append(f"last retention run: {rr['at']} by {rr['by']}, removed {removed}")
    st = status["store"]
    size = "unknown" if st["size_bytes"] is None else f"{st['size_bytes'] / 1e6:,.1f} MB"
    behind = "" if st["schema_current"] else f" (needs {st['schema_head']}: monitord db upgrade)"
    lines.append(f"store: {st['backend']}, {size}, schema {st['schema_revision']}{behind}")
    return lines


def _stored_line(stored: dict[str, Any] | None) -> str:
    if stored is None:
        return "events stored: none yet"
    when = f"{stored['at']} from {stored['source']}" if stored["at"] else "at a time not known"
    newest = stored["newest_event"] or "a time not known"
    return f"events last stored {when}; the newest happened at {newest}"


def _daemon_lines(daemon: dict[str, Any] | None) -> list[str]:
    """The daemon's health: running or not, and each task that keeps failing, by name."""
    if daemon is None:
        return []
    if not daemon["running"]:
        return [f"daemon: not running ({daemon['reason']})"]
    bad = [t for t in daemon.get("tasks", []) if t["name"] in daemon.get("unhealthy", [])]
    if not bad:
        return [f"daemon: running since {daemon['started_at']}, every task healthy"]
    lines = [f"daemon: UNHEALTHY, running since {daemon['started_at']}"]
    lines += [
        f"  {t['name']}: failing, {t['failures_in_a_row']} times in a row, last at "
        f"{t['failed_at']}: {t['last_error']}"
        for t in bad
    ]
    return lines
