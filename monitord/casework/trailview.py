"""Reading the audit trail, as an account may see it: who did what when, filtered by
account, kind of action and dates, a page at a time, newest first.

Each school reads its own records only (``mine``: the records written for it, and those
about its alerts), in a store that several schools share.

What each role reads of it:

- the DSL, deputies and headteacher: every record, except those about an alert they may not
  see (the rule of ``may_see_alert``: one about themselves; the headteacher's for the
  headteacher) and those about a person they may not see an alert about (a search, a
  person's day, a subject access request, an exemption: the same rule, so nobody reads who
  looked into them, nor the headteacher what was looked into about a headteacher). A record
  about an alert that is no longer held is shown without its detail;
- the technician: the technical records only (accounts and sign-ins, lists, sources and
  agents, filtering checks, backups, reviews), never one about an alert or a person's
  activity;
- every other role: nothing (``reads_trail``).

Pages are by record id (``before``): a record written while someone reads does not move
what the next page holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Engine, and_, or_, select

from monitord.casework.accounts import Account, Role, may_see_alert
from monitord.store.database import mine, table_of
from monitord.store.tables import AlertRow, AuditRow, DeviceRow, PersonRow

PAGE = 50
# Records read from the store at most for one page (those hidden included).
SCAN = 5000
_BATCH = 500

# The kinds of action, as the filter offers them: exact actions, and prefixes ending in ".".
KINDS: dict[str, tuple[str, ...]] = {
    "sign-ins": (
        "account.sign_in",
        "account.sign_in_failed",
        "account.locked",
        "account.sign_out",
        "account.session_end",
        "account.enrol",
        "account.enrol_failed",
    ),
    "accounts": (
        "account.add",
        "account.role",
        "account.disable",
        "account.enable",
        "account.reset_2fa",
        "account.recovery_codes",
    ),
    "searches": ("search", "timeline", "alerts.list", "people.list", "devices.list", "audit.read"),
    "alerts": ("alert.", "mail.", "exemption.used", "silence."),
    "exports": ("alert.export", "sar.export", "store.backup", "digest."),
    "lists": ("list.",),
    "sources": ("agent.", "filtering.", "supply.", "people.", "devices.", "retention."),
    "reviews": ("review.",),
}
# What the technician reads: accounts and sign-ins, lists, sources, backups and reviews.
TECHNICAL: tuple[str, ...] = (
    "account.",
    "list.",
    "agent.",
    "filtering.",
    "devices.",
    "store.backup",
    "review.",
)
TRAIL_ROLES = frozenset({Role.DSL, Role.DEPUTY_DSL, Role.HEADTEACHER, Role.TECHNICIAN})
# Subjects that name a person: ``user:NAME`` (search, day), ``person:NAME`` (subject access).
_PERSON_PREFIXES = ("user:", "person:")
# Actions whose subject is a bare user name of the roster.
_BARE_PERSON = frozenset({"exemption.used"})


class TrailError(Exception):
    """A filter that cannot be read; the message says which and what was expected."""


def reads_trail(account: Account) -> bool:
    return account.role in TRAIL_ROLES


@dataclass(frozen=True, slots=True)
class TrailFilter:
    """What the reader asked for: an account, a kind of action, local dates (inclusive)."""

    actor: str | None = None
    kind: str | None = None
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, given: Mapping[str, str]) -> TrailFilter:
        actor = (given.get("account") or "").strip().lower() or None
        kind = (given.get("kind") or "").strip() or None
        if kind is not None and kind not in KINDS:
            raise TrailError(f"kind: expected one of {', '.join(KINDS)}, not {kind[:40]!r}")
        days = []
        for key in ("from", "to"):
            text = (given.get(key) or "").strip()
            try:
                days.append(date.fromisoformat(text) if text else None)
            except ValueError:
                raise TrailError(
                    f"{key}: expected a date as YYYY-MM-DD, not {text[:40]!r}"
                ) from None
        if days[0] and days[1] and days[1] < days[0]:
            raise TrailError("to: comes before from")
        return cls(actor, kind, days[0], days[1])

    def asked(self) -> dict[str, str]:
        """The filters given, for the audit record of the reading."""
        values = {"account": self.actor, "kind": self.kind, "from": self.since, "to": self.until}
        return {k: str(v) for k, v in values.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Entry:
    """One record as shown: ``detail`` None when it is withheld from this reader."""

    id: int
    ts: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any] | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class TrailPage:
    entries: tuple[Entry, ...]
    before: int | None  # the next (older) page starts below this record id; None: no more


def _matches(column: Any, patterns: Iterable[str]) -> ColumnElement[bool]:
    return or_(*(column.startswith(p) if p.endswith(".") else column == p for p in patterns))


def _conditions(f: TrailFilter, account: Account, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    t = table_of(AuditRow)
    where: list[ColumnElement[bool]] = []
    if account.role is Role.TECHNICIAN:
        where.append(_matches(t.c.action, TECHNICAL))
    if f.kind is not None:
        where.append(_matches(t.c.action, KINDS[f.kind]))
    if f.actor is not None:
        where.append(t.c.actor == f.actor)
    if f.since is not None:
        where.append(t.c.ts >= datetime.combine(f.since, time(), tz))
    if f.until is not None:
        where.append(t.c.ts < datetime.combine(f.until + timedelta(days=1), time(), tz))
    return where


def _person_of(action: str, subject: str) -> str | None:
    for prefix in _PERSON_PREFIXES:
        if subject.startswith(prefix):
            return subject.removeprefix(prefix).lower()
    return subject.lower() if action in _BARE_PERSON and subject else None


class _Judge:
    """Decides, for one reader, which records they see and how (reads what it needs of the
    alerts, the roster and the devices a batch of records names, once)."""

    def __init__(self, conn: Connection, account: Account, people: frozenset[str]) -> None:
        self.conn = conn
        self.account = account
        self.people = people

    def _alerts(self, ids: set[int]) -> dict[int, tuple[str | None, str | None, str]]:
        if not ids:
            return {}
        t = table_of(AlertRow)
        rows = self.conn.execute(
            select(t.c.id, t.c.person, t.c.role, t.c.category).where(
                mine(self.conn, t.c.site_id), t.c.id.in_(sorted(ids))
            )
        )
        return {int(r.id): (r.person, r.role, r.category) for r in rows}

    def _by_name(self, key: Any, value: Any, names: set[str]) -> dict[str, str | None]:
        """``value`` of this school's rows whose ``key`` is one of ``names``, by lower-case key."""
        if not names:
            return {}
        rows = self.conn.execute(
            select(key, value).where(mine(self.conn, key.table.c.site_id), key.in_(sorted(names)))
        )
        return {str(k).lower(): (str(v).lower() if v else None) for k, v in rows}

    def judge(self, rows: list[Any]) -> list[Entry]:
        alert_ids = {
            int(r.subject[6:])
            for r in rows
            if r.subject.startswith("alert:") and r.subject[6:].isdigit()
        }
        alerts = self._alerts(alert_ids)
        dt, pt = table_of(DeviceRow), table_of(PersonRow)
        names = {r.subject[7:] for r in rows if r.subject.startswith("device:")}
        devices = self._by_name(dt.c.device_id, dt.c.assigned_to, names)
        persons: dict[int, str | None] = {}
        for r in rows:
            person = _person_of(r.action, r.subject)
            if r.subject.startswith("device:"):
                person = devices.get(r.subject[7:].lower())
            persons[int(r.id)] = person
        roles = self._by_name(pt.c.username, pt.c.role, {p for p in persons.values() if p})
        shown: list[Entry] = []
        for r in rows:
            entry = self._one(r, alerts, persons[int(r.id)], roles)
            if entry is not None:
                shown.append(entry)
        return shown

    def _one(
        self,
        r: Any,
        alerts: dict[int, tuple[str | None, str | None, str]],
        person: str | None,
        roles: dict[str, str | None],
    ) -> Entry | None:
        try:
            detail = json.loads(r.detail)
        except ValueError:
            detail = {"text": str(r.detail)}
        if not isinstance(detail, dict):
            detail = {"value": detail}
        entry = Entry(int(r.id), r.ts, r.actor, r.action, r.subject, detail)
        if r.subject.startswith("alert:"):
            number = r.subject[6:]
            about = alerts.get(int(number)) if number.isdigit() else None
            if about is None:
                return Entry(
                    entry.id, entry.ts, entry.actor, entry.action, entry.subject, None,
                    "the alert is no longer held here: its detail is withheld",
                )  # fmt: skip
            return entry if may_see_alert(self.account, *about, self.people) else None
        if person is not None:
            seen = may_see_alert(self.account, person, roles.get(person), "person", self.people)
            return entry if seen else None
        return entry


