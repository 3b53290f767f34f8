"""PostgreSQL's events partitions: one a day (UTC), made as its first event arrives and
dropped whole by retention (migration 0008 partitions the table).

A partition is made as a table of its own and then attached: attaching locks the parent only
against other schema changes, so the schools writing into the same store are not held up,
and an advisory lock per day makes two writers that meet the same new day make it once.
Nothing here does anything on SQLite, which keeps ``events`` as one table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, text

# Advisory lock keys for "making the partition of day N" (N the day's ordinal): a range of
# its own, away from the small numbers other software picks.
_LOCK_BASE = 0x6D6F6E0000000000


@dataclass(frozen=True)
class Partition:
    """One day's partition: its table and the instants it holds, [start, end)."""

    name: str
    day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(), UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)


def day_of(ts: datetime) -> date:
    """The UTC day an instant falls on (a naive time is taken as UTC)."""
    return (ts if ts.tzinfo is None else ts.astimezone(UTC)).date()


def partition_of(day: date) -> Partition:
    return Partition(f"events_p{day:%Y%m%d}", day)


def is_partition_name(name: str) -> bool:
    return len(name) == 16 and name.startswith("events_p") and name[8:].isdigit()


def create_partition(conn: Connection, day: date) -> Partition:
    """Make and attach the day's partition unless it is there, in the caller's transaction."""
    part = partition_of(day)
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_BASE + day.toordinal()})
    if conn.execute(text("SELECT to_regclass(:name)"), {"name": part.name}).scalar() is None:
        conn.exec_driver_sql(
            f"CREATE TABLE {part.name} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        conn.exec_driver_sql(
            f"ALTER TABLE events ATTACH PARTITION {part.name} "
            f"FOR VALUES FROM ('{part.start.isoformat()}') TO ('{part.end.isoformat()}')"
        )
    return part


def ensure_partitions(conn: Connection, stamps: Iterable[datetime]) -> None:
    """Make sure every day of ``stamps`` has its partition (PostgreSQL; nothing on SQLite).
    Days are taken in order, so two writers never wait on each other's days in a cycle."""
    if conn.dialect.name != "postgresql":
        return
    days = sorted({day_of(ts) for ts in stamps})
    if not days:
        return
    names = [partition_of(d).name for d in days]
    present = {
        str(n)
        for (n,) in conn.execute(
            text("SELECT relname FROM pg_class WHERE relname = ANY(:names) AND relispartition"),
            {"names": names},
        )
    }
    for day, name in zip(days, names, strict=True):
        if name not in present:
            create_partition(conn, day)


def partitions(conn: Connection) -> list[Partition]:
    """The events partitions there are, oldest first (none on SQLite)."""
    if conn.dialect.name != "postgresql":
        return []
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass"
        )
    )
    names = sorted(str(n) for (n,) in rows if is_partition_name(str(n)))
    return [partition_of(datetime.strptime(n[8:], "%Y%m%d").date()) for n in names]
