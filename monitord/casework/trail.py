"""What proves the audit trail whole: anchors kept outside the store, and each alert's state.

The hash chain (``monitord.store.database``) shows that no record was changed, but not that none was
taken away from its end, nor that the chain was not recomputed after records were removed.
So monitord keeps **anchors** outside the store: the sequence number (id) and hash of the
newest audit record, appended to a file beside the store (``monitord.db.anchors``, one JSON
line each), written to the log (the journal) and printed in each weekly digest, which leaves
the server by mail. The daemon writes one every ``ANCHOR_EVERY`` records and when it stops;
each command does when it ends. ``monitord evidence verify`` checks the store against every
anchor and names what is missing.

Each audit record about an alert carries the alert's case state as it stood after the
change, so an alert whose status was changed in the store by hand, or that was removed other
than by retention, no longer matches its last record.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select

from monitord.core.private import append_private
from monitord.settings.config import Config
from monitord.store.database import (
    ALERT_STATE,
    RETENTION_ACTION,
    sqlite_file,
    table_of,
    verify_audit,
)
from monitord.store.tables import AlertRow, AuditRow

log = logging.getLogger("monitord.casework.trail")

ANCHOR_EVERY = 100  # audit records between the daemon's anchors
_TAIL = 4096  # bytes read from the end of the anchor file to find the last anchor
_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


@dataclass(frozen=True, slots=True)
class Anchor:
    """The newest audit record at a moment: its id and hash."""

    seq: int
    hash: str
    ts: datetime | None = None
    why: str = ""

    @property
    def label(self) -> str:
        when = f" of {self.ts.isoformat().replace('+00:00', 'Z')}" if self.ts else ""
        return f"the anchor{when} ({self.why})" if self.why else f"the anchor{when}"

    def line(self) -> bytes:
        ts = self.ts.isoformat().replace("+00:00", "Z") if self.ts else None
        entry = {"seq": self.seq, "hash": self.hash, "ts": ts, "why": self.why}
        return (json.dumps(entry) + "\n").encode()


def parse_anchor(text: str) -> Anchor:
    """``SEQ:HASH`` as the weekly digest prints it (``--anchor`` of ``evidence verify``)."""
    m = _ANCHOR.match(text.strip().lower())
    if m is None:
        raise ValueError(f"anchor {text[:80]!r}: expected RECORD:SHA256, as the digest prints it")
    return Anchor(int(m.group(1)), m.group(2), why="given")


def anchor_file(cfg: Config) -> Path:
    """Beside a SQLite store (``monitord.db.anchors``); beside the lists folder otherwise (the
    server's own state folder: a shared PostgreSQL store has none of its own)."""
    db = sqlite_file(cfg.database_url)
    if db is not None:
        return db.with_name(db.name + ".anchors")
    return cfg.lists_dir.parent / "audit.anchors"


def newest(conn: Connection) -> Anchor | None:
    """The newest audit record as an anchor, or None for an empty trail."""
    t = table_of(AuditRow)
    row = conn.execute(select(t.c.id, t.c.hash).order_by(t.c.id.desc()).limit(1)).first()
    return None if row is None else Anchor(int(row.id), str(row.hash))


def _entry(line: bytes) -> Anchor | None:
    try:
        value = json.loads(line)
        ts = datetime.fromisoformat(value["ts"]) if value.get("ts") else None
        return Anchor(int(value["seq"]), str(value["hash"]), ts, str(value.get("why", "")))
    except (ValueError, KeyError, TypeError):
        return None


def read_anchors(path: Path) -> tuple[list[Anchor], list[str]]:
    """Every anchor in the file, and a problem for each line that is not one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    anchors, problems = [], []
    for n, line in enumerate(data.splitlines(), start=1):
        entry = _entry(line)
        if entry is None:
            problems.append(f"{path}:{n}: not an anchor (the file was edited)")
        else:
            anchors.append(entry)
    return anchors, problems


def _last_written(path: Path) -> Anchor | None:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - _TAIL))
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        entry = _entry(line)
        if entry is not None:
            return entry
    return None


def write_anchor(engine: Engine, path: Path, why: str, now: datetime) -> Anchor | None:
    """Append the newest audit record to the anchor file and the log, unless the file's last
    anchor is that record already. Returns the anchor written, or None."""
    with engine.connect() as conn:
        latest = newest(conn)
    if latest is None:
        return None
    last = _last_written(path)
    if last is not None and (last.seq, last.hash) == (latest.seq, latest.hash):
        return None
    anchor = Anchor(latest.seq, latest.hash, now.astimezone(UTC).replace(microsecond=0), why)
    with append_private(path) as fh:
        fh.write(anchor.line())
        fh.flush()
        os.fsync(fh.fileno())
    log.info("audit anchor: record %d sha256 %s (%s)", anchor.seq, anchor.hash, why)
    return anchor


class Anchoring:
    """The daemon's anchors: one every ``every`` audit records, and one when it stops."""

    def __init__(self, engine: Engine, path: Path, every: int = ANCHOR_EVERY) -> None:
        self.engine = engine
        self.path = path
        self.every = every
        last = _last_written(path)
        self._seq = last.seq if last else 0

    def check(self, now: datetime, why: str = "every 100 records") -> Anchor | None:
        with self.engine.connect() as conn:
            latest = newest(conn)
        if latest is None or latest.seq - self._seq < self.every:
            return None
        return self.write(now, why)

    def write(self, now: datetime, why: str) -> Anchor | None:
        anchor = write_anchor(self.engine, self.path, why, now)
        if anchor is not None:
            self._seq = anchor.seq
        return anchor


def _ranges(ids: Iterable[int]) -> str:
    """1, 2, 3, 7 as "1-3, 7"."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(ids):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(out)


@dataclass(frozen=True, slots=True)
class Verdict:
    records: int
    anchors: int
    alerts: int
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def _check_anchors(conn: Connection, anchors: Sequence[Anchor], kept_from: int) -> list[str]:
    t = table_of(AuditRow)
    problems: list[str] = []
    top = conn.execute(select(func.max(t.c.id))).scalar() or 0
    seen: dict[int, Anchor] = {}
    for a in anchors:
        seen.setdefault(a.seq, a)
    wanted = sorted(s for s in seen if s >= kept_from)
    stored: dict[int, str] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        stored.update(
            (int(r.id), str(r.hash))
            for r in conn.execute(select(t.c.id, t.c.hash).where(t.c.id.in_(chunk)))
        )
    reported_end = False
    for seq in reversed(wanted):  # the newest first: it says the most
        a = seen[seq]
        if seq > top:
            if not reported_end:
                problems.append(
                    f"audit records {_ranges(range(top + 1, seq + 1))} are missing: "
                    f"{a.label} names record {seq} (sha256 {a.hash[:16]}...), and the "
                    f"newest record in the store is {top or 'none'}: records were deleted "
                    "from the end of the trail"
                )
                reported_end = True
            continue
        if seq not in stored:
            problems.append(f"audit record {seq} is missing: {a.label} names it")
        elif stored[seq] != a.hash:
            ids = set(conn.execute(select(t.c.id).where(t.c.id >= kept_from, t.c.id <= seq)))
            holes = set(range(max(kept_from, 1), seq + 1)) - {int(r.id) for r in ids}
            missing = f"; records not in the store before it: {_ranges(holes)}" if holes else ""
            problems.append(
                f"audit record {seq} is not the one {a.label} names (sha256 "
                f"{a.hash[:16]}..., the store has {stored[seq][:16]}...): records up to it "
                f"were removed or changed and the chain recomputed{missing}"
            )
            break  # every older anchor disagrees for the same reason
    return problems


def _check_alerts(conn: Connection) -> tuple[int, list[str]]:
    """Each alert against the state its last audit record holds."""
    t, at = table_of(AuditRow), table_of(AlertRow)
    last: dict[int, tuple[int, dict[str, object]]] = {}
    removed: set[int] = set()
    query = select(t.c.id, t.c.subject, t.c.action, t.c.detail).where(
        t.c.subject.startswith("alert:") | (t.c.action == RETENTION_ACTION)
    )
    for row in conn.execute(query.order_by(t.c.id)):
        try:
            detail = json.loads(row.detail)
        except ValueError:
            continue
        if not isinstance(detail, dict):
            continue
        if row.action == RETENTION_ACTION:
            removed.update(i for i in detail.get("alerts_removed", []) if isinstance(i, int))
            continue
        number = str(row.subject).removeprefix("alert:")
        state = detail.get("state")
        if number.isdigit() and isinstance(state, dict):
            last[int(number)] = (int(row.id), state)
            removed.discard(int(number))
    columns = [at.c[name] for name in ALERT_STATE]
    current = {int(r.id): dict(r._mapping) for r in conn.execute(select(at.c.id, *columns))}
    problems: list[str] = []
    for alert_id, (record, state) in sorted(last.items()):
        now = current.get(alert_id)
        if now is None:
            if alert_id not in removed:
                problems.append(
                    f"alert {alert_id} is missing from the store: it was removed by hand, "
                    f"not by retention (its last audit record is {record})"
                )
            continue
        changed = [
            f"{name} is {now[name]!r} where audit record {record} has {state.get(name)!r}"
            for name in ALERT_STATE
            if now[name] != state.get(name)
        ]
        if changed:
            problems.append(f"alert {alert_id} was changed outside monitord: " + "; ".join(changed))
    return len(current), problems


def verify_trail(conn: Connection, anchors: Sequence[Anchor]) -> Verdict:
    """The chain, the anchors and each alert's state; every problem found, in words."""
    checked, broken = verify_audit(conn)
    problems: list[str] = []
    if broken is not None:
        problems.append(
            f"audit trail broken at record {broken}: it or the record before it was changed "
            f"or removed after it was written ({checked} records before it verified)"
        )
    # Anchors older than a cut retention declared name records removed on purpose.
    t = table_of(AuditRow)
    cut = conn.execute(
        select(t.c.detail).where(t.c.action == RETENTION_ACTION).order_by(t.c.id.desc())
    ).scalars()
    kept_from = 0
    for detail in cut:
        value = json.loads(detail)
        if isinstance(value, dict) and isinstance(value.get("audit_kept_from"), int):
            kept_from = value["audit_kept_from"]
            break
    problems += _check_anchors(conn, anchors, kept_from)
    alerts, changed = _check_alerts(conn)
    problems += changed
    return Verdict(checked, len(anchors), alerts, tuple(problems))
