"""Reaching tens of millions of events quickly: the days a store holds, copied day by day
inside the store.

A store built through the store's own writes (``bench/search.py``, ``bench/bigstore.py``)
takes 400-500 µs of CPU an event, 5-6 hours for 50 million. Here the days it holds are the
seed: each following day takes a copy of one of them, made with ``INSERT ... SELECT`` in one
transaction a day, its times moved on by whole days, with every table, index, trigger and
(PostgreSQL) day's partition the migrations' own in place while the rows go in, as a
daemon's store has them:

- ``events``: a new id (a digest of the old id and the copy's file), the time and the time
  received moved on, the file the copy's own (a digest of the seed's file and the day), the
  raw line's date moved on in the line itself (dnsmasq's ``Nov  2``, Squid's seconds since
  1970, an agent report's ISO date), the attribution's lease dates moved on; their matches
  copied with them. The triggers fill ``domain_names`` and SQLite's text index queue, which
  is moved into the text index at the end of each day, as a text search would.
- ``raw_blocks``: each of the day's blocks unpacked, each line's date moved on, packed again
  (the same offsets and lengths) under the copy's file and day.
- ``lookups``: a new id (as for events), the time moved on, the copy's block for the line,
  the same offset, and a party of the copy's day: each of the seed day's parties made again
  with its lease dates moved on (a new lease a day, as a school's are), by the store's own
  key writes.

Names and verdicts are shared, as the same names looked up again are. A day of the seed's
kind follows in turn (weekdays copy the seed's weekdays, weekends its weekend days; a day
with no seed of its kind is left empty) until the store holds the events asked for, the
last day a copy of its seed's first hours only if so few make them up. Each
day is one transaction: a run stopped part way leaves whole days, and a run again goes on
from the last. PostgreSQL is analysed at the end (its autovacuum would); SQLite keeps no
statistics, as the daemon's store has none.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from monitord.casework.plan import flush_text_queue
from monitord.store.lookupkeys import party_digest as _party_digest
from monitord.store.lookups import (
    PARTY,
    _keys,
    micros,
    pack_block,
    unpack_block,
)
from monitord.store.partitions import LOOKUP_KINDS, create_partition, lookup_tables

DAY_MICROS = 86_400_000_000
_ISO_DAY = re.compile(r"\b(\d{4}-\d{2}-\d{2})(?=[T ])")


def _md5(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()


def _md5_bytes(value: str) -> bytes:
    return hashlib.md5(value.encode()).digest()


def moved(value: str, days: int) -> str:
    """``value`` with every ISO date in it (followed by ``T`` or a space) moved on ``days``."""
    return _ISO_DAY.sub(lambda m: str(date.fromisoformat(m.group(1)) + timedelta(days=days)), value)


def syslog_day(day: date) -> str:
    """How a syslog-style line (dnsmasq's) begins on ``day``: ``Nov  2 ``."""
    return f"{day:%b} {day.day:2d} "


def copy_file(file_id: str, day: date) -> str:
    """The copy's file for a seed file on ``day``."""
    return _md5(f"{file_id}:{day}")


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _span(day: date) -> tuple[datetime, datetime]:
    return _day_start(day), _day_start(day) + timedelta(days=1)


def seed_days(conn: Connection) -> list[date]:
    """The days the store holds events of (its seed, before any copy)."""
    span = conn.exec_driver_sql("SELECT min(ts), max(ts) FROM lookups").one()
    if span[0] is None:
        raise SystemExit("the store holds no lookups to copy")
    first = datetime.fromtimestamp(span[0] / 1e6, UTC).date()
    last = datetime.fromtimestamp(span[1] / 1e6, UTC).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def count_events(conn: Connection) -> int:
    return int(
        conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM lookups)"
        ).scalar_one()
    )


