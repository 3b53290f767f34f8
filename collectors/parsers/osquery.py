"""osqueryd's results log (``osqueryd.results.log``): one JSON object a line.

Three shapes: an event (``{"action": "added"|"removed", "columns": {...}}``), a snapshot
(``{"action": "snapshot", "snapshot": [{...}, ...]}``) and batched differentials
(``{"diffResults": {"added": [...], "removed": [...]}}``). Queries are named by the school,
so a row is recognised by its columns, not by the query's name:

- ``logged_in_users`` rows (``user``, ``tty``, ``type``...): a user row added is a LOGON on
  that host, removed is a LOGOFF; they feed the identity layer's sessions.
- ``processes`` rows (``pid``, ``name``, ``path``...): a PROCESS event with the program's
  name, which classification checks against the filter-bypass list (Tor, Psiphon...).
- Rows of other queries carry no event.

osquery's first run of a differential query reports every existing row as ``added``
(``counter`` 0): that is the state of the machine, not new activity, so those processes are
skipped; the users logged in then are still sessions, reported with action ``baseline``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from collectors.parsers.base import LineParser, ParseContext
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

_USER_COLUMNS = frozenset({"user", "tty", "type"})
_PROCESS_COLUMNS = frozenset({"pid", "name"})
MAX_ROWS = 5000


def _str(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _time(record: Mapping[str, object], ctx: ParseContext) -> datetime | None:
    raw = record.get("unixTime")
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, int | float):
        try:
            return datetime.fromtimestamp(raw, UTC)
        except (ValueError, OverflowError, OSError):
            return None
    return None


def _row_event(
    row: Mapping[str, object], added: bool, baseline: bool, host: str | None, ts: datetime
) -> Event | None:
    keys = set(row)
    if keys >= _USER_COLUMNS:
        if str(row.get("type", "")) != "user":
            return None  # login records of other kinds (dead processes, boot time...)
        user = _str(row.get("user"))
        if user is None:
            return None
        return Event(
            kind=EventKind.LOGON if added else EventKind.LOGOFF,
            ts=ts,
            user=user.lower(),
            hostname=host,
            client_ip=_str(row.get("host"))
            if _str(row.get("host")) not in ("", "localhost")
            else None,
            action="baseline" if baseline else None,
        )
    if keys >= _PROCESS_COLUMNS:
        if not added or baseline:
            return None
        name = _str(row.get("name"))
        if name is None:
            return None
        path = _str(row.get("path"))
        return Event(
            kind=EventKind.PROCESS,
            ts=ts,
            hostname=host,
            text=name,
            url=path,
            action=_str(row.get("cmdline")),
        )
    return None


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    try:
        record = json.loads(line)
    except ValueError as exc:
        return reject(f"not a JSON object (osquery results log): {exc}")
    if not isinstance(record, dict):
        return reject("not a JSON object (osquery results log)")
    if "name" not in record or not (
        "columns" in record or "snapshot" in record or "diffResults" in record
    ):
        return reject("expected an osquery result with name and columns, snapshot or diffResults")
    ts = _time(record, ctx)
    if ts is None:
        return reject(f"unixTime {str(record.get('unixTime'))[:30]!r} is not a Unix time")
    host = _str(record.get("hostIdentifier"))
    host = host.lower() if host else None
    baseline = str(record.get("counter", "")) == "0"
    rows: list[tuple[Mapping[str, object], bool]] = []
    columns = record.get("columns")
    if isinstance(columns, dict):
        rows.append((columns, record.get("action") != "removed"))
    snapshot = record.get("snapshot")
    if isinstance(snapshot, list):
        # A snapshot is the whole state each time: its rows are what is there now.
        rows += [(r, True) for r in snapshot[:MAX_ROWS] if isinstance(r, dict)]
    diff = record.get("diffResults")
    if isinstance(diff, dict):
        for key, added in (("added", True), ("removed", False)):
            part = diff.get(key)
            if isinstance(part, list):
                rows += [(r, added) for r in part[:MAX_ROWS] if isinstance(r, dict)]
    events = []
    for row, added in rows:
        ev = _row_event(row, added, baseline and added and snapshot is None, host, ts)
        if ev is not None:
            events.append(ev)
    return Parsed(events=tuple(events)) if events else SKIP


PARSER = LineParser("osquery", parse_line)
