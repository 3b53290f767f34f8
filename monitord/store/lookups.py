"""DNS lookups that matched nothing, kept narrow (docs/store.md): one ``lookups`` row each,
with keys to its name and its party (who looked, from where) and the place of its line in a
zstandard block of the source's lines. Written in the batch's transaction; read back as the
event rows they were (``lookup_events``), raw line and origin included."""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any

import zstandard
from sqlalchemy import Connection, bindparam, text

from monitord.store.database import insert_ignore, mine_sql, table_of
from monitord.store.tables import EventRow, LookupNameRow, LookupPartyRow, RawBlockRow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_HEX32 = re.compile(r"[0-9a-f]{32}\Z")
# The columns a lookup that matched nothing leaves empty (an event with one goes to events;
# a user name, as a resolver may log one, tells identity who was behind an address).
_EMPTY = (
    "user",
    "url",
    "method",
    "action",
    "status",
    "size",
    "text",
    "category",
    "filter_category",
    "sender",
    "received_at",
    "agent",
)
# The columns of an event row a party holds.
PARTY = (
    "site_id",
    "source",
    "fmt",
    "kind",
    "client_ip",
    "client_mac",
    "user",
    "hostname",
    "username",
    "device_id",
    "role",
    "year_group",
    "attributed_by",
    "attribution",
)
# Where a lookup is read from, with its party and name (``l``, ``p``, ``n``).
LOOKUPS_FROM = (
    "lookups AS l JOIN lookup_parties AS p ON p.id = l.party "
    "JOIN lookup_names AS n ON n.id = l.name"
)
_CHUNK = 500
_LEVEL = 3


def is_clean(row: Mapping[str, Any]) -> bool:
    """Whether an event row is a DNS lookup that matched nothing and carries nothing else
    (the caller knows whether it has matches, decisions or a lease)."""
    return (
        row["kind"] == "dns"
        and row["severity"] == "none"
        and not row["blocked"]
        and row.get("domain") is not None
        and _HEX32.match(row["id"]) is not None
        and all(row.get(c) is None for c in _EMPTY)
    )


def micros(ts: datetime) -> int:
    """A time as stored in ``lookups``: microseconds since 1970, UTC (naive means UTC)."""
    aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return (aware - EPOCH) // _MICRO


def from_micros(n: int) -> datetime:
    return EPOCH + timedelta(microseconds=n)


def id_sql(dialect: str, column: str = "l.id") -> str:
    """SQL giving a lookup's id as the 32 lower-case hex digits events hold."""
    return f"lower(hex({column}))" if dialect == "sqlite" else f"encode({column}, 'hex')"


# --- blocks of raw lines -------------------------------------------------------------------


def pack_block(lines: Mapping[int, bytes]) -> bytes:
    """Lines by their offset in the file, as one compressed block: their count, offsets
    and lengths, then the lines."""
    n = len(lines)
    head = struct.pack(f"<I{n}q{n}I", n, *lines, *(len(raw) for raw in lines.values()))
    return zstandard.ZstdCompressor(level=_LEVEL).compress(head + b"".join(lines.values()))


def unpack_block(data: bytes) -> dict[int, bytes]:
    """The lines of a block, by their offset in the file."""
    body = zstandard.ZstdDecompressor().decompress(data)
    (n,) = struct.unpack_from("<I", body)
    offsets = struct.unpack_from(f"<{n}q", body, 4)
    lengths = struct.unpack_from(f"<{n}I", body, 4 + 8 * n)
    out = {}
    at = 4 + 12 * n
    for off, size in zip(offsets, lengths, strict=True):
        out[off] = body[at : at + size]
        at += size
    return out


# --- writing -------------------------------------------------------------------------------


_PARTY_OF = itemgetter(*PARTY)