def plan_copies(seeds: list[date], last: date) -> Iterator[tuple[date, date]]:
    """(seed day, copy's day) for each day after ``last``, endlessly: a weekday copies
    the seed's weekdays in turn, a weekend day its weekend days; a day whose kind the seed
    lacks is skipped."""
    kinds: dict[bool, list[date]] = {}
    for d in seeds:
        kinds.setdefault(d.weekday() >= 5, []).append(d)
    turn = dict.fromkeys(kinds, 0)
    day = last
    while True:
        day += timedelta(days=1)
        weekend = day.weekday() >= 5
        if weekend not in kinds:
            continue
        pick = kinds[weekend][turn[weekend] % len(kinds[weekend])]
        turn[weekend] += 1
        yield pick, day


def _functions(conn: Connection) -> None:
    """SQLite: the digests PostgreSQL has built in."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.create_function("md5", 1, _md5, deterministic=True)
        raw.create_function("md5_bytes", 1, _md5_bytes, deterministic=True)


def _raw_sql(dialect: str) -> str:
    """The raw line of ``e`` with its date moved on (``:old_label``/``:new_label`` a dnsmasq
    line's start, ``:seconds`` Squid's, ``:old_iso``/``:new_iso`` an agent report's)."""
    if dialect == "sqlite":
        return (
            "CASE WHEN e.fmt = 'dnsmasq' AND substr(e.raw, 1, 7) = CAST(:old_label AS BLOB) "
            "THEN CAST(:new_label || CAST(substr(e.raw, 8) AS TEXT) AS BLOB) "
            "WHEN e.fmt = 'squid' AND substr(e.raw, 11, 1) = X'2E' "
            "THEN CAST(CAST(CAST(CAST(substr(e.raw, 1, 10) AS TEXT) AS INTEGER) + :seconds "
            "AS TEXT) || CAST(substr(e.raw, 11) AS TEXT) AS BLOB) "
            "WHEN e.fmt = 'agent' "
            "THEN CAST(replace(CAST(e.raw AS TEXT), :old_iso, :new_iso) AS BLOB) "
            "ELSE e.raw END"
        )
    return (
        "CASE WHEN e.fmt = 'dnsmasq' AND substring(e.raw from 1 for 7) = "
        "convert_to(:old_label, 'UTF8') "
        "THEN convert_to(:new_label, 'UTF8') || substring(e.raw from 8) "
        "WHEN e.fmt = 'squid' AND substring(e.raw from 11 for 1) = '\\x2e'::bytea "
        "THEN convert_to((convert_from(substring(e.raw from 1 for 10), 'UTF8')::bigint "
        "+ :seconds)::text, 'UTF8') || substring(e.raw from 11) "
        "WHEN e.fmt = 'agent' "
        "THEN convert_to(replace(convert_from(e.raw, 'UTF8'), :old_iso, :new_iso), 'UTF8') "
        "ELSE e.raw END"
    )


def _moved_line(line: bytes, old_start: bytes, new_start: bytes, seconds: int) -> bytes:
    """A block's line with its date moved on, as ``_raw_sql`` moves an event's: a dnsmasq
    line's start, a Squid line's seconds since 1970 (a proxy request kept as a lookup)."""
    if line.startswith(old_start):
        return new_start + line[len(old_start) :]
    if line[10:11] == b"." and line[:10].isdigit():
        return str(int(line[:10]) + seconds).encode() + line[10:]
    return line


def _moved_time(dialect: str, column: str) -> str:
    """A stored time moved on ``:days`` whole days, in the store's own form."""
    if dialect == "sqlite":  # 'YYYY-MM-DD HH:MM:SS[.ffffff]+00:00' as the store writes it
        return f"(date(substr({column}, 1, 10), '+' || :days || ' days') || substr({column}, 11))"
    return f"({column} + make_interval(days => :days))"


def _columns(conn: Connection, table: str) -> list[str]:
    if conn.dialect.name == "sqlite":
        return [str(r[1]) for r in conn.exec_driver_sql(f"PRAGMA table_info({table})")]
    return [
        str(r[0])
        for r in conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                "AND table_schema = current_schema() ORDER BY ordinal_position"
            ),
            {"t": table},
        )
    ]


