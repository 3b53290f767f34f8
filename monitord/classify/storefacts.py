"""What the store says about a thing being explained: the roster's entry for a user name in
the right school, and the school filter's own verdict on a host as its last lines gave it."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import Engine, select

from monitord.core.model import Person
from monitord.store.database import mine, table_of
from monitord.store.tables import EventRow, PersonRow


def person_on_roster(engine: Engine, username: str, site: str | None = None) -> Person | None:
    """The roster's entry for a user name (active or not: a leaver's history still counts) in
    the engine's school, or in ``site`` (the school of the alert it is about): user names are
    only unique within a school."""
    t = table_of(PersonRow)
    with engine.connect() as conn:
        own = mine(conn, t.c.site_id, site)
        r = conn.execute(select(t).where(own, t.c.username == username)).first()
    if r is None:
        return None
    return Person(
        username=r.username,
        display_name=r.display_name,
        role=r.role,
        year_group=r.year_group,
        class_name=r.class_name,
        email=r.email,
    )


# How many of a domain's newest events are looked through for the filter's own category.
FILTER_LOOKBACK = 1000


def school_filter(engine: Engine, host: str | None) -> dict[str, Any] | None:
    """What the school's own filter (a firewall or filtering service whose log monitord
    reads) last said about this host: its category and verdict, from the newest of the host's
    recent events that carries one; None when none does."""
    if not host:
        return None
    et = table_of(EventRow)
    with engine.connect() as conn:
        recent = (
            select(et.c.ts, et.c.fmt, et.c.filter_category, et.c.action, et.c.blocked)
            .where(mine(conn, et.c.site_id), et.c.domain == host)
            .order_by(et.c.ts.desc())
            .limit(FILTER_LOOKBACK)
            .subquery()
        )
        r = conn.execute(
            select(recent)
            .where(recent.c.filter_category.is_not(None))
            .order_by(recent.c.ts.desc())
            .limit(1)
        ).first()
    if r is None:
        return None
    ts = r.ts if r.ts.tzinfo is not None else r.ts.replace(tzinfo=UTC)
    return {
        "format": r.fmt,
        "category": r.filter_category,
        "action": r.action,
        "blocked": bool(r.blocked),
        "at": ts.isoformat(),
    }
