"""The pipeline: raw records in; events parsed, attributed, classified, judged and stored, with
the source's checkpoint in the same transaction so a crash neither loses nor doubles a line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from collectors.parsers.base import BinarySession, ParseContext, QuietLines, Session
from monitord.classify.content import NOTHING, ContentClassifier, capped
from monitord.classify.engine import Classifier
from monitord.classify.policy import Policy
from monitord.core.clock import Clock
from monitord.core.model import (
    Attribution,
    Checkpoint,
    Decision,
    Event,
    EventKind,
    Judged,
    Parsed,
    RawRecord,
    Severity,
    content_event_id,
)
from monitord.core.storable import storable
from monitord.identity.intervals import Binding, lease_interval
from monitord.identity.resolve import Identity
from monitord.service.batch import (
    AlertSink,
    BatchResult,
    Judgement,
    origin_key,
    origin_keys,
    update_in_batch,
)
from monitord.service.batchrows import (
    MAX_LINE,
    add_source_counts,
    clip,
    error_text,
    event_row,
    match_rows,
    rejected_row,
    update_stored,
)
from monitord.store.database import (
    insert_ignore,
    insert_rows,
    mine,
    store_trouble,
    stored_event_ids,
    table_of,
)
from monitord.store.lookups import is_clean, store_lookups, stored_lookups
from monitord.store.origins import Scopes
from monitord.store.tables import (
    CheckpointRow,
    EventRow,
    LeaseRow,
    MatchRow,
    RejectedRow,
)

log = logging.getLogger("monitord.service.pipeline")
# Read once: in Python 3.11 each ``EventKind.X`` and ``.value`` goes through an enum hook.
_LEASE, _LOGON, _LOGOFF = EventKind.LEASE, EventKind.LOGON, EventKind.LOGOFF


def passed_over(pending: Judgement, parsed: Parsed) -> None:
    """Count a line passed over for want of a parser under the name it gave."""
    if parsed.passed_over is not None:
        key = ("program", parsed.passed_over[:128])
        pending.counts[key] = pending.counts.get(key, 0) + 1


class Processor:
    """Turns batches of raw records into stored, judged events."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        identity: Identity,
        classifier: Classifier,
        policy: Policy,
        alerts: AlertSink | None,
        site_id: str = "default",
        content: ContentClassifier | None = None,
    ) -> None:
        self.content = content
        self.engine = engine
        self.clock = clock
        self.identity = identity
        self.classifier = classifier
        self.policy = policy
        self.alerts = alerts
        self.site_id = site_id
        # What each record's event ids are made with besides its file and offset.
        self.scopes = Scopes.load(engine, site_id)

    def judge(
        self,
        fmt: str,
        session: Session,
        records: Sequence[RawRecord],
        snapshot: bool = False,
        *,
        sifted: bool = False,
    ) -> tuple[Judgement, BatchResult]:
        """Judge a batch of records. A line the session says carries nothing (``QuietLines``)
        is counted as skipped unparsed, unless the records were ``sifted`` so as they were
        read (``collectors.files.read_batches``)."""
        records = [self.scopes.record(rec) for rec in records]
        pending = Judgement(
            [],
            [],
            {},
            {},
            [],
            [],
            source=records[0].origin.source if records else None,
            records=records,
            fmt=fmt,
        )
        position: dict[str, int] = {}
        # Events whose text is judged once the batch's records are (``_judge_texts``).
        texts: list[tuple[int, RawRecord, tuple[str, ...]]] = []
        events = skipped = 0
        now = self.clock.now()
        # Once a batch: checking a runtime protocol walks its members (100 µs a time here).
        binary = session if isinstance(session, BinarySession) else None  # packets
        quiet = session.quiet if not sifted and isinstance(session, QuietLines) else None
        tz = self.policy.tz
        for rec in records:
            if len(rec.data) > MAX_LINE:
                pending.rejected.append(
                    rejected_row(rec, fmt, f"line longer than {MAX_LINE // 1024} KiB")
                )
                continue
            if quiet is not None and quiet(rec.data):
                skipped += 1  # as parsing it would have found it (most of a resolver's log)
                continue
            # A record with no file behind it was received by a listener at ``read_at``.
            received = rec.read_at if rec.file_mtime is None else None
            ctx = ParseContext(tz, rec.file_mtime or rec.read_at, rec.origin, received)
            try:
                if binary is not None:
                    parsed = binary.parse_bytes(rec.data, ctx)
                else:
                    parsed = session.parse(rec.data.decode("utf-8", "replace").rstrip("\r\n"), ctx)
            except Exception as exc:  # a parser bug must not stop the source
                pending.rejected.append(
                    rejected_row(rec, fmt, f"parser error {type(exc).__name__}: {exc}")
                )
                continue
            if not parsed.events and not parsed.updates and parsed.rejected is None:
                skipped += 1  # a known line that carries nothing: most of a resolver's log
                passed_over(pending, parsed)
                continue
            parsed = storable(parsed, now)
            if parsed.rejected is not None:
                pending.rejected.append(rejected_row(rec, fmt, parsed.rejected))
                continue
            mark = pending.mark()
            try:
                made = self._judge_record(fmt, rec, parsed, snapshot, pending, position, texts)
            except Exception as exc:  # a record no stage can take must not stop the source
                pending.undo(mark)
                for eid in [k for k, at in position.items() if at >= mark[0]]:
                    del position[eid]
                while texts and texts[-1][0] >= mark[0]:
                    texts.pop()
                self._failed(pending, rec, exc)
                continue
            events += made
            if not made:
                skipped += 1
                passed_over(pending, parsed)
        events -= self._judge_texts(pending, texts)
        result = BatchResult(
            lines=len(records), events=events, rejected=len(pending.rejected), skipped=skipped
        )
        return pending, result

    def _failed(self, pending: Judgement, rec: RawRecord, exc: Exception) -> None:
        log.exception("%s: judging the record at %d failed", rec.origin.source, rec.origin.offset)
        pending.rejected.append(
            rejected_row(rec, pending.fmt, f"judging failed: {type(exc).__name__}: {exc}")
        )

    def _judge_texts(
        self, pending: Judgement, texts: list[tuple[int, RawRecord, tuple[str, ...]]]
    ) -> int:
        """Judge what the batch's events say (searches, typed text, titles, programs), in
        order, once their records are judged: one tight pass finds the text engine's tables
        warm (a third of the cost of judging each text between parsing and identity). An
        event whose text raises something gets its matches, decisions and row again; a
        record whose text fails to be judged is taken out of the batch as a rejected line.
        Returns how many events were taken out."""
        content = self.content
        failed: list[RawRecord] = []
        for at, rec, listed in texts:
            j = pending.judged[at]
            if failed and failed[-1] is rec:
                continue
            try:
                said = content.classify(j.event, j.attribution.person) if content else NOTHING
                if said is not NOTHING:
                    categories = (*listed, *(c for c in said.categories if c not in listed))
                    j = replace(
                        j,
                        matches=(*j.matches, *said.matches),
                        decisions=self._decide(j.event, j.attribution, categories, said.cap),
                    )
                    pending.judged[at] = j
                    pending.events[at] = event_row(j, self.site_id)
                    match_rows(pending.matches, j)
            except Exception as exc:  # a record no stage can take must not stop the source
                failed.append(rec)
                self._failed(pending, rec, exc)
        gone = {origin_key(rec.origin) for rec in failed}
        if not gone:
            return 0
        kept = pending.part(origin_keys(pending) - gone)
        taken = len(pending.judged) - len(kept.judged)
        pending.judged, pending.events, pending.matches = kept.judged, kept.events, kept.matches
        pending.leases, pending.updates, pending.updates_from = (
            kept.leases,
            kept.updates,
            kept.updates_from,
        )
        return taken

    def _judge_record(
        self,
        fmt: str,
        rec: RawRecord,
        parsed: Parsed,
        snapshot: bool,
        pending: Judgement,
        position: dict[str, int],
        texts: list[tuple[int, RawRecord, tuple[str, ...]]],
    ) -> int:
        """Attribute, classify and judge what one record made; return how many events. What
        its events say is judged after the batch's records (``_judge_texts``)."""
        events = 0
        for upd in parsed.updates:
            at = position.get(upd.event_id)
            if at is None:
                pending.updates.append(upd)
                pending.updates_from.append(rec.origin)
            else:
                update_in_batch(pending, at, upd)
        if not parsed.events:
            return 0
        origin = rec.origin
        for i, ev in enumerate(parsed.events):
            eid = content_event_id(origin.scope, ev) if snapshot else origin.event_id(i)
            # An event identity makes of its own (a lease of an unauthorised device), and
            # any it makes of that in turn.
            flagged = self._judge_event(fmt, rec, eid, ev, None, pending, position, texts)
            events += 1
            while flagged is not None:
                given_id, given, attribution = flagged
                flagged = self._judge_event(
                    fmt, rec, given_id, given, attribution, pending, position, texts
                )
                events += 1
        return events

    def _judge_event(
        self,
        fmt: str,
        rec: RawRecord,
        eid: str,
        ev: Event,
        given_attribution: Attribution | None,
        pending: Judgement,
        position: dict[str, int],
        texts: list[tuple[int, RawRecord, tuple[str, ...]]],
    ) -> tuple[str, Event, Attribution] | None:
        """Attribute, classify and judge one event (``eid``) into the batch; return the
        event identity made of it, if any, to be judged next."""
        identity = self.identity
        flagged = None
        kind = ev.kind
        if kind is _LEASE and ev.client_ip and ev.client_mac:
            starts, ends = lease_interval(ev.lease_end, identity.lease_time)
            if ev.lease_start is not None:  # the source knows when it began
                starts = ev.lease_start
            identity.add_binding(
                ev.client_ip, Binding(starts, ends, ev.client_mac, ev.hostname, eid)
            )
            pending.leases[eid] = {
                "id": eid,
                "site_id": self.site_id,
                "ip": ev.client_ip,
                "mac": clip(ev.client_mac, 32),
                "hostname": clip(ev.hostname, 256),
                "starts": starts,
                "ends": ends,
                "source": rec.origin.source,
            }
            flagged = identity.unauthorised(ev, starts, self.site_id)
        elif kind is _LOGON or kind is _LOGOFF:
            identity.add_session_event(ev, eid)
        if ev.user and ev.client_ip:
            identity.add_sighting(ev)
        attribution = given_attribution or identity.resolve(ev)
        classification = self.classifier.classify(ev)
        categories = classification.categories
        decisions = (
            self._decide(ev, attribution, categories, None) if categories or ev.category else ()
        )
        judged = Judged(
            eid, rec.origin, rec.data, ev, fmt, attribution, classification.matches, decisions
        )
        at = position[eid] = len(pending.judged)
        # What a search, typed text or program says: an event with neither a text nor a
        # URL says nothing (``ContentClassifier.classify``).
        if self.content is not None and (ev.text or ev.url):
            texts.append((at, rec, categories))
        pending.judged.append(judged)
        # An event identity made was not through ``storable``.
        pending.events.append(event_row(judged, self.site_id, given_attribution is None))
        if judged.matches:
            match_rows(pending.matches, judged)
        return flagged

    def _decide(
        self,
        ev: Event,
        attribution: Attribution,
        categories: tuple[str, ...],
        cap: Severity | None,
    ) -> tuple[Decision, ...]:
        """Policy's decisions on the event's categories and the category it names itself."""
        if ev.category is not None and ev.category not in categories:
            categories = (*categories, ev.category)
        if not categories:
            return ()
        person, device = attribution.person, attribution.device
        return tuple(capped(self.policy.decide(c, person, device, ev.ts), cap) for c in categories)

    def process(
        self,
        fmt: str,
        session: Session,
        records: Sequence[RawRecord],
        checkpoint: Checkpoint | None = None,
        *,
        snapshot: bool = False,
        counts: Sequence[tuple[str, str, int]] = (),
    ) -> BatchResult:
        """Judge and store one batch in a single transaction with its checkpoint.
        ``snapshot``: the records come from a state file; see ``Parser.snapshot``.
        ``counts``: what the collector passed over, as (kind, name, count)."""
        pending, result = self.judge(fmt, session, records, snapshot)
        for kind, name, n in counts:
            pending.counts[(kind, name)] = pending.counts.get((kind, name), 0) + n
        return self.store(pending, result, checkpoint)

    def store(
        self, pending: Judgement, result: BatchResult, checkpoint: Checkpoint | None = None
    ) -> BatchResult:
        """Store a judged batch, its alerts and its checkpoint in one transaction.

        A batch the store refuses for what one of its records holds (a value a column cannot
        take, an error in the alerts' arithmetic) is split in halves, and those that fail in
        halves again, until the records that fail are found: each is stored as a rejected
        line with the error as its reason, the rest as usual, and the checkpoint moves past
        them all, so that no record is read again and fails again after a restart. Trouble
        with the store itself (unreachable, locked, full, read-only) is raised as it is."""
        try:
            return self._commit(pending, result, checkpoint)
        except Exception as exc:
            if store_trouble(exc):
                raise
            first = exc
        keys = sorted(origin_keys(pending))
        log.warning(
            "a batch of %d record(s) failed to store (%s): looking for the record(s) at fault",
            len(keys),
            error_text(first),
        )
        refused: list[dict[str, Any]] = []
        done = self._split(pending, keys, first, refused)
        with self.engine.begin() as conn:
            insert_ignore(conn, table_of(RejectedRow), refused)
            source = checkpoint.source if checkpoint is not None else pending.source
            if pending.counts and source is not None:
                add_source_counts(conn, self.site_id, source, pending.counts, self.clock.now())
            if checkpoint is not None:
                counted = replace(result, rejected=result.rejected + len(refused))
                self._save_checkpoint(conn, checkpoint, counted, pending)
        stored, tried, opened, updated = done
        return BatchResult(
            result.lines,
            result.events,
            result.rejected + len(refused),
            result.skipped,
            stored,
            tried - stored,
            opened,
            updated,
        )

    def _split(
        self,
        pending: Judgement,
        keys: list[tuple[str, str, int]],
        error: Exception,
        refused: list[dict[str, Any]],
    ) -> tuple[int, int, int, int]:
        """Store what ``keys``' records brought, which failed with ``error`` as a whole:
        (events stored, events tried, alerts opened, alerts updated)."""
        if len(keys) == 1:
            refused.append(self._refused(pending, keys[0], error))
            return 0, 0, 0, 0
        totals = (0, 0, 0, 0)
        for half in (keys[: len(keys) // 2], keys[len(keys) // 2 :]):
            part = pending.part(set(half))
            try:
                done = self._commit(part, BatchResult())
                counts = (done.stored, len(part.events), done.alerts_opened, done.alerts_updated)
            except Exception as exc:
                if store_trouble(exc):
                    raise
                counts = self._split(part, half, exc, refused)
            totals = (
                totals[0] + counts[0],
                totals[1] + counts[1],
                totals[2] + counts[2],
                totals[3] + counts[3],
            )
        return totals

    def _refused(
        self, pending: Judgement, key: tuple[str, str, int], error: Exception
    ) -> dict[str, Any]:
        """The rejected line of a record the store refused."""
        rec = next(r for r in pending.records if origin_key(r.origin) == key)
        log.error(
            "%s: the record at %d of %s was refused by the store (%s): kept as a rejected line",
            rec.origin.source,
            rec.origin.offset,
            rec.origin.path or rec.origin.file_id,
            error_text(error),
        )
        return {
            **rejected_row(rec, pending.fmt, f"the store refused it: {error_text(error)}"),
            "site_id": self.site_id,
        }

    def commit(self, pending: Judgement, result: BatchResult) -> BatchResult:
        """Store a judged batch and its alerts in one transaction, or raise (rolled back):
        a backfill's storing process (``monitord.service.storing``) leaves the splitting of
        a refused batch to ``store``."""
        return self._commit(pending, result)

    def _commit(
        self, pending: Judgement, result: BatchResult, checkpoint: Checkpoint | None = None
    ) -> BatchResult:
        """Store a judged batch, its alerts and its checkpoint in one transaction.

        Judging (Python) and storing (mostly SQLite, which runs without the GIL) may overlap
        on two threads: batch N+1 judged while batch N is stored. Stores must happen in the
        order the batches were read."""
        et = table_of(EventRow)
        with self.engine.begin() as conn:
            # Two events of one batch share an id only if a record was read twice: keep one.
            rows = {e["id"]: e for e in pending.events}
            # Lookups with no alert, exemption or lease go to their own table, a category
            # that only labels them and an allow list's matches with them as their verdict
            # (monitord.store.lookups).
            judged = {
                j.event_id
                for j in pending.judged
                if j.decisions and any(d.weighty for d in j.decisions)
            }
            lean = [
                r
                for eid, r in rows.items()
                if eid not in judged and eid not in pending.leases and is_clean(r)
            ]
            kept = {r["id"] for r in lean}
            # Only events that bring more than their own row (matches, alerts, a lease) must
            # know whether they are new; the rest rely on the insert skipping stored ids.
            weighty = [
                eid
                for eid in rows
                if eid not in kept
                and (eid in pending.matches or eid in pending.leases or eid in judged)
            ]
            existing = stored_event_ids(conn, (rows[eid] for eid in weighty))
            # An event stored as a lookup already is not stored again in events.
            existing |= stored_lookups(conn, (r for eid, r in rows.items() if eid not in kept))
            fresh_ids = {eid for eid in weighty if eid not in existing}
            wide = [r for eid, r in rows.items() if eid not in kept and eid not in existing]
            stored = insert_ignore(conn, et, wide) + store_lookups(conn, lean, pending.matches)
            rejected = [{**r, "site_id": self.site_id} for r in pending.rejected]
            insert_ignore(conn, table_of(RejectedRow), rejected)
            match_rows = [m for eid in fresh_ids for m in pending.matches.get(eid, ())]
            insert_rows(conn, table_of(MatchRow), match_rows)
            insert_ignore(
                conn, table_of(LeaseRow), [v for k, v in pending.leases.items() if k in fresh_ids]
            )
            opened = updated = 0
            if self.alerts is not None:
                fresh = [j for j in pending.judged if j.event_id in fresh_ids]
                opened, updated = self.alerts.apply(
                    conn, list({j.event_id: j for j in fresh}.values())
                )
            for upd, origin in zip(pending.updates, pending.updates_from, strict=True):
                update_stored(conn, upd, origin)
            source = checkpoint.source if checkpoint is not None else pending.source
            if pending.counts and source is not None:
                add_source_counts(conn, self.site_id, source, pending.counts, self.clock.now())
            if checkpoint is not None:
                self._save_checkpoint(conn, checkpoint, result, pending)
        return BatchResult(
            result.lines,
            result.events,
            result.rejected,
            result.skipped,
            stored,
            len(pending.events) - stored,
            opened,
            updated,
        )

    def _save_checkpoint(
        self, conn: Connection, cp: Checkpoint, result: BatchResult, pending: Judgement
    ) -> None:
        table = table_of(CheckpointRow)
        now = self.clock.now()
        last = max((e["ts"] for e in pending.events), default=None)
        own = mine(conn, table.c.site_id, self.site_id) & (table.c.source == cp.source)
        row = conn.execute(select(table).where(own)).first()
        values: dict[str, Any] = {
            "path": cp.path,
            "file_id": cp.file_id,
            "inode": cp.inode,
            "offset": cp.offset,
            "updated_at": now,
        }
        if row is None:
            conn.execute(
                table.insert().values(
                    site_id=self.site_id,
                    source=cp.source,
                    lines=result.lines,
                    events=result.events,
                    rejected=result.rejected,
                    last_event_at=last,
                    **values,
                )
            )
            return
        if last is not None:
            values["last_event_at"] = last
        conn.execute(
            update(table)
            .where(own)
            .values(
                lines=table.c.lines + result.lines,
                events=table.c.events + result.events,
                rejected=table.c.rejected + result.rejected,
                **values,
            )
        )