def read_trail(
    engine: Engine,
    account: Account,
    people: frozenset[str],
    f: TrailFilter,
    tz: ZoneInfo,
    before: int | None = None,
    size: int = PAGE,
) -> TrailPage:
    """One page of the trail as ``account`` (who is the roster's ``people``) may see it,
    newest first, starting below record ``before``."""
    if not reads_trail(account):
        return TrailPage((), None)
    t = table_of(AuditRow)
    where = [mine(engine, t.c.site_id), *_conditions(f, account, tz)]
    shown: list[Entry] = []
    scanned = 0
    cursor = before
    with engine.connect() as conn:
        judge = _Judge(conn, account, people)
        while len(shown) <= size and scanned < SCAN:
            query = select(t.c.id, t.c.ts, t.c.actor, t.c.action, t.c.subject, t.c.detail)
            bound = [*where, t.c.id < cursor] if cursor is not None else where
            rows = conn.execute(
                query.where(and_(True, *bound)).order_by(t.c.id.desc()).limit(_BATCH)
            ).all()
            if not rows:
                return TrailPage(tuple(shown), None)
            scanned += len(rows)
            for entry in judge.judge(list(rows)):
                shown.append(entry)
                if len(shown) > size:
                    break
            cursor = int(rows[-1].id)
            if len(shown) > size:
                return TrailPage(tuple(shown[:size]), shown[size - 1].id)
    # Many records hidden from this reader: the next page goes on from the last one read.
    return TrailPage(tuple(shown[:size]), cursor)
