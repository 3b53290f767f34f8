"""Changing which lists the filtering uses: ``lists remove``, ``disable`` and ``enable``, and
the change-control record every change to the lists leaves.

A list's state is read from its latest version row: active (the row is active), disabled (the
latest row is inactive and its stored file is still there), or removed (the latest row is a
marker with no file, written by ``remove``). Disabling keeps the list to enable again;
removing deletes its stored files, and only a new ``lists import`` brings it back.

Each change is made in one transaction with its audit record and, through the ``mail``
callback, the change-control mail to the headteacher: the totals of every active list before
and after, and each list changed. The seed policies ask that a second person sees every change
to the filtering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from monitord.classify.lists import ListError
from monitord.store.database import audit, table_of
from monitord.store.tables import ListVersionRow

ACTIVE = "active"
DISABLED = "disabled"
REMOVED = "removed"
# What each command does: the states it acts on, and the state it leaves.
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "remove": ((ACTIVE, DISABLED), REMOVED),
    "disable": ((ACTIVE,), DISABLED),
    "enable": ((DISABLED,), ACTIVE),
}


@dataclass(frozen=True, slots=True)
class Counts:
    """What one list, or every active list together, holds."""

    lists: int = 0
    domains: int = 0
    urls: int = 0
    expressions: int = 0  # UT1 expressions and phrase rules

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.lists + other.lists,
            self.domains + other.domains,
            self.urls + other.urls,
            self.expressions + other.expressions,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "lists": self.lists,
            "domains": self.domains,
            "urls": self.urls,
            "expressions": self.expressions,
        }


@dataclass(frozen=True, slots=True)
class ListState:
    """A list by name, as its latest version row has it."""

    name: str
    category: str
    fmt: str
    version_id: int
    state: str
    counts: Counts
    path: str
    sha256: str
    changed_at: datetime
    changed_by: str


@dataclass(frozen=True, slots=True)
class ListChange:
    """One list in a change: what it held before and after (None: not in use)."""

    name: str
    category: str
    before: Counts | None
    after: Counts | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Change:
    """A change to the filtering, as the audit trail and the headteacher's mail tell it."""

    action: str  # remove, disable, enable, update, import
    actor: str
    at: datetime
    lists: tuple[ListChange, ...]
    before: Counts
    after: Counts
    notes: tuple[str, ...] = ()

    def detail(self) -> dict[str, Any]:
        """The audit record's detail."""
        return {
            "lists": [
                {
                    "name": c.name,
                    "category": c.category,
                    "before": c.before.as_dict() if c.before else None,
                    "after": c.after.as_dict() if c.after else None,
                }
                for c in self.lists
            ],
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
            "notes": list(self.notes),
        }


# Called inside the change's transaction to queue its mail; returns the addresses mailed.
Mailer = Callable[[Connection, Change], list[str]]


def _one(row: Any) -> Counts:
    return Counts(1, row.domains, row.urls, row.expressions)


def active_totals(conn: Connection) -> Counts:
    """Every active list together."""
    t = table_of(ListVersionRow)
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(t.c.domains), 0),
            func.coalesce(func.sum(t.c.urls), 0),
            func.coalesce(func.sum(t.c.expressions), 0),
        ).where(t.c.active.is_(True))
    ).one()
    return Counts(*(int(v) for v in row))


def list_states(conn: Connection) -> list[ListState]:
    """Every list by name, from its latest version, in name order."""
    t = table_of(ListVersionRow)
    latest = select(func.max(t.c.id)).group_by(t.c.name).scalar_subquery()
    out: list[ListState] = []
    for r in conn.execute(select(t).where(t.c.id.in_(latest)).order_by(t.c.name)):
        if r.active:
            state = ACTIVE
        elif r.path and Path(r.path).is_file():
            state = DISABLED
        else:
            state = REMOVED
        out.append(
            ListState(
                r.name,
                r.category,
                r.fmt,
                r.id,
                state,
                _one(r),
                r.path,
                r.sha256,
                r.imported_at,
                r.imported_by,
            )
        )
    return out


def select_lists(states: Iterable[ListState], name: str) -> list[ListState]:
    """The lists ``name`` means: the list of that name, or every list under it (``ut1``
    means ``ut1/adult``, ``ut1/gambling`` ...)."""
    name = name.strip().rstrip("/")
    return [s for s in states if s.name == name or s.name.startswith(name + "/")]


def change_lists(
    engine: Engine,
    name: str,
    action: str,
    actor: str,
    now: datetime,
    mail: Mailer | None = None,
) -> tuple[Change, list[str]]:
    """``lists remove|disable|enable NAME``: change the lists ``name`` means, audit it and
    queue its mail in one transaction; return the change and who it was mailed to. Raises
    ListError when no list is named so, or none of them can take the change."""
    if action not in ACTIONS:
        raise ValueError(f"unknown list action {action!r}")
    acts_on, leaves = ACTIONS[action]
    t = table_of(ListVersionRow)
    remove_files: list[str] = []
    with engine.begin() as conn:
        named = select_lists(list_states(conn), name)
        if not named:
            raise ListError(f"no list named {name!r} (monitord lists show lists them)")
        chosen = [s for s in named if s.state in acts_on]
        if not chosen:
            states = sorted({s.state for s in named})
            raise ListError(f"{name}: nothing to {action}: the list is {' and '.join(states)}")
        if leaves == ACTIVE:
            gone = [s.name for s in chosen if not Path(s.path).is_file()]
            if gone:
                raise ListError(f"{gone[0]}: its stored file has gone; import the list again")
        before = active_totals(conn)
        for s in chosen:
            if action == "disable":
                conn.execute(update(t).where(t.c.id == s.version_id).values(active=False))
            elif action == "enable":
                conn.execute(update(t).where(t.c.id == s.version_id).values(active=True))
            else:
                remove_files += [
                    p
                    for p in conn.execute(select(t.c.path).where(t.c.name == s.name)).scalars()
                    if p
                ]
                conn.execute(update(t).where(t.c.name == s.name).values(active=False))
                conn.execute(
                    t.insert().values(
                        name=s.name,
                        category=s.category,
                        fmt=s.fmt,
                        source=f"removed by {actor}",
                        sha256="",
                        domains=0,
                        urls=0,
                        expressions=0,
                        path="",
                        imported_at=now,
                        imported_by=actor,
                        active=False,
                    )
                )
        after = active_totals(conn)
        notes = tuple(
            f"{s.name}: already {s.state}, left as it is" for s in named if s not in chosen
        )
        change = Change(
            action,
            actor,
            now,
            tuple(
                ListChange(
                    s.name,
                    s.category,
                    s.counts if s.state == ACTIVE else None,
                    s.counts if leaves == ACTIVE else None,
                )
                for s in chosen
            ),
            before,
            after,
            notes,
        )
        mailed = record_change(conn, change, name, mail)
    for p in remove_files:
        Path(p).unlink(missing_ok=True)  # a running daemon keeps its mapping of the index
    return change, mailed


def record_change(conn: Connection, change: Change, subject: str, mail: Mailer | None) -> list[str]:
    """The audit record of ``change`` and its mail, in the caller's transaction."""
    mailed = mail(conn, change) if mail is not None else []
    detail = change.detail()
    detail["mailed_to"] = mailed
    audit(conn, change.actor, f"list.{change.action}", subject, detail, now=change.at)
    return mailed
