"""The change-control log of the filtering lists: every import, removal, disabling,
enabling and update, who made it and when, with what each list and all the lists in use held
before and after, read from the audit trail (``list.*`` records, written in the same
transaction as the change itself, so the log is as whole as the trail).

One ``lists update`` leaves a record per list it changed and one for the change as a whole;
the log shows the whole, with its lists. One ``lists import`` of a UT1 folder leaves a
record per list, all at the same moment: the log shows them as one change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from monitord.store.database import table_of
from monitord.store.tables import AuditRow

PAGE = 500  # audit records read for one page of the log
_KEYS = ("lists", "domains", "urls", "expressions")


@dataclass(frozen=True, slots=True)
class ListDelta:
    """One list in a change: what it held before and after (None: not in use)."""

    name: str
    category: str
    before: dict[str, int] | None
    after: dict[str, int] | None


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One change to the lists. ``before`` and ``after``: every list in use together, where
    the change recorded them (imports record each list's own counts only)."""

    id: int
    ts: datetime
    actor: str
    action: str  # import, remove, disable, enable, update
    lists: tuple[ListDelta, ...]
    before: dict[str, int] | None
    after: dict[str, int] | None
    notes: tuple[str, ...]
    mailed_to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListLog:
    entries: tuple[ListEntry, ...]
    before: int | None  # the next (older) page starts below this record id


def _counts(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    return {k: int(value[k]) for k in _KEYS if isinstance(value.get(k), int)}


def _imported(subject: str, d: dict[str, Any]) -> ListDelta:
    after = {k: int(d[k]) for k in _KEYS[1:] if isinstance(d.get(k), int)}
    before = {
        k: int(d[f"previous_{k}"]) for k in _KEYS[1:] if isinstance(d.get(f"previous_{k}"), int)
    }
    return ListDelta(
        subject,
        str(d.get("category", "")),
        before or None,
        after if d.get("active", True) else None,
    )


def _change(row: Any, d: dict[str, Any]) -> ListEntry:
    lists = tuple(
        ListDelta(str(x.get("name", "")), str(x.get("category", "")), _counts(x.get("before")),
                  _counts(x.get("after")))
        for x in d.get("lists", []) if isinstance(x, dict)
    )  # fmt: skip
    return ListEntry(
        int(row.id),
        row.ts,
        row.actor,
        str(row.action).removeprefix("list."),
        lists,
        _counts(d.get("before")),
        _counts(d.get("after")),
        tuple(str(n) for n in d.get("notes", [])),
        tuple(str(m) for m in d.get("mailed_to", [])),
    )


def _detail(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def list_log(engine: Engine, before: int | None = None, size: int = PAGE) -> ListLog:
    """The changes, newest first, from the audit records below ``before``."""
    t = table_of(AuditRow)
    query = select(t.c.id, t.c.ts, t.c.actor, t.c.action, t.c.subject, t.c.detail).where(
        t.c.action.startswith("list.")
    )
    if before is not None:
        query = query.where(t.c.id < before)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(t.c.id.desc()).limit(size)).all()
    entries: list[ListEntry] = []
    # Lists an update (or a removal...) already names, by (moment, account).
    covered: dict[tuple[datetime, str], set[str]] = {}
    for row in rows:
        d = _detail(row.detail)
        if row.action != "list.import":
            entry = _change(row, d)
            covered.setdefault((row.ts, row.actor), set()).update(x.name for x in entry.lists)
            entries.append(entry)
            continue
        if row.subject in covered.get((row.ts, row.actor), set()):
            continue
        delta = _imported(str(row.subject), d)
        last = entries[-1] if entries else None
        if last and last.action == "import" and (last.ts, last.actor) == (row.ts, row.actor):
            entries[-1] = ListEntry(
                last.id, last.ts, last.actor, "import", (delta, *last.lists), None, None, (), ()
            )
        else:
            entries.append(ListEntry(int(row.id), row.ts, row.actor, "import", (delta,), None,
                                     None, (), ()))  # fmt: skip
    more = int(rows[-1].id) if len(rows) == size else None
    return ListLog(tuple(entries), more)
