"""PostgreSQL's day partitions: one a day (UTC) of ``events`` (migration 0008) and of
the lookups' tables (migration 0024; from 0027 a narrow table for DNS lookups and a wide
one for the others), made as the day's first row arrives and dropped whole by retention.

A partition is made as a table of its own and then attached: attaching locks the parent only
against other schema changes, so the schools writing into the same store are not held up,
and an advisory lock per table and day makes two writers that meet the same new day make it
once. Nothing here does anything on SQLite, which keeps each as one table.

``events`` is partitioned by its time (a timestamp), the lookups' tables by their time in
microseconds since 1970 (an integer): a partition's bounds are written in the table's own
terms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, text

# Advisory lock keys for "making the partition of day N of a table" (N the day's ordinal):
# a range of its own, away from the small numbers other software picks; each table's days
# 2**32 apart.
_LOCK_BASE = 0x6D6F6E0000000000
TABLES = ("events", "lookups", "lookups_narrow", "lookups_wide")
# PostgreSQL keeps the lookups in two tables, read together through the view ``lookups``
# (migration 0027): DNS lookups in ``lookups_narrow``, whose eight columns keep a row's null
# bitmap to one byte and its header to 24 bytes, proxy requests (their URL, request and
# bytes) and the odd DNS lookup a narrow row cannot hold in ``lookups_wide``. SQLite keeps
# one table, ``lookups``.
LOOKUP_KINDS = ("lookups_narrow", "lookups_wide")
_EPOCH = date(1970, 1, 1)
_DAY_MICROS = 86_400_000_000


@dataclass(frozen=True)
class Partition:
    """One day's partition of ``table``: its name and the instants it holds, [start, end)."""

    name: str
    day: date
    table: str = "events"

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(), UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)

    def bounds(self) -> str:
        """The FOR VALUES clause: the day as the table's partition key writes it."""
        if self.table != "events":
            first = (self.day - _EPOCH).days * _DAY_MICROS
            return f"FROM ({first}) TO ({first + _DAY_MICROS})"
        return f"FROM ('{self.start.isoformat()}') TO ('{self.end.isoformat()}')"


def day_of(ts: datetime) -> date:
    """The UTC day an instant falls on (a naive time is taken as UTC)."""
    return (ts if ts.tzinfo is None else ts.astimezone(UTC)).date()


def day_of_micros(n: int) -> date:
    """The UTC day of a time in microseconds since 1970 (as ``lookups`` keeps it)."""
    return _EPOCH + timedelta(days=n // _DAY_MICROS)


def partition_of(day: date, table: str = "events") -> Partition:
    if table not in TABLES:
        raise ValueError(f"{table!r} is not partitioned by day")
    return Partition(f"{table}_p{day:%Y%m%d}", day, table)


def is_partition_name(name: str) -> bool:
    """A day partition's name: ``events_pYYYYMMDD``, ``lookups_narrow_pYYYYMMDD`` and the
    like."""
    table, sep, digits = name.rpartition("_p")
    return bool(sep) and table in TABLES and len(digits) == 8 and digits.isdigit()


def create_partition(conn: Connection, day: date, table: str = "events") -> Partition:
    """Make and attach the day's partition unless it is there, in the caller's transaction."""
    part = partition_of(day, table)
    key = _LOCK_BASE + (TABLES.index(table) << 32) + day.toordinal()
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    if conn.execute(text("SELECT to_regclass(:name)"), {"name": part.name}).scalar() is None:
        conn.exec_driver_sql(
            f"CREATE TABLE {part.name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        conn.exec_driver_sql(
            f"ALTER TABLE {table} ATTACH PARTITION {part.name} FOR VALUES {part.bounds()}"
        )
    return part


def ensure_partitions(conn: Connection, stamps: Iterable[datetime]) -> None:
    """Make sure every day of ``stamps`` has its partition of ``events`` (PostgreSQL;
    nothing on SQLite)."""
    ensure_days(conn, (day_of(ts) for ts in stamps))


def ensure_days(conn: Connection, wanted: Iterable[date], table: str = "events") -> None:
    """Make sure each of the days has its partition of ``table`` (PostgreSQL; nothing on
    SQLite). Days are taken in order, so two writers never wait on each other's days in a
    cycle."""
    if conn.dialect.name != "postgresql":
        return
    days = sorted(set(wanted))
    if not days:
        return
    names = [partition_of(d, table).name for d in days]
    present = {
        str(n)
        for (n,) in conn.execute(
            text("SELECT relname FROM pg_class WHERE relname = ANY(:names) AND relispartition"),
            {"names": names},
        )
    }
    for day, name in zip(days, names, strict=True):
        if name not in present:
            create_partition(conn, day, table)


def partitions(conn: Connection, table: str = "events") -> list[Partition]:
    """The day partitions of ``table`` there are, oldest first (none on SQLite)."""
    if conn.dialect.name != "postgresql":
        return []
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:table AS regclass)"
        ),
        {"table": table},
    )
    prefix = f"{table}_p"
    names = sorted(str(n) for (n,) in rows if is_partition_name(str(n)) and n.startswith(prefix))
    return [
        partition_of(datetime.strptime(n[len(prefix) :], "%Y%m%d").date(), table) for n in names
    ]


def lookup_tables(conn: Connection) -> tuple[str, ...]:
    """The tables the lookups are written to and deleted from: ``LOOKUP_KINDS`` on
    PostgreSQL, ``lookups`` on SQLite (both read them through ``lookups``)."""
    return LOOKUP_KINDS if conn.dialect.name == "postgresql" else ("lookups",)