def _party_digest(values: tuple[Any, ...]) -> str:
    text = json.dumps(values, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _keys(
    conn: Connection,
    table: str,
    column: str,
    wanted: dict[str, dict[str, Any]],
    added: list[int],
) -> dict[str, int]:
    """The ids of ``wanted``'s keys in a key table, adding those not there yet (their ids
    appended to ``added``)."""
    found: dict[str, int] = {}
    keys = list(wanted)
    query = f"SELECT {column}, id FROM {table} WHERE {column} IN :keys"
    for i in range(0, len(keys), _CHUNK):
        stmt = text(query).bindparams(_expanding("keys"))
        found.update((k, v) for k, v in conn.execute(stmt, {"keys": keys[i : i + _CHUNK]}))
    missing = [wanted[k] for k in keys if k not in found]
    if missing:
        model = LookupNameRow if table == "lookup_names" else LookupPartyRow
        conn.execute(table_of(model).insert(), missing)
        fresh = [k for k in keys if k not in found]
        for i in range(0, len(fresh), _CHUNK):
            stmt = text(query).bindparams(_expanding("keys"))
            for k, v in conn.execute(stmt, {"keys": fresh[i : i + _CHUNK]}):
                found[k] = v
                added.append(int(v))
    return found


def _expanding(name: str) -> Any:
    return bindparam(name, expanding=True)


def stored_ids(
    conn: Connection, table: str, ids: Iterable[str], block: int | None = None
) -> set[str]:
    """Which of the event ids (hex) ``table`` (``events`` or ``lookups``) holds; with
    ``block``, which lookups that block holds."""
    wanted = list(ids)
    out: set[str] = set()
    if table == "events":
        query = text("SELECT id FROM events WHERE id IN :ids").bindparams(_expanding("ids"))
        for i in range(0, len(wanted), _CHUNK):
            out.update(conn.execute(query, {"ids": wanted[i : i + _CHUNK]}).scalars())
        return out
    sql = "SELECT id FROM lookups WHERE id IN :ids"
    if block is not None:
        sql += " AND block = :block"
    query = text(sql).bindparams(_expanding("ids"))
    for i in range(0, len(wanted), _CHUNK):
        chunk = [bytes.fromhex(x) for x in wanted[i : i + _CHUNK] if _HEX32.match(x)]
        if chunk:
            found = conn.execute(query, {"ids": chunk, "block": block}).scalars()
            out.update(bytes(b).hex() for b in found)
    return out


def store_lookups(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Store clean lookups (``is_clean`` rows of distinct ids) in the caller's transaction;
    return how many were new. An id ``events`` holds is left there; one ``lookups`` holds
    is not added again (its line may then sit in a block unread)."""
    if not rows:
        return 0
    known = stored_ids(conn, "events", (r["id"] for r in rows))
    rows = [r for r in rows if r["id"] not in known]
    if not rows:
        return 0
    made_names: list[int] = []
    made_parties: list[int] = []
    names = _keys(
        conn,
        "lookup_names",
        "domain",
        {r["domain"]: {"domain": r["domain"]} for r in rows},
        made_names,
    )
    # A device's lookups share their party: each distinct one is hashed once.
    wanted: dict[str, dict[str, Any]] = {}
    seen: dict[tuple[Any, ...], str] = {}
    digests = []
    for r in rows:
        values = _PARTY_OF(r)
        d = seen.get(values)
        if d is None:
            d = seen[values] = _party_digest(values)
            wanted[d] = {"digest": d, **dict(zip(PARTY, values, strict=True))}
        digests.append(d)
    parties = _keys(conn, "lookup_parties", "digest", wanted, made_parties)
    # One block a source's file and UTC day.
    groups: dict[tuple[str, str, str, date], list[int]] = {}
    stamps = [micros(r["ts"]) for r in rows]
    for i, r in enumerate(rows):
        day = from_micros(stamps[i]).date()
        groups.setdefault((r["site_id"], r["source"], r["file_id"], day), []).append(i)
    added = 0
    bt = table_of(RawBlockRow)
    for (site, source, file_id, day), members in groups.items():
        # The block first (its id is on the rows), its lines once the new rows are known.
        key = conn.execute(
            bt.insert().values(
                site_id=site,
                source=source,
                file_id=file_id,
                day=day,
                first_ts=0,
                last_ts=0,
                lines=0,
                data=b"",
            )
        ).inserted_primary_key
        assert key is not None
        block = int(key[0])
        out = [
            (
                bytes.fromhex(rows[i]["id"]),
                stamps[i],
                names[rows[i]["domain"]],
                rows[i].get("qtype"),
                parties[digests[i]],
                block,
                rows[i]["offset"],
            )
            for i in members
        ]
        new = _insert(conn, out)
        if new < len(members):
            # Some were stored before (a file read again): the block holds only the others.
            mine = stored_ids(conn, "lookups", (rows[i]["id"] for i in members), block)
            members = [i for i in members if rows[i]["id"] in mine]
        added += new
        if not members:
            conn.execute(bt.delete().where(bt.c.id == block))
            continue
        lines: dict[int, bytes] = {}
        for i in members:
            lines.setdefault(rows[i]["offset"], bytes(rows[i]["raw"]))
        conn.execute(
            bt.update()
            .where(bt.c.id == block)
            .values(
                first_ts=min(stamps[i] for i in members),
                last_ts=max(stamps[i] for i in members),
                lines=len(lines),
                data=pack_block(lines),
            )
        )
    if added < len(rows):
        # Rows stored before were left out: so are the names and parties made for them.
        _unused(conn, "lookup_names", "name", made_names)
        _unused(conn, "lookup_parties", "party", made_parties)
    return added


def _unused(conn: Connection, table: str, column: str, ids: list[int]) -> None:
    """Delete those of ``ids`` (just made in ``table``) that no lookup names."""
    sql = (
        f"DELETE FROM {table} WHERE id IN :ids AND NOT EXISTS "
        f"(SELECT 1 FROM lookups AS l WHERE l.{column} = {table}.id)"
    )
    for i in range(0, len(ids), _CHUNK):
        conn.execute(text(sql).bindparams(_expanding("ids")), {"ids": ids[i : i + _CHUNK]})


_COLUMNS = ("id", "ts", "name", "qtype", "party", "block", "offset")


def _insert(conn: Connection, rows: list[tuple[Any, ...]]) -> int:
    """Insert lookup rows, skipping ids already stored; return how many were added."""
    quoted = ", ".join(f'"{c}"' for c in _COLUMNS)
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(
            f"INSERT OR IGNORE INTO lookups ({quoted}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows
        )
        added: int = cursor.rowcount
        cursor.close()
        return max(added, 0)
    known = stored_ids(conn, "lookups", (bytes(r[0]).hex() for r in rows))
    fresh = {r[0]: r for r in rows if r[0].hex() not in known}
    if not fresh:
        return 0
    driver = conn.connection.dbapi_connection
    assert driver is not None
    cursor = driver.cursor()
    with cursor, cursor.copy(f"COPY lookups ({quoted}) FROM STDIN") as copy:  # type: ignore[attr-defined]
        for row in fresh.values():
            copy.write_row(row)
    return len(fresh)


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
    own, site = mine_sql(conn, "p.site_id")
    cols = ", ".join(f'p."{c}"' for c in PARTY)
    sql = (
        f'SELECT {id_sql(conn.dialect.name)}, l.ts, n.domain, l.qtype, l.block, l."offset", {cols} '
        f"FROM {LOOKUPS_FROM} WHERE ({where}) AND {own} ORDER BY l.ts, l.id"
    )
    rows = conn.execute(text(sql), {**(params or {}), **site}).all()
    blocks = _blocks(conn, (r[4] for r in rows))
    defaults = {c.name: _default(c) for c in table_of(EventRow).columns}
    out = []
    for r in rows:
        file_id, lines = blocks[int(r[4])]
        offset = int(r[5])
        row = {**defaults, **dict(zip(PARTY, r[6:], strict=True))}
        row.update(
            id=r[0],
            ts=from_micros(int(r[1])),
            domain=r[2],
            qtype=r[3],
            file_id=file_id,
            offset=offset,
            raw=lines[offset],
        )
        out.append(row)
    return out


def _default(column: Any) -> Any:
    default = column.default
    return default.arg if default is not None and default.is_scalar else None


def promote(conn: Connection, event_id: str) -> bool:
    """Move a stored lookup into ``events`` (a later line changes it: the filter blocked
    it), in the caller's transaction; False when ``lookups`` does not hold it."""
    if _HEX32.match(event_id) is None:
        return False
    rows = lookup_events(conn, "l.id = :id", {"id": bytes.fromhex(event_id)})
    if not rows:
        return False
    insert_ignore(conn, table_of(EventRow), rows)
    conn.execute(text("DELETE FROM lookups WHERE id = :id"), {"id": bytes.fromhex(event_id)})
    return True


# --- reading what search, timeline and the alert mail show ---------------------------------

# A lookup as search shows it: its id, time (µs), name, and its party's columns.
SHOWN = (
    "n.domain, p.source, p.fmt, p.kind, p.client_ip, p.username, p.role, p.year_group, p.device_id"
)
# The party columns a search, a timeline or the alert mail chooses lookups by.
PARTY_KEYS = frozenset({"username", "device_id", "client_ip"})


def select_shown(
    conn: Connection,
    *,
    party: Mapping[str, str] | None = None,
    names: str | None = None,
    where: Sequence[str] = (),
    params: Mapping[str, Any] | None = None,
    newest: bool = True,
    limit: int | None = None,
) -> list[tuple[Any, ...]]:
    """Lookups as (id, µs, ``SHOWN``...), newest first (or oldest), at most ``limit``: those
    of the parties whose columns equal ``party`` (``username``, ``device_id``,
    ``client_ip``), of the names ``names`` selects (SQL on ``lookup_names``, a subquery of
    ids), and meeting ``where`` (on ``l``, ``p``, ``n``). Read by the index that fits."""
    own, site = mine_sql(conn, "site_id")
    values: dict[str, Any] = {**(params or {}), **site}
    clauses = list(where)
    index = "ix_lookups_ts"
    if party:
        terms = [own]
        for column, value in party.items():
            if column not in PARTY_KEYS:
                raise ValueError(f"lookups are not chosen by {column!r}")
            terms.append(f"{column} = :party_{column}")
            values[f"party_{column}"] = value
        clauses.append(f"l.party IN (SELECT id FROM lookup_parties WHERE {' AND '.join(terms)})")
        index = "ix_lookups_party_ts"
    else:
        clauses.append(own.replace("site_id", "p.site_id"))
    if names is not None:
        clauses.append(f"l.name IN ({names})")
        if not party:
            index = "ix_lookups_name_ts"
    hint = f" INDEXED BY {index}" if conn.dialect.name == "sqlite" else ""
    order = "DESC" if newest else "ASC"
    sql = (
        f"SELECT {id_sql(conn.dialect.name)}, l.ts, {SHOWN} FROM lookups AS l{hint} "
        "JOIN lookup_parties AS p ON p.id = l.party JOIN lookup_names AS n ON n.id = l.name "
        f"WHERE {' AND '.join(clauses)} ORDER BY l.ts {order}, l.id {order}"
    )
    if limit is not None:
        sql += " LIMIT :lookup_limit"
        values["lookup_limit"] = limit
    return [tuple(r) for r in conn.execute(text(sql), values)]


def lookup_count(conn: Connection) -> int:
    """How many lookups this site (or every site) holds."""
    own, site = mine_sql(conn, "p.site_id")
    sql = (
        f"SELECT count(*) FROM lookups AS l JOIN lookup_parties AS p ON p.id = l.party WHERE {own}"
    )
    return int(conn.execute(text(sql), site).scalar_one())


def newest_lookup(conn: Connection) -> datetime | None:
    """The time of this site's newest lookup (read from the newest end of the time index)."""
    found = select_shown(conn, limit=1)
    return from_micros(int(found[0][1])) if found else None
