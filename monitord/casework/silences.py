"""Silences: for a while, alerts about one person or device (optionally one category) are
still made, stored and listed, but not mailed. A technician testing the filter from a pupil's
laptop, or a DSL already dealing with a pupil, uses one so that the DSL's phone is not filled
with what is already known.

Every silence has who set it, why and when it ends; adding and expiring one are in the audit
trail, and so is every mail it holds back. A critical alert is never silenced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, or_, select, update

from monitord.core.categories import CATEGORIES, ILLEGAL
from monitord.store.database import audit, inserted_id, mine, site_of, table_of, utc
from monitord.store.tables import SilenceRow

LONGEST = timedelta(days=30)


class SilenceError(Exception):
    """A silence that cannot be set or changed; the message says why."""


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    created_at: datetime
    created_by: str
    reason: str
    person: str | None
    device: str | None
    category: str | None
    expires_at: datetime
    expired_at: datetime | None
    expired_by: str | None

    def active(self, now: datetime) -> bool:
        return self.expired_at is None and self.created_at <= now < self.expires_at

    def as_json(self, now: datetime) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat().replace("+00:00", "Z") if v else None

        return {
            "id": self.id,
            "person": self.person,
            "device": self.device,
            "category": self.category,
            "reason": self.reason,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "expires_at": iso(self.expires_at),
            "expired_at": iso(self.expired_at),
            "expired_by": self.expired_by,
            "active": self.active(now),
        }


def _silence(row: Any) -> Silence:
    return Silence(
        int(row.id),
        utc(row.created_at),
        row.created_by,
        row.reason,
        row.person,
        row.device,
        row.category,
        utc(row.expires_at),
        utc(row.expired_at) if row.expired_at else None,
        row.expired_by,
    )


def add_silence(
    engine: Engine,
    *,
    person: str | None,
    device: str | None,
    category: str | None,
    duration: timedelta,
    reason: str,
    actor: str,
    now: datetime,
) -> Silence:
    if (person is None) == (device is None):
        raise SilenceError("a silence is for one --person or one --device")
    if not reason.strip():
        raise SilenceError('a silence needs a --reason "..." (it is kept in the audit trail)')
    if duration <= timedelta(0):
        raise SilenceError("--for must be longer than zero")
    if duration > LONGEST:
        raise SilenceError(f"--for is at most {LONGEST.days} days: set a new silence after that")
    if category is not None:
        if category not in CATEGORIES:
            raise SilenceError(f"{category!r} is not a category id")
        if category in ILLEGAL:
            raise SilenceError(f"{category} is illegal content: its alerts cannot be silenced")
    table = table_of(SilenceRow)
    values = {
        "created_at": now,
        "created_by": actor,
        "reason": reason.strip(),
        "person": person,
        "device": device,
        "category": category,
        "expires_at": now + duration,
    }
    with engine.begin() as conn:
        row_values = {**values, "site_id": site_of(conn)}
        silence_id = inserted_id(conn.execute(table.insert().values(**row_values)))
        detail = {k: v for k, v in values.items() if k not in ("created_at", "created_by")}
        audit(conn, actor, "silence.add", f"silence:{silence_id}", detail, now=now)
        own = mine(conn, table.c.site_id) & (table.c.id == silence_id)
        row = conn.execute(select(table).where(own)).one()
    return _silence(row)


def list_silences(engine: Engine, now: datetime, *, every: bool = False) -> list[Silence]:
    """The silences in force now (with ``every``, also those expired or ended)."""
    table = table_of(SilenceRow)
    query = select(table).where(mine(engine, table.c.site_id)).order_by(table.c.id)
    if not every:
        query = query.where(table.c.expired_at.is_(None), table.c.expires_at > now)
    with engine.connect() as conn:
        return [s for s in map(_silence, conn.execute(query)) if every or s.active(now)]


def expire_silence(engine: Engine, silence_id: int, actor: str, now: datetime) -> Silence:
    """End a silence now."""
    table = table_of(SilenceRow)
    with engine.begin() as conn:
        own = (table.c.id == silence_id) & mine(conn, table.c.site_id)
        row = conn.execute(select(table).where(own)).first()
        if row is None:
            raise SilenceError(f"no silence {silence_id}")
        current = _silence(row)
        if not current.active(now):
            raise SilenceError(f"silence {silence_id} is no longer in force")
        conn.execute(
            update(table).where(table.c.id == silence_id).values(expired_at=now, expired_by=actor)
        )
        audit(conn, actor, "silence.expire", f"silence:{silence_id}", {}, now=now)
        row = conn.execute(select(table).where(table.c.id == silence_id)).one()
    return _silence(row)


def silence_for(
    conn: Connection, person: str | None, device: str | None, category: str, now: datetime
) -> int | None:
    """The id of a silence in force now over an alert about ``person`` or ``device`` in
    ``category``, or None."""
    if not person and not device:
        return None
    table = table_of(SilenceRow)
    who = []
    if person:
        who.append(table.c.person == person)
    if device:
        who.append(table.c.device == device)
    found = conn.execute(
        select(table.c.id)
        .where(
            mine(conn, table.c.site_id),
            or_(*who),
            or_(table.c.category.is_(None), table.c.category == category),
            table.c.expired_at.is_(None),
            table.c.created_at <= now,
            table.c.expires_at > now,
        )
        .order_by(table.c.id)
        .limit(1)
    ).scalar()
    return None if found is None else int(found)


def silences_after(conn: Connection, now: datetime) -> bool:
    """Whether any silence of this school is unexpired and runs past ``now``: without one,
    no alert made at ``now`` or later is silenced, and ``silence_for`` need not be asked."""
    table = table_of(SilenceRow)
    found = conn.execute(
        select(table.c.id)
        .where(
            mine(conn, table.c.site_id),
            table.c.expired_at.is_(None),
            table.c.expires_at > now,
        )
        .limit(1)
    ).first()
    return found is not None
