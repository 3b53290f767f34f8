"""DNS lookups and proxy requests that matched nothing, an allow list or a category that
opens no alert, kept narrow (docs/store.md): one ``lookups`` row each, with keys to its name,
its party (who looked, from where) and its verdict (its category, severity and matches), a
proxy request's keys to its URL and to its method, action and status, and its bytes, and the
place of its line in a zstandard block of the source's lines. Written in the batch's
transaction; read back as the event rows they were (``lookup_events``), raw line and origin
included."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

import zstandard
from sqlalchemy import Connection, bindparam, text

from monitord.store.database import (
    insert_ignore,
    mine_sql,
    sqlite_in,
    stored_event_ids,
    table_of,
)
from monitord.store.lookupkeys import (
    DAY_MICROS,
    EPOCH,
    MATCH,
    PARTY,
    Gathered,
    gather,
)
from monitord.store.lookupkeys import micros as micros
from monitord.store.lookuprows import insert_rows, tables_for
from monitord.store.lookuptables import (
    LookupNameRow,
    LookupPartyRow,
    LookupRequestRow,
    LookupUrlRow,
    LookupVerdictRow,
    RawBlockRow,
)
from monitord.store.partitions import LOOKUP_KINDS, day_of_micros, ensure_days, lookup_tables
from monitord.store.tables import EventRow, MatchRow

_HEX32 = re.compile(r"[0-9a-f]{32}\Z")
# The columns a lookup leaves empty (an event with one goes to events; a user name, as a
# resolver may log one, tells identity who was behind an address). Its category and severity
# are its verdict's.
_EMPTY = (
    "user",
    "url",
    "method",
    "action",
    "status",
    "size",
    "text",
    "filter_category",
    "sender",
    "received_at",
    "agent",
)
# Those a proxy request leaves empty: its user name is its party's (identity reads the
# recent ones back at start), its URL, method, action, status and bytes its own.
_REQUEST_EMPTY = ("text", "filter_category", "sender", "received_at", "agent")
# Both read at once, and what they read when every column is empty.
_EMPTY_OF, _REQUEST_EMPTY_OF = itemgetter(*_EMPTY), itemgetter(*_REQUEST_EMPTY)
_NO_EMPTY, _NO_REQUEST_EMPTY = (None,) * len(_EMPTY), (None,) * len(_REQUEST_EMPTY)
# Where a lookup is read from, with its party and name (``l``, ``p``, ``n``).
LOOKUPS_FROM = (
    "lookups AS l JOIN lookup_parties AS p ON p.id = l.party "
    "JOIN lookup_names AS n ON n.id = l.name"
)
# A proxy request's URL (``u``) and method, action and status (``rq``), as joined to ``l``.
REQUESTS_JOIN = (
    "LEFT JOIN lookup_urls AS u ON u.id = l.url "
    + "LEFT JOIN lookup_requests AS rq ON rq.id = l.request"
)
_KEY_MODELS = {
    "lookup_names": LookupNameRow,
    "lookup_parties": LookupPartyRow,
    "lookup_verdicts": LookupVerdictRow,
    "lookup_requests": LookupRequestRow,
    "lookup_urls": LookupUrlRow,
}
_CHUNK = 500
# How many of a source's newest blocks of other files a later line's lookup is looked for in.
_ROTATED = 8
# zstandard's level: 9 packs the generated day's blocks 16% smaller than 3 for about 1 µs
# of CPU more a line (bench/RESULTS.md).
_LEVEL = 9
_GAPS = 1 << 31  # a block's count with this bit: its lines placed by gaps (pack_block)


def is_clean(row: Mapping[str, Any]) -> bool:
    """Whether an event row is a DNS lookup or a proxy request that carries nothing a
    verdict, or a request's keys and bytes, cannot hold (the caller knows whether a decision
    of its needs more, an alert or an exemption, or it has a lease; its category, severity
    and an allow list's matches go with it)."""
    kind = row["kind"]
    empty: tuple[str, ...]
    of: Any
    if kind == "dns":
        empty, of, nothing = _EMPTY, _EMPTY_OF, _NO_EMPTY
    elif kind == "http":
        empty, of, nothing = _REQUEST_EMPTY, _REQUEST_EMPTY_OF, _NO_REQUEST_EMPTY
    else:
        return False
    if row["blocked"] or row.get("domain") is None or _HEX32.match(row["id"]) is None:
        return False
    try:
        return bool(of(row) == nothing)  # an event's row: every column there, read at once
    except KeyError:
        return all(row.get(c) is None for c in empty)