def _quoted(columns: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _temp_tables(conn: Connection) -> None:
    for name, cols in (
        ("copy_files", "old VARCHAR(64) PRIMARY KEY, new VARCHAR(64) NOT NULL"),
        ("copy_attributions", "old VARCHAR(512) PRIMARY KEY, new VARCHAR(512) NOT NULL"),
        ("copy_parties", "old INTEGER PRIMARY KEY, new INTEGER NOT NULL"),
        ("copy_blocks", "old BIGINT PRIMARY KEY, new BIGINT NOT NULL, file VARCHAR(64)"),
    ):
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({cols})")
        conn.exec_driver_sql(f"DELETE FROM {name}")


def _held(conn: Connection, start: datetime, end: datetime) -> int:
    """The events and lookups from ``start`` to ``end`` (not included)."""
    span: dict[str, Any] = {"start": start, "end": end}
    if conn.dialect.name == "sqlite":
        span = {k: v.isoformat(" ") for k, v in span.items()}
    n = conn.execute(
        text("SELECT count(*) FROM events WHERE ts >= :start AND ts < :end"), span
    ).scalar_one()
    n += conn.execute(
        text("SELECT count(*) FROM lookups WHERE ts >= :lo AND ts < :hi"),
        {"lo": micros(start), "hi": micros(end)},
    ).scalar_one()
    return int(n)


def part_of_day(conn: Connection, seed: date, wanted: int) -> timedelta:
    """How much of the seed day, from its start, holds about ``wanted`` events (to the
    second): a last copy that makes up the number asked for."""
    start = _day_start(seed)
    lo, hi = 0, 86_400
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _held(conn, start, start + timedelta(seconds=mid)) < wanted:
            lo = mid
        else:
            hi = mid
    return timedelta(seconds=hi)


def copy_day(conn: Connection, seed: date, day: date, part: timedelta = timedelta(days=1)) -> int:
    """Copy the seed day's events, lookups and blocks to ``day`` in the caller's
    transaction (only its first ``part``); return the events made."""
    dialect = conn.dialect.name
    days = (day - seed).days
    start, end = _day_start(seed), _day_start(seed) + part
    lo, hi = micros(start), micros(end)
    _temp_tables(conn)
    span = {"start": start, "end": end}
    if dialect == "sqlite":  # times as the store writes them, compared as text
        span = {k: v.isoformat(" ") for k, v in span.items()}
    # The files: the events' and the blocks'.
    files = {
        str(f)
        for (f,) in conn.execute(
            text("SELECT DISTINCT file_id FROM events WHERE ts >= :start AND ts < :end"), span
        )
    } | {
        str(f)
        for (f,) in conn.execute(
            text("SELECT DISTINCT file_id FROM raw_blocks WHERE day = :day"), {"day": seed}
        )
    }
    if files:
        conn.execute(
            text("INSERT INTO copy_files (old, new) VALUES (:old, :new)"),
            [{"old": f, "new": copy_file(f, day)} for f in files],
        )
    attributions = [
        str(a)
        for (a,) in conn.execute(
            text("SELECT DISTINCT attribution FROM events WHERE ts >= :start AND ts < :end"),
            span,
        )
    ]
    if attributions:
        conn.execute(
            text("INSERT INTO copy_attributions (old, new) VALUES (:old, :new)"),
            [{"old": a, "new": moved(a, days)} for a in attributions],
        )
    if dialect == "postgresql":
        create_partition(conn, day)
        for table in lookup_tables(conn):
            create_partition(conn, day, table)
    old_label, new_label = syslog_day(seed), syslog_day(day)
    params: dict[str, Any] = {
        **span,
        "days": days,
        "seconds": days * 86_400,
        "old_label": old_label,
        "new_label": new_label,
        "old_iso": f"{seed}T",
        "new_iso": f"{day}T",
    }
    # events, then their matches (found by the copy's id).
    cols = _columns(conn, "events")
    made = {
        "id": "md5(e.id || f.new)",
        "ts": _moved_time(dialect, "e.ts"),
        "received_at": _moved_time(dialect, "e.received_at"),
        "file_id": "f.new",
        "raw": _raw_sql(dialect),
        "attribution": "coalesce(a.new, e.attribution)",
    }
    select = ", ".join(made.get(c, f'e."{c}"') for c in cols)
    order = "ORDER BY e.rowid" if dialect == "sqlite" else ""
    copied = conn.execute(
        text(
            f"INSERT INTO events ({_quoted(cols)}) SELECT {select} "
            "FROM events AS e JOIN copy_files AS f ON f.old = e.file_id "
            "LEFT JOIN copy_attributions AS a ON a.old = e.attribution "
            f"WHERE e.ts >= :start AND e.ts < :end {order}"
        ),
        params,
    ).rowcount
    conn.execute(
        text(
            "INSERT INTO matches (event_id, category, list_name, entry, score, allow) "
            "SELECT md5(e.id || f.new), m.category, m.list_name, m.entry, m.score, m.allow "
            "FROM matches AS m JOIN events AS e ON e.id = m.event_id "
            "JOIN copy_files AS f ON f.old = e.file_id "
            "WHERE e.ts >= :start AND e.ts < :end ORDER BY m.id"
        ),
        span,
    )
    # The blocks, their lines' dates moved on.
    blocks = conn.execute(
        text(
            "SELECT id, site_id, source, file_id, first_ts, last_ts, lines, data, "
            "first_offset, last_offset FROM raw_blocks WHERE day = :day AND first_ts < :hi "
            "ORDER BY id"
        ),
        {"day": seed, "hi": hi},
    ).all()
    old_start, new_start = old_label.encode(), new_label.encode()
    for b in blocks:
        lines = {
            off: _moved_line(line, old_start, new_start, days * 86_400)
            for off, line in unpack_block(bytes(b.data)).items()
        }
        new_file = copy_file(b.file_id, day)
        new_id = conn.execute(
            text(
                "INSERT INTO raw_blocks (site_id, source, file_id, day, first_ts, last_ts, "
                "lines, data, first_offset, last_offset) VALUES (:site, :source, :file, "
                ":day, :first, :last, :lines, :data, :first_offset, :last_offset) RETURNING id"
            ),
            {
                "site": b.site_id,
                "source": b.source,
                "file": new_file,
                "day": day,
                "first": b.first_ts + days * DAY_MICROS,
                "last": b.last_ts + days * DAY_MICROS,
                "lines": b.lines,
                "data": pack_block(lines),
                "first_offset": b.first_offset,
                "last_offset": b.last_offset,
            },
        ).scalar_one()
        conn.execute(
            text("INSERT INTO copy_blocks (old, new, file) VALUES (:old, :new, :file)"),
            {"old": b.id, "new": new_id, "file": new_file},
        )
    # The day's parties, made again with their lease dates moved on.
    party_cols = ", ".join(f'p."{c}"' for c in PARTY)
    wanted: dict[str, dict[str, Any]] = {}
    old_of: dict[str, list[int]] = {}
    for r in conn.execute(
        text(
            f"SELECT p.id, {party_cols} FROM lookup_parties AS p WHERE p.id IN "
            "(SELECT DISTINCT party FROM lookups WHERE ts >= :lo AND ts < :hi)"
        ),
        {"lo": lo, "hi": hi},
    ):
        values = dict(zip(PARTY, r[1:], strict=True))
        values["attribution"] = moved(values["attribution"], days)
        digest = _party_digest(tuple(values[c] for c in PARTY))
        wanted[digest] = {"digest": digest, **values}
        old_of.setdefault(digest, []).append(int(r[0]))
    ids = _keys(conn, "lookup_parties", "digest", wanted)
    pairs = [{"old": o, "new": ids[d]} for d, olds in old_of.items() for o in olds]
    if pairs:
        conn.execute(text("INSERT INTO copy_parties (old, new) VALUES (:old, :new)"), pairs)
    for table in lookup_tables(conn):
        # A narrow row's id is a uuid (PostgreSQL, schema 0027): the same 16 bytes.
        uuid = table == LOOKUP_KINDS[0]
        lookup_id = (
            "md5_bytes(lower(hex(l.id)) || b.file)"
            if dialect == "sqlite"
            else "CAST(md5(encode(uuid_send(l.id), 'hex') || b.file) AS uuid)"
            if uuid
            else "decode(md5(encode(l.id, 'hex') || b.file), 'hex')"
        )
        lcols = _columns(conn, table)
        lmade = {
            "id": lookup_id,
            "ts": "l.ts + :shift",
            "party": "p.new",
            "block": "b.new",
        }
        lselect = ", ".join(lmade.get(c, f'l."{c}"') for c in lcols)
        lorder = "ORDER BY l.rowid" if dialect == "sqlite" else ""
        copied += conn.execute(
            text(
                f"INSERT INTO {table} ({_quoted(lcols)}) SELECT {lselect} "
                f"FROM {table} AS l JOIN copy_blocks AS b ON b.old = l.block "
                "JOIN copy_parties AS p ON p.old = l.party "
                f"WHERE l.ts >= :lo AND l.ts < :hi {lorder}"
            ),
            {"lo": lo, "hi": hi, "shift": days * DAY_MICROS},
        ).rowcount
    flush_text_queue(conn)
    return int(copied)


def replicate(
    engine: Engine, target: int, pause: float = 0.0, max_load: float | None = None
) -> int:
    """Copy the store's days onto the days after its last until it holds ``target`` events
        (the last copy the first part of its seed day that makes them up, to the second);
        return the events it holds. ``pause``: seconds to wait
        between days for each second a day took, and ``max_load``: before a day, wait (two
    minutes at most) while the load average is above it (leaving a shared machine its
    turns)."""
    with engine.connect() as conn:
        _functions(conn)
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-4194304")  # 4 GB: the indexes' pages
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
        total = count_events(conn)
        seeds = seed_days(conn)
        last = conn.exec_driver_sql("SELECT max(day) FROM raw_blocks").scalar_one()
        last = last if isinstance(last, date) else date.fromisoformat(str(last))
        # A store copied before: its seed is its first days, as many as the first copy
        # follows (the days up to the first whose blocks are a copy's).
        seeds = _seed_of(conn, seeds)
        conn.commit()
        print(f"seed: {', '.join(map(str, seeds))}; {total:,} events", flush=True)
        began = time.perf_counter()
        for seed, day in plan_copies(seeds, last):
            if total >= target:
                break
            waited = time.perf_counter()
            while max_load and os.getloadavg()[0] > max_load:
                if time.perf_counter() - waited > 120:
                    break
                time.sleep(10)
            t, cpu = time.perf_counter(), time.process_time()
            with conn.begin():
                part = timedelta(days=1)
                if _held(conn, *_span(seed)) > target - total:  # the last, in part
                    part = part_of_day(conn, seed, target - total)
                total += copy_day(conn, seed, day, part)
            took = time.perf_counter() - t
            print(
                f"  {day} (a copy of {seed}): {total:,} events, {took:,.1f} s "
                f"({time.process_time() - cpu:,.1f} CPU s of this process), "
                f"{(time.perf_counter() - began) / 60:,.1f} min in all",
                flush=True,
            )
            time.sleep(pause * took)
        if conn.dialect.name == "postgresql":
            t = time.perf_counter()
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
            print(f"  analysed in {time.perf_counter() - t:,.0f} s", flush=True)
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.commit()
    return total


def _seed_of(conn: Connection, days: list[date]) -> list[date]:
    """The seed days among ``days``: those before the first day whose blocks are a copy's
    (their files are the digests ``copy_file`` makes of an earlier day's)."""
    files: dict[date, set[str]] = {}
    for f, d in conn.exec_driver_sql("SELECT DISTINCT file_id, day FROM raw_blocks"):
        files.setdefault(d if isinstance(d, date) else date.fromisoformat(str(d)), set()).add(
            str(f)
        )
    seeds: list[date] = []
    for d in days:
        made = {copy_file(f, d) for s in seeds for f in files.get(s, ())}
        if files.get(d, set()) & made:
            break
        seeds.append(d)
    return seeds
