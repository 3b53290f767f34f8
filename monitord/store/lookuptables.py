"""The lookups' tables (docs/store.md): lookups that matched nothing or only an allow list,
and proxy requests likewise, in narrow rows with keys to their names, parties, verdicts,
URLs and requests, and their lines in blocks."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, Text
from sqlmodel import Field, SQLModel

_BIG = BigInteger().with_variant(Integer(), "sqlite")


class LookupRow(SQLModel, table=True):
    """A DNS lookup that matched nothing, or only an allow list (docs/store.md): its id as
    16 bytes (not indexed: a file read again is told by its blocks), its time in
    microseconds since 1970 (UTC), keys to its name, its party and its verdict, and the
    block holding its line (found there by its offset in the file)."""

    __tablename__ = "lookups"
    # Besides the time's index, lookups are found by party, by name and by verdict (those
    # with one only: reports count them by severity and category, search finds them by
    # category), and proxy requests by URL (those with one only: search by a text of a URL).
    # Each database has its own (migrations 0022, 0024, 0025, docs/store.md): SQLite (party,
    # ts), (name, ts), (verdict, ts), (url, ts); PostgreSQL, a partition a day, the key alone.
    __table_args__ = (Index("ix_lookups_ts", "ts"),)

    # No primary key in the database (a table's rowid, or PostgreSQL's row address, finds a
    # row); the mapper needs one. On SQLite (migration 0028) qtype, verdict, request, url and
    # size are generated from two stored columns, ``qt`` and ``extra``, that the models do
    # not name (monitord.store.lookuprows writes them).
    __mapper_args__ = {"primary_key": ["id"]}

    id: bytes = Field(sa_column=Column(LargeBinary(16), nullable=False))
    ts: int = Field(sa_column=Column(_BIG, nullable=False))
    name: int
    qtype: str | None = Field(default=None, max_length=16)
    party: int
    # A key of raw_blocks (one a batch's file and day): 4 bytes on PostgreSQL (0026).
    block: int = Field(sa_column=Column(Integer, nullable=False))
    offset: int = Field(sa_column=Column(_BIG, nullable=False))
    verdict: int | None = None
    # A proxy request's: its URL, its method, the proxy's action and status, and its bytes
    # (all NULL for a DNS lookup).
    request: int | None = None
    url: int | None = None
    size: int | None = Field(default=None, sa_column=Column(_BIG, nullable=True))


class LookupRequestRow(SQLModel, table=True):
    """A proxy request's method, the proxy's action and the status it answered, once for
    all the requests that share them (``digest`` is their hash)."""

    __tablename__ = "lookup_requests"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=32, unique=True)
    method: str | None = Field(default=None, max_length=16)
    action: str | None = Field(default=None, max_length=64)
    status: int | None = None


class LookupUrlRow(SQLModel, table=True):
    """Every URL a proxy request in ``lookups`` holds, once (found by its hash: a URL may
    be longer than an index entry can be)."""

    __tablename__ = "lookup_urls"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=32, unique=True)
    url: str = Field(sa_column=Column(Text, nullable=False))


class LookupVerdictRow(SQLModel, table=True):
    """What classification said of lookups when an allow list matched: their category and
    severity, and their list matches as JSON (``[category, list, entry, score, allow]``
    each, in order), once for all the lookups that got the same (``digest``)."""

    __tablename__ = "lookup_verdicts"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=32, unique=True)
    category: str | None = Field(default=None, max_length=32)
    severity: str = Field(max_length=16)
    matches: str = Field(sa_column=Column(Text, nullable=False))


class LookupNameRow(SQLModel, table=True):
    """Every name a lookup holds, once."""

    __tablename__ = "lookup_names"

    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(max_length=512, unique=True)


class LookupPartyRow(SQLModel, table=True):
    """Who looked a name up, from where and how monitord knew: the columns an event row
    would repeat for each of a device's lookups, once (``digest`` is their hash)."""

    __tablename__ = "lookup_parties"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=32, unique=True)
    site_id: str = Field(max_length=64)
    source: str = Field(max_length=128)
    fmt: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    client_ip: str | None = Field(default=None, index=True, max_length=64)
    client_mac: str | None = Field(default=None, max_length=32)
    user: str | None = Field(default=None, max_length=256)
    hostname: str | None = Field(default=None, max_length=256)
    username: str | None = Field(default=None, index=True, max_length=256)
    device_id: str | None = Field(default=None, index=True, max_length=128)
    role: str | None = Field(default=None, max_length=32)
    year_group: str | None = Field(default=None, max_length=8)
    attributed_by: str | None = Field(default=None, max_length=24)
    attribution: str = Field(default="unattributed", max_length=512)


class RawBlockRow(SQLModel, table=True):
    """Lines of one source's file and day as read, compressed together (zstandard): a
    header of each line's offset and length, then the lines (``monitord.store.lookups``)."""

    __tablename__ = "raw_blocks"

    id: int | None = Field(default=None, sa_column=Column(_BIG, primary_key=True))
    site_id: str = Field(max_length=64)
    source: str = Field(max_length=128)
    file_id: str = Field(max_length=64, index=True)
    day: date
    first_ts: int = Field(sa_column=Column(_BIG, nullable=False))
    last_ts: int = Field(sa_column=Column(_BIG, nullable=False, index=True))
    # The file offsets of the first and last line its lookups hold: a file read again
    # finds the blocks it overlaps.
    first_offset: int = Field(sa_column=Column(_BIG, nullable=False))
    last_offset: int = Field(sa_column=Column(_BIG, nullable=False))
    lines: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