def from_micros(n: int) -> datetime:
    return EPOCH + timedelta(microseconds=n)


def id_sql(dialect: str, column: str = "l.id") -> str:
    """SQL giving a lookup's id as the 32 lower-case hex digits events hold."""
    return f"lower(hex({column}))" if dialect == "sqlite" else f"encode({column}, 'hex')"


# --- blocks of raw lines -------------------------------------------------------------------


def pack_block(lines: Mapping[int, bytes]) -> bytes:
    """Lines by their offset in the file, as one compressed block: their count, where each
    is, their lengths, then the lines. Where each is: from the first line's offset, the gap
    before each of the others (nothing between them, most often: 0), in order of offset;
    blocks written before that flag (the count's top bit) hold every offset in 8 bytes."""
    n = len(lines)
    order = sorted(lines)
    sizes = [len(lines[o]) for o in order]
    gaps = [order[i] - order[i - 1] - sizes[i - 1] for i in range(1, n)]
    if n and n < _GAPS and all(0 <= g < 1 << 32 for g in gaps) and max(sizes) < 1 << 32:
        head = struct.pack(f"<Iq{n - 1}I{n}I", n | _GAPS, order[0], *gaps, *sizes)
    else:
        head = struct.pack(f"<I{n}q{n}I", n, *order, *sizes)
    body = head + b"".join(lines[o] for o in order)
    return zstandard.ZstdCompressor(level=_LEVEL).compress(body)


def unpack_block(data: bytes) -> dict[int, bytes]:
    """The lines of a block, by their offset in the file."""
    body = zstandard.ZstdDecompressor().decompress(data)
    (n,) = struct.unpack_from("<I", body)
    if n & _GAPS:
        n &= ~_GAPS
        (first,) = struct.unpack_from("<q", body, 4)
        gaps = struct.unpack_from(f"<{n - 1}I", body, 12)
        lengths = struct.unpack_from(f"<{n}I", body, 8 + 4 * n)
        at = 8 + 8 * n
        offsets = [first]
        for gap, size in zip(gaps, lengths, strict=False):
            offsets.append(offsets[-1] + size + gap)
    else:
        offsets = list(struct.unpack_from(f"<{n}q", body, 4))
        lengths = struct.unpack_from(f"<{n}I", body, 4 + 8 * n)
        at = 4 + 12 * n
    out = {}
    for off, size in zip(offsets, lengths, strict=True):
        out[off] = body[at : at + size]
        at += size
    return out


# --- writing -------------------------------------------------------------------------------


def _keys(
    conn: Connection, table: str, column: str, wanted: dict[str, dict[str, Any]]
) -> dict[str, int]:
    """The ids of ``wanted``'s keys in a key table, adding those not there yet."""
    found: dict[str, int] = {}
    keys = list(wanted)
    _find_keys(conn, table, column, keys, found)
    missing = [wanted[k] for k in keys if k not in found]
    if missing:
        conn.execute(table_of(_KEY_MODELS[table]).insert(), missing)
        _find_keys(conn, table, column, [k for k in keys if k not in found], found)
    return found


# The advisory lock (PostgreSQL) between storing lookups and retention's removal of the keys
# no lookup names (``retention._unnamed``): shared by each batch, taken alone by a removal.
KEYS_LOCK = 0x6D6F6E6B  # "monk"


