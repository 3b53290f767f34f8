"""Retention: each kind of data is removed once it has been kept as long as ``[retention]``
says, by a daily job (``alerting.schedule``) or ``monitord retention run``.

What goes, and what never does:

- **alerts**: a *closed* alert whose last change (and last audit record: a note, a view) is
  older than ``alerts`` (7 years by default), with its links to events and its mail. An
  alert that is open or acknowledged is never removed, however old.
- **events**: older than ``events`` (90 days), unless they belong to an alert still kept;
  their **matches** go with them, in the same transaction (on PostgreSQL, a whole day's
  matches just before its events). DHCP leases that ended and supply visits (identity
  records, kept as events) follow the same period.
- **rejected** lines: read longer ago than ``rejected``.
- **outbox** mail that belongs to no alert (the digests), sent or failed longer ago than
  ``alerts``.
- **audit** records: only when ``audit`` is set. The run's own audit record declares where the
  trail now starts (the first record kept and the hash before it), so ``evidence verify``
  still proves the rest unedited.

Every run that is not a dry run writes one audit record with the counts removed per kind.

On PostgreSQL, events live in one partition a day: a day wholly past its period is removed
by dropping its partition in one short transaction, the events alerts still hold (and their
matches) first put back into a new partition of that day; only the day the period ends in is
deleted row by row. The day's matches that no alert holds go first, in paced transactions
(the detach locks every write to ``events`` until its transaction ends), so that the
partition's events go after their matches rather than with them.

Deletion runs in small transactions with a short pause between them, so that a writer
(ingest, the alert manager) never waits long for the store: each is sized from the pace of
the one before to hold the write lock about ``BUDGET`` (40 ms), from 50 rows up to
``batch_size`` (default 5,000), and the longest is reported. Rows are chosen outside the write
transaction and every delete repeats its own conditions, so a row that changed in between (an
alert noted again, an event newly linked to an alert) is left alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    TextClause,
    delete,
    exists,
    func,
    select,
    text,
    tuple_,
)

from monitord.settings.config import Config
from monitord.settings.sections import period_cutoff
from monitord.store.database import RETENTION_ACTION, audit, table_of, utc
from monitord.store.lookups import KEYS_LOCK, micros
from monitord.store.partitions import LOOKUP_KINDS, Partition, create_partition, partitions
from monitord.store.shortwrites import ShortWrites
from monitord.store.shots import sweep as sweep_screenshots
from monitord.store.tables import (
    AlertEventRow,
    AlertRow,
    AuditRow,
    EventRow,
    LeaseRow,
    LookupRow,
    MatchRow,
    OutboxRow,
    RejectedRow,
    SupplyVisitRow,
)

KINDS = (
    "alerts",
    "alert_events",
    "outbox",
    "events",
    "matches",
    "leases",
    "supply_visits",
    "rejected",
    "screenshots",
    "audit",
)
PAUSE = 0.05  # seconds between two transactions: a waiting writer gets the store
# Seconds a deletion transaction aims to hold the write lock: a writer waiting for it polls
# (SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25 ms...), so it gets the store
# within 53 ms of asking when the lock is held 40 ms, and a transaction twice as slow as its
# predecessors' pace (a checkpoint, the disk, the machine busy) still leaves it under 100 ms.
BUDGET = 0.04
FIRST_BATCH = 50  # rows in the first transaction of a kind, before the pace is known
SMALLEST_BATCH = 10
ALERTS_PER_BATCH = 50  # an alert carries its links and mail: fewer of them a transaction


@dataclass
class RetentionResult:
    """What a run removed (or, dry, would remove), per kind, and how it went."""

    dry_run: bool
    cutoffs: dict[str, str]
    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    transactions: int = 0
    longest_transaction: float = 0.0  # seconds
    stopped: bool = False  # asked to stop (the daemon shutting down) before the end
    # The ids of the alerts removed, named in the run's audit record: `evidence verify`
    # tells them from alerts removed by hand.
    alerts_removed: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "cutoffs": self.cutoffs,
            "removed": self.removed,
            "transactions": self.transactions,
            "longest_transaction_ms": round(self.longest_transaction * 1000, 1),
            "stopped": self.stopped,
        }


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class _Run:
    def __init__(
        self,
        engine: Engine,
        result: RetentionResult,
        batch_size: int,
        pause: float,
        stop: Callable[[], bool] | None,
        budget: float = BUDGET,
    ) -> None:
        self.engine = engine
        self.result = result
        self.most = batch_size
        self.batch = min(batch_size, FIRST_BATCH)
        self.budget = budget
        self.pause = pause
        self.stop = stop or (lambda: False)
        self.writes = ShortWrites(engine)
        self._started = False

    def stopping(self) -> bool:
        if self.stop():
            self.result.stopped = True
        return self.result.stopped

    def ids(self, query: Select[Any]) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def count(self, query: Select[Any]) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def transaction(self, work: Callable[[Connection], None], rows: int = 0) -> None:
        """One short write transaction, timed from taking the write lock to the commit; a
        pause before each but the first. ``rows``: how many rows it deletes, to size the
        next batch by its pace."""
        if self._started and self.pause:
            time.sleep(self.pause)
        self._started = True
        # The lock is taken at the start, so that this is the time it is held (waiting
        # for a writer in hand is not holding anyone up); see monitord.store.shortwrites.
        took = self.writes.transaction(work)
        self.result.transactions += 1
        self.result.longest_transaction = max(self.result.longest_transaction, took)
        if rows:
            self.batch = next_batch(rows, took, self.budget, self.most)

    def removed(self, kind: str, n: int) -> None:
        self.result.removed[kind] += max(n, 0)


def next_batch(rows: int, took: float, budget: float, most: int) -> int:
    """The rows the next transaction deletes, after one that deleted ``rows`` in ``took``
    seconds: as many as fit in ``budget`` at that pace, at most twice as many as the last
    (a quick transaction may have been lucky), at once fewer after a slow one, never more
    than ``most`` (``[retention] batch_size``) nor fewer than ``SMALLEST_BATCH``."""
    fits = int(rows * budget / max(took, 1e-6))
    return max(min(SMALLEST_BATCH, most), min(most, 2 * rows, fits))


def _delete(conn: Connection, table: Any, where: ColumnElement[bool]) -> int:
    return int(conn.execute(delete(table).where(where)).rowcount or 0)


def _alerts(run: _Run, cut: datetime, dry: bool) -> list[int]:
    """Remove closed alerts past ``cut`` (from their last change, or the last audit record
    about them, a note or a view, if that is later); return their ids."""
    at, ae, ot, ut = (
        table_of(AlertRow),
        table_of(AlertEventRow),
        table_of(OutboxRow),
        table_of(AuditRow),
    )
    expired = (at.c.status == "closed") & (at.c.updated_at < cut)
    gone: list[int] = []
    after = 0
    while not run.stopping():
        found: Sequence[int] = run.ids(
            select(at.c.id)
            .where(expired, at.c.id > after)
            .order_by(at.c.id)
            .limit(ALERTS_PER_BATCH)
        )
        if not found:
            break
        after = found[-1]
        subjects = [f"alert:{i}" for i in found]
        recent = set(
            run.ids(select(ut.c.subject).where(ut.c.subject.in_(subjects), ut.c.ts >= cut))
        )
        batch = [i for i, s in zip(found, subjects, strict=True) if s not in recent]
        if not batch:
            continue
        if dry:
            gone += batch
            run.removed("alerts", len(batch))
            links = select(func.count()).select_from(ae).where(ae.c.alert_id.in_(batch))
            run.removed("alert_events", run.count(links))
            mail = select(func.count()).select_from(ot).where(ot.c.alert_id.in_(batch))
            run.removed("outbox", run.count(mail))
            continue
        # The conditions again, inside the transaction: an alert changed since stays.
        still = select(at.c.id).where(at.c.id.in_(batch), expired)

        deleted: list[int] = []

        def work(
            conn: Connection,
            still: Select[Any] = still,
            batch: list[int] = batch,
            deleted: list[int] = deleted,
        ) -> None:
            run.removed("outbox", _delete(conn, ot, ot.c.alert_id.in_(still)))
            run.removed("alert_events", _delete(conn, ae, ae.c.alert_id.in_(still)))
            gone_now = delete(at).where(at.c.id.in_(batch) & expired).returning(at.c.id)
            deleted[:] = conn.execute(gone_now).scalars().all()
            run.removed("alerts", len(deleted))

        run.transaction(work)
        run.result.alerts_removed += deleted
        gone += batch
    return gone


def _events(run: _Run, cut: datetime, dry: bool, gone: Sequence[int]) -> None:
    et, mt, ae = table_of(EventRow), table_of(MatchRow), table_of(AlertEventRow)
    unheld = ~exists().where(ae.c.event_id == et.c.id)
    match_unheld = ~exists().where(ae.c.event_id == mt.c.event_id)
    if dry:  # as if the alerts a real run removes first were gone
        free = ~exists().where(ae.c.event_id == et.c.id, ae.c.alert_id.not_in(gone))
        old = select(et.c.id).where(et.c.ts < cut, free)
        events = select(func.count()).select_from(et).where(et.c.ts < cut, free)
        run.removed("events", run.count(events))
        matches = select(func.count()).select_from(mt).where(mt.c.event_id.in_(old))
        run.removed("matches", run.count(matches))
        return
    for part in partitions_before(run.engine, cut):
        if run.stopping():
            return

        _unmatch_day(run, part)
        if run.stopping():
            return

        def drop(conn: Connection, part: Partition = part) -> None:
            _drop_day(run, conn, part)

        run.transaction(drop)
    since: datetime | None = None
    while not run.stopping():
        query = select(et.c.id, et.c.ts).where(et.c.ts < cut, unheld)
        if since is not None:
            query = query.where(et.c.ts >= since)
        with run.engine.connect() as conn:
            rows = conn.execute(query.order_by(et.c.ts).limit(run.batch)).all()
        if not rows:
            return
        since = rows[-1].ts
        batch = [r.id for r in rows]

        def work(conn: Connection, batch: list[str] = batch) -> None:
            run.removed("matches", _delete(conn, mt, mt.c.event_id.in_(batch) & match_unheld))
            run.removed("events", _delete(conn, et, et.c.id.in_(batch) & unheld))

        run.transaction(work, len(batch))


def _lookups(run: _Run, cut: datetime, dry: bool) -> None:
    """Remove the lookups that matched nothing older than ``cut`` (counted as events; no
    alert holds one), then the blocks whose every line is older, then the parties and
    names no lookup names any more."""
    at = micros(cut)
    lt = table_of(LookupRow)
    if dry:
        run.removed("events", run.count(select(func.count()).select_from(lt).where(lt.c.ts < at)))
        return
    # A lookup's row is found by its place (the rowid; on PostgreSQL its row address in
    # the partition of the day the cut falls on of each kind's table, the days before it
    # dropped whole).
    cut_days: list[str] = []
    place = "rowid"
    if run.engine.dialect.name != "postgresql":
        cut_days.append("lookups")
    else:
        place = "ctid"
        for kind in LOOKUP_KINDS:
            cut_day = _drop_days(run, kind, cut)
            if cut_day is None:  # stopping
                return
            if cut_day:
                cut_days.append(cut_day)
    with run.engine.connect() as conn:
        held = [conn.execute(_held(t), {"at": at}).first() is not None for t in cut_days]
        blocks = conn.execute(
            text("SELECT 1 FROM raw_blocks WHERE last_ts < :at LIMIT 1"), {"at": at}
        ).first()
    if not any(held) and blocks is None:
        return
    for table, old in zip(cut_days, held, strict=True):
        if old and not _delete_older(run, table, place, at):
            return
    if run.stopping():
        return

    def rest(conn: Connection) -> None:
        conn.execute(text("DELETE FROM raw_blocks WHERE last_ts < :at"), {"at": at})

    run.transaction(rest)
    for table, column in (
        ("lookup_parties", "party"),
        ("lookup_names", "name"),
        ("lookup_urls", "url"),
    ):
        _unnamed(run, table, column)


def _unnamed(run: _Run, table: str, column: str) -> None:
    """Remove the rows of a key table (parties, names, URLs) that no lookup names any more,
    a range of ids a transaction, sized by the pace as rows are (the three tables and the
    day's blocks in one transaction held every writer up 0.6-0.8 s with 283,250 URLs)."""
    with run.engine.connect() as conn:
        low, top = conn.execute(text(f"SELECT min(id) - 1, max(id) FROM {table}")).one()
        pg = conn.dialect.name == "postgresql"
    # PostgreSQL: only the wide table's lookups have a URL (the narrow one's are NULL in
    # the view, which its planner would read row by row for each URL).
    lookups = LOOKUP_KINDS[1] if pg and column == "url" else "lookups"
    while top is not None and low < top and not run.stopping():
        high = low + run.batch

        def work(conn: Connection, low: int = low, high: int = high) -> None:
            if pg:
                # Each key looked for in each day's index of the column, stopping at the
                # first lookup found. PostgreSQL's planner would hash every lookup of every
                # day instead (a range of 5,000 parties took over 80 s on 50 million
                # events; this way 1.8 s, bench/RESULTS.md).
                conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
                conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")
                # after the batches storing lookups now (each holds it shared from finding
                # its keys to its commit): none names a key this statement would see unnamed
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({KEYS_LOCK})")
            conn.execute(
                text(
                    f"DELETE FROM {table} WHERE id > :low AND id <= :high AND NOT EXISTS "
                    f"(SELECT 1 FROM {lookups} AS l WHERE l.{column} = {table}.id)"
                ),
                {"low": low, "high": high},
            )

        run.transaction(work, high - low)
        low = high


def _drop_days(run: _Run, table: str, cut: datetime) -> str | None:
    """Drop ``table``'s day partitions wholly older than ``cut``; the name of the one the
    cut falls on ("" when none), None when stopping."""
    with run.engine.connect() as conn:
        days = [p for p in partitions(conn, table) if p.start < cut]
    for part in days:
        if part.end > cut:
            return part.name
        if run.stopping():
            return None

        def drop(conn: Connection, part: Partition = part) -> None:
            # Nothing is added to the day while it is counted and dropped.
            conn.exec_driver_sql(f"LOCK TABLE {part.name} IN SHARE MODE")
            gone = conn.exec_driver_sql(f"SELECT count(*) FROM {part.name}").scalar()
            conn.exec_driver_sql(f"DROP TABLE {part.name}")
            run.removed("events", int(gone or 0))

        run.transaction(drop)
    return ""


def _delete_older(run: _Run, table: str, place: str, at: int) -> bool:
    """Delete ``table``'s lookups older than ``at`` (microseconds), oldest first, a batch
    a transaction, each found by its ``place``; False when stopping."""
    oldest = f"SELECT {place} FROM {table} WHERE ts < :at ORDER BY ts LIMIT :n"
    chosen = f"{place} IN ({oldest})" if place == "rowid" else f"ctid = ANY(ARRAY({oldest}))"
    done: list[int] = [0, 0]

    def work(conn: Connection) -> None:
        size = run.batch
        gone = conn.execute(
            text(f"DELETE FROM {table} WHERE {chosen}"), {"at": at, "n": size}
        ).rowcount
        run.removed("events", int(gone or 0))
        done[:] = [int(gone or 0), size]

    while not run.stopping():
        run.transaction(work, run.batch)
        if done[0] < done[1]:  # the last of them
            break
    return not run.stopping()


def _held(table: str) -> TextClause:
    """Whether ``table`` holds a lookup older than ``:at``."""
    return text(f"SELECT 1 FROM {table} WHERE ts < :at LIMIT 1")


def partitions_before(engine: Engine, cut: datetime) -> list[Partition]:
    """PostgreSQL's day partitions wholly older than ``cut`` (none on SQLite)."""
    with engine.connect() as conn:
        return [p for p in partitions(conn) if p.end <= cut]


def _unmatch_day(run: _Run, part: Partition) -> None:
    """Delete the matches of a day's events that no alert holds, in paced transactions
    before its partition is detached: the detach then holds ``events`` only to drop the
    day. The day's events are walked in time order from a cursor (time, id), only those
    with a match still stored and no alert holding them, so that nothing done is read
    again; each delete repeats that no alert holds the event."""
    et, mt, ae = table_of(EventRow), table_of(MatchRow), table_of(AlertEventRow)
    matched = exists().where(mt.c.event_id == et.c.id)
    free = ~exists().where(ae.c.event_id == et.c.id)
    match_unheld = ~exists().where(ae.c.event_id == mt.c.event_id)
    after: tuple[datetime, str] | None = None
    while not run.stopping():
        query = select(et.c.id, et.c.ts).where(
            et.c.ts >= part.start, et.c.ts < part.end, matched, free
        )
        if after is not None:
            query = query.where(tuple_(et.c.ts, et.c.id) > tuple_(*after))
        with run.engine.connect() as conn:
            rows = conn.execute(query.order_by(et.c.ts, et.c.id).limit(run.batch)).all()
        if not rows:
            return
        after = (rows[-1].ts, rows[-1].id)
        batch = [r.id for r in rows]

        def work(conn: Connection, batch: list[str] = batch) -> None:
            run.removed("matches", _delete(conn, mt, mt.c.event_id.in_(batch) & match_unheld))

        run.transaction(work, len(batch))


def _drop_day(run: _Run, conn: Connection, part: Partition) -> None:
    """Remove a whole day of events at once: the partition is detached and dropped, after
    the events that alerts still hold (and their matches) are put back into a new one. The
    day's other matches are gone already (``_unmatch_day``); those linked since, if any,
    go here."""
    old = f"{part.name}_expired"
    held = f"EXISTS (SELECT 1 FROM alert_events AS a WHERE a.event_id = {old}.id)"
    conn.exec_driver_sql(f"ALTER TABLE events DETACH PARTITION {part.name}")
    conn.exec_driver_sql(f"ALTER TABLE {part.name} RENAME TO {old}")
    matches = conn.exec_driver_sql(
        f"DELETE FROM matches AS m USING {old} WHERE m.event_id = {old}.id AND NOT {held}"
    ).rowcount
    total = conn.exec_driver_sql(f"SELECT count(*) FROM {old}").scalar_one()
    kept = conn.exec_driver_sql(f"SELECT count(*) FROM {old} WHERE {held}").scalar_one()
    if kept:
        create_partition(conn, part.day)
        conn.exec_driver_sql(f"INSERT INTO events SELECT * FROM {old} WHERE {held}")
    conn.exec_driver_sql(f"DROP TABLE {old}")
    run.removed("matches", int(matches or 0))
    run.removed("events", int(total) - int(kept))


def _by_key(
    run: _Run, kind: str, table: Any, key: Any, where: ColumnElement[bool], dry: bool
) -> None:
    """Remove the rows of ``table`` matching ``where`` in batches by primary key."""
    if dry:
        run.removed(kind, run.count(select(func.count()).select_from(table).where(where)))
        return
    while not run.stopping():
        batch = run.ids(select(key).where(where).order_by(key).limit(run.batch))
        if not batch:
            return

        def work(conn: Connection, batch: list[Any] = batch) -> None:
            run.removed(kind, _delete(conn, table, key.in_(batch) & where))

        run.transaction(work, len(batch))


def _audit_cut(conn: Connection, cut: datetime) -> tuple[int, str, int] | None:
    """Where the trail will start once what is older than ``cut`` is gone: (first id kept,
    the hash before it, records removed), or None if nothing goes."""
    t = table_of(AuditRow)
    keep = conn.execute(select(func.min(t.c.id)).where(t.c.ts >= cut)).scalar()
    if keep is None:
        return None  # nothing recent to start from (a daily run always leaves its record)
    n = int(conn.execute(select(func.count()).select_from(t).where(t.c.id < keep)).scalar() or 0)
    if not n:
        return None
    anchor = conn.execute(select(t.c.prev_hash).where(t.c.id == keep)).scalar_one()
    return int(keep), str(anchor), n


def run_retention(
    engine: Engine,
    cfg: Config,
    now: datetime,
    actor: str,
    *,
    dry_run: bool = False,
    pause: float = PAUSE,
    stop: Callable[[], bool] | None = None,
    budget: float = BUDGET,
) -> RetentionResult:
    """Remove what has been kept long enough (or, with ``dry_run``, count it); audited.
    ``budget``: the seconds each deletion transaction aims to hold the write lock."""
    r = cfg.settings.retention
    cut_events = period_cutoff(r.events, now)
    cut_rejected = period_cutoff(r.rejected, now)
    cut_alerts = period_cutoff(r.alerts, now)
    cut_audit = period_cutoff(r.audit, now) if r.audit else None
    cutoffs = {
        "events": _iso(cut_events),
        "rejected": _iso(cut_rejected),
        "alerts": _iso(cut_alerts),
        "audit": _iso(cut_audit) if cut_audit else "never",
    }
    result = RetentionResult(dry_run, cutoffs)
    run = _Run(engine, result, r.batch_size, pause, stop, budget)

    gone = _alerts(run, cut_alerts, dry_run)  # first: the events of alerts removed go next
    _events(run, cut_events, dry_run, gone)
    _lookups(run, cut_events, dry_run)
    evidence = cfg.resolve(cfg.settings.agents.evidence)
    if not result.stopped:  # a picture goes only once its reports have
        result.removed["screenshots"] = sweep_screenshots(
            engine, evidence, now, cut_events, dry_run=dry_run
        )
    lt, st, rt, ot = (
        table_of(LeaseRow),
        table_of(SupplyVisitRow),
        table_of(RejectedRow),
        table_of(OutboxRow),
    )
    _by_key(run, "leases", lt, lt.c.id, lt.c.ends.is_not(None) & (lt.c.ends < cut_events), dry_run)
    first_day = cut_events.astimezone(cfg.tz).date()
    _by_key(run, "supply_visits", st, st.c.id, st.c.day < first_day, dry_run)
    _by_key(run, "rejected", rt, rt.c.id, rt.c.read_at < cut_rejected, dry_run)
    digest_mail = (
        ot.c.alert_id.is_(None) & (ot.c.status != "queued") & (ot.c.created_at < cut_alerts)
    )
    _by_key(run, "outbox", ot, ot.c.id, digest_mail, dry_run)

    if dry_run:
        if cut_audit is not None:
            with engine.connect() as conn:
                planned = _audit_cut(conn, cut_audit)
            result.removed["audit"] = planned[2] if planned else 0
        return result

    # The run's record, with the counts; it declares the audit cut before the cut is made.
    planned = None
    with engine.begin() as conn:
        if cut_audit is not None and not result.stopped:
            planned = _audit_cut(conn, cut_audit)
        detail: dict[str, Any] = result.as_json()
        if planned is not None:
            result.removed["audit"] = planned[2]
            detail["removed"] = dict(result.removed)
            detail["audit_kept_from"], detail["audit_anchor"] = planned[0], planned[1]
        del detail["dry_run"]
        if result.alerts_removed:
            detail["alerts_removed"] = result.alerts_removed
        audit(conn, actor, RETENTION_ACTION, "retention", detail, now=now)
    if planned is not None:
        t = table_of(AuditRow)
        keep = planned[0]
        first = run.count(select(func.min(t.c.id)))
        while first < keep and not run.stopping():
            upto = min(first + run.batch, keep)

            def work(conn: Connection, upto: int = upto) -> None:
                _delete(conn, t, t.c.id < upto)

            run.transaction(work, upto - first)
            first = upto
    return result


def last_run(engine: Engine) -> dict[str, Any] | None:
    """The newest retention run in the audit trail: when, by whom, and what it removed."""
    t = table_of(AuditRow)
    with engine.connect() as conn:
        row = conn.execute(
            select(t.c.ts, t.c.actor, t.c.detail)
            .where(t.c.action == RETENTION_ACTION)
            .order_by(t.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    detail = json.loads(row.detail)
    return {
        "at": _iso(utc(row.ts)),
        "by": row.actor,
        "removed": detail.get("removed", {}),
        "stopped": bool(detail.get("stopped", False)),
        "longest_transaction_ms": detail.get("longest_transaction_ms"),
    }
