"""What an event's id is made of, beyond the record's file and offset.

An event is what was read: the same line read twice (a log ingested under ``--source pihole``
and again without it, a followed log backfilled from its rotated ``.gz``) is one event, so its
id comes from the file's identity, the record's offset, a digest of its bytes and its place
in the record, never from the name of the source that read it. Two things still go into it:

- the school, in a store that several share, so that two schools reading the same file (a
  trust's one resolver) each keep their own events; a store of one school has none;
- for a file read before ids were made this way (schema 0014), the name of the source that
  first read it, as its ids were made then: reading it again, or on from where the daemon
  stopped, gives the ids already stored, and a parser's later line (a block line) finds its
  query. Those files are listed once, by the migration, in ``legacy_origins``.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, select

from monitord.core.model import Origin, RawRecord, content_digest
from monitord.store.database import DEFAULT_SITE, mine, table_of
from monitord.store.tables import LegacyOriginRow

# Before a school's name in a scope: no source name holds a control character.
SITE_MARK = "\x1e"


class Scopes:
    """Gives each record read by one school the scope its events' ids are made with."""

    def __init__(self, site_id: str, legacy: Mapping[str, str]) -> None:
        self.plain = "" if site_id == DEFAULT_SITE else SITE_MARK + site_id
        self.legacy = dict(legacy)

    @classmethod
    def load(cls, engine: Engine, site_id: str) -> Scopes:
        """The scopes of ``site_id``'s records, with the files it read before schema 0014."""
        t = table_of(LegacyOriginRow)
        with engine.connect() as conn:
            query = select(t.c.file_id, t.c.source).where(mine(conn, t.c.site_id, site_id))
            return cls(site_id, {str(f): str(s) for f, s in conn.execute(query)})

    def scope(self, file_id: str) -> str:
        return self.legacy.get(file_id, self.plain)

    def record(self, rec: RawRecord) -> RawRecord:
        """``rec`` with its origin's scope and content set (a record that carries a scope
        already keeps it). A file read before schema 0014 keeps the ids it was given then,
        which held no content. A record whose reader gave its content (``content_digest``)
        in a store of one school is already as it should be, and is not made again."""
        origin = rec.origin
        if origin.scope:
            return rec
        legacy = self.legacy.get(origin.file_id) if self.legacy else None
        if legacy is not None:
            scope, content = legacy, ""
        elif origin.content and not self.plain:
            return rec
        else:
            scope, content = self.plain, origin.content or content_digest(rec.data)
        # Built directly: dataclasses.replace costs twice as much, on every line read.
        o = Origin(origin.source, origin.file_id, origin.offset, origin.path, scope, content)
        return RawRecord(o, rec.data, rec.read_at, rec.file_mtime)