def hold_keys(conn: Connection) -> None:
    """Keep the key tables' rows from retention's removal until this transaction ends: a
    key found now (a name whose lookups all aged out) is named by the lookups stored after
    it. SQLite: the store's write lock, taken now if no write of the transaction took it.
    PostgreSQL: ``KEYS_LOCK`` shared (a removal waits for the batches holding it, and they
    for a removal)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock_shared({KEYS_LOCK})")
    elif not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _find_keys(
    conn: Connection, table: str, column: str, keys: list[str], found: dict[str, int]
) -> None:
    """Add the ids of those of ``keys`` the key table holds to ``found``: on PostgreSQL in
    one statement, the keys as an array (not a statement of hundreds of values to build,
    send and plan)."""
    if conn.dialect.name == "postgresql":
        if keys:
            query = text(f"SELECT {column}, id FROM {table} WHERE {column} = ANY(:keys)")
            found.update((k, v) for k, v in conn.execute(query, {"keys": keys}))
        return
    asked = f"SELECT {column}, id FROM {table} WHERE {column} IN "
    found.update(sqlite_in(conn, asked, keys, _CHUNK))


def _expanding(name: str) -> Any:
    return bindparam(name, expanding=True)


def stored_lookups(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """Which of the event rows' ids ``lookups`` holds: those of the blocks of the rows'
    files whose lines overlap the rows' offsets, compared by id (an id carries its school).
    A file read for the first time overlaps no block, and costs one look at an index of
    blocks."""
    files: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        files.setdefault(r["file_id"], []).append(r)
    out: set[str] = set()
    own, site = mine_sql(conn, "site_id")
    blocks = text(
        f"SELECT id, first_ts, last_ts FROM raw_blocks WHERE {own} AND file_id = :file "
        "AND first_offset <= :hi AND last_offset >= :lo"
    )
    held = text(
        "SELECT id FROM lookups WHERE ts BETWEEN :first AND :last AND block = :block "
        'AND "offset" BETWEEN :lo AND :hi'
    )
    for file_id, group in sorted(files.items()):
        if conn.dialect.name != "sqlite":
            # Two writers of one file wait for each other: neither stores what the other did.
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:file, 18))"),
                {"file": file_id},
            )
        offsets = [int(r["offset"]) for r in group]
        span = {"lo": min(offsets), "hi": max(offsets)}
        wanted = {r["id"] for r in group}
        for block, first, last in conn.execute(blocks, {"file": file_id, **span, **site}):
            values = {"first": first, "last": last, "block": block, **span}
            found = (bytes(b).hex() for b in conn.execute(held, values).scalars())
            out.update(h for h in found if h in wanted)
    return out


def store_lookups(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    matches: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> int:
    """Store lookups (``is_clean`` rows of distinct ids, with the allow lists' ``matches``
    of some by id) in the caller's transaction; return how many were new. An id ``events``
    or ``lookups`` holds is not added again."""
    if not rows:
        return 0
    known = stored_event_ids(conn, rows)
    if known:
        rows = [r for r in rows if r["id"] not in known]
    known = stored_lookups(conn, rows)
    if known:
        rows = [r for r in rows if r["id"] not in known]
    if not rows:
        return 0
    hold_keys(conn)
    # Each row read once for every key it needs (``lookupkeys``), then each key table asked
    # once for the batch's distinct keys.
    g = gather(rows, matches or {})
    stamps, verdicts, digests = g.stamps, g.verdicts, g.parties
    verdict_ids = _keys(conn, "lookup_verdicts", "digest", g.wanted_verdicts)
    names = _keys(conn, "lookup_names", "domain", g.wanted_names)
    parties = _keys(conn, "lookup_parties", "digest", g.wanted_parties)
    requests, urls = _request_keys(conn, g)
    groups = g.blocks
    # Each lookup's table; PostgreSQL keeps a partition a day of each (nothing on SQLite).
    where = tables_for(conn, requests, urls, rows)
    if conn.dialect.name == "postgresql":
        days: dict[str, set[int]] = {}
        for group, members in groups.items():
            for table in {where[i] for i in members}:
                days.setdefault(table, set()).add(group[3])
        # tables in one order too, as ensure_days takes days: two writers making the same
        # new day never wait on each other's partitions in a cycle
        for table, numbers in sorted(days.items()):
            ensure_days(conn, (day_of_micros(n * DAY_MICROS) for n in numbers), table)
    bt = table_of(RawBlockRow)
    for (site, source, file_id, day_number), members in groups.items():
        day = from_micros(day_number * DAY_MICROS).date()
        lines: dict[int, bytes] = {}
        for i in members:
            lines.setdefault(rows[i]["offset"], bytes(rows[i]["raw"]))
        key = conn.execute(
            bt.insert().values(
                site_id=site,
                source=source,
                file_id=file_id,
                day=day,
                first_ts=min(stamps[i] for i in members),
                last_ts=max(stamps[i] for i in members),
                first_offset=min(lines),
                last_offset=max(lines),
                lines=len(lines),
                data=pack_block(lines),
            )
        ).inserted_primary_key
        assert key is not None
        block = int(key[0])
        split: dict[str, list[int]] = {}
        for i in members:
            split.setdefault(where[i], []).append(i)
        for table, kept in split.items():
            built: list[tuple[Any, ...]] = []
            for i in kept:
                r = rows[i]
                ident = r["id"]
                built.append(
                    (
                        bytes.fromhex(ident),
                        stamps[i],
                        names[r["domain"]],
                        r.get("qtype"),
                        parties[digests[i]],
                        block,
                        r["offset"],
                        verdict_ids.get(verdicts[i] or ""),
                        requests[i],
                        urls[i],
                        r.get("size"),
                    )
                )
            insert_rows(conn, table, built)
    return len(rows)


def _request_keys(conn: Connection, g: Gathered) -> tuple[list[int | None], list[int | None]]:
    """Each row's keys to its request (method, action, status) and its URL, adding those
    not stored yet: None for a DNS lookup (and for a request with no URL, its URL's)."""
    if not g.wanted_requests:
        nothing: list[int | None] = [None] * len(g.requests)
        return nothing, list(nothing)
    shape_ids = _keys(conn, "lookup_requests", "digest", g.wanted_requests)
    url_ids = _keys(conn, "lookup_urls", "digest", g.wanted_urls)
    requests: list[int | None] = [None if k is None else shape_ids[k] for k in g.requests]
    urls: list[int | None] = [None if k is None else url_ids[k] for k in g.urls]
    return requests, urls


# --- reading -------------------------------------------------------------------------------


def _blocks(conn: Connection, ids: Iterable[int]) -> dict[int, tuple[str, dict[int, bytes]]]:
    """Blocks by id: their file id and lines."""
    wanted = sorted(set(ids))
    out: dict[int, tuple[str, dict[int, bytes]]] = {}
    query = text("SELECT id, file_id, data FROM raw_blocks WHERE id IN :ids").bindparams(
        _expanding("ids")
    )
    for i in range(0, len(wanted), _CHUNK):
        for bid, file_id, data in conn.execute(query, {"ids": wanted[i : i + _CHUNK]}):
            out[int(bid)] = (file_id, unpack_block(bytes(data)))
    return out


def lookup_events(
    conn: Connection, where: str = "1 = 1", params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The lookups ``where`` (on ``l``, ``p``, ``n``) selects, as the event rows they were
    (every column of ``events``, the raw line and its offset from its block), oldest first.
    Only this site's (``p.site_id``) unless the engine works for every site."""
    return [row for row, _ in _read(conn, where, params)]


def _read(
    conn: Connection, where: str, params: Mapping[str, Any] | None
) -> list[tuple[dict[str, Any], list[list[Any]]]]:
    """``lookup_events``'s rows, each with its verdict's matches (``MATCH`` fields)."""
    own, site = mine_sql(conn, "p.site_id")
    cols = ", ".join(f'p."{c}"' for c in PARTY)
    sql = (
        f"SELECT {id_sql(conn.dialect.name)}, l.ts, n.domain, l.qtype, l.block, "
        f'l."offset", v.category, v.severity, v.matches, u.url, rq.method, rq.action, '
        f"rq.status, l.size, {cols} FROM {LOOKUPS_FROM} "
        f"LEFT JOIN lookup_verdicts AS v ON v.id = l.verdict {REQUESTS_JOIN} "
        f"WHERE ({where}) AND {own} ORDER BY l.ts, l.id"
    )
    rows = conn.execute(text(sql), {**(params or {}), **site}).all()
    blocks = _blocks(conn, (r[4] for r in rows))
    defaults = {c.name: _default(c) for c in table_of(EventRow).columns}
    out = []
    for r in rows:
        file_id, lines = blocks[int(r[4])]
        offset = int(r[5])
        row = {**defaults, **dict(zip(PARTY, r[14:], strict=True))}
        row.update(
            id=r[0],
            ts=from_micros(int(r[1])),
            domain=r[2],
            qtype=r[3],
            category=r[6],
            severity=r[7] or "none",
            file_id=file_id,
            offset=offset,
            raw=lines[offset],
            url=r[9],
            method=r[10],
            action=r[11],
            status=r[12],
            size=r[13],
        )
        out.append((row, json.loads(r[8]) if r[8] is not None else []))
    return out


def _default(column: Any) -> Any:
    default = column.default
    return default.arg if default is not None and default.is_scalar else None


def promote(conn: Connection, event_id: str, file_id: str, source: str) -> bool:
    """Move a stored lookup into ``events`` with its matches (a later line changes it: the
    filter blocked it), in the caller's transaction; False when ``lookups`` does not hold
    it. The later line's file and source say where to look: the blocks of that file, newest
    first, then the source's newest others (its query was in the file before, rotated)."""
    if _HEX32.match(event_id) is None:
        return False
    own, site = mine_sql(conn, "site_id")
    near = (
        f"SELECT id, first_ts, last_ts FROM raw_blocks WHERE {own} AND file_id = :file "
        "ORDER BY id DESC",
        f"SELECT id, first_ts, last_ts FROM raw_blocks WHERE {own} AND source = :source "
        f"AND file_id <> :file ORDER BY id DESC LIMIT {_ROTATED}",
    )
    where = "l.block = :block AND l.ts BETWEEN :first AND :last AND l.id = :id"
    found: list[tuple[dict[str, Any], list[list[Any]]]] = []
    for sql in near:
        for block, first, last in conn.execute(
            text(sql), {"file": file_id, "source": source, **site}
        ).all():
            values = {"block": block, "first": first, "last": last, "id": bytes.fromhex(event_id)}
            found = _read(conn, where, values)
            if found:
                break
        if found:
            break
    else:
        return False
    insert_ignore(conn, table_of(EventRow), [row for row, _ in found])
    kept = [
        {"event_id": event_id, **dict(zip(MATCH, m, strict=True))} for _, ms in found for m in ms
    ]
    if kept:
        conn.execute(table_of(MatchRow).insert(), kept)
    for table in lookup_tables(conn):
        # A narrow row's id is a uuid (PostgreSQL, migration 0027).
        same = "CAST(encode(:id, 'hex') AS uuid)" if table == LOOKUP_KINDS[0] else ":id"
        conn.execute(
            text(
                f"DELETE FROM {table} WHERE block = :block AND ts BETWEEN :first AND :last "
                f"AND id = {same}"
            ),
            values,
        )
    return True
