"""Reading and working on alerts for the console: one alert, the inbox's filtered list,
the second review by a different account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, case, func, select

from monitord.casework import cases
from monitord.casework.accounts import Account, list_accounts
from monitord.store.database import mine, table_of
from monitord.store.tables import AlertRow, PersonRow
from monitord.web.gate import Viewer, viewer_of
from monitord.web.roles import TECHNICAL, About, may_see

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "none": 4}


class BadInput(Exception):
    """A request whose fields are missing or malformed; the message names the field."""


def text_of(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{key} is a non-empty string")
    return value


def alert_or_none(engine: Engine, alert_id: int) -> dict[str, Any] | None:
    """One alert in the ``alerts list --json`` shape (not audited: the caller decides)."""
    at = table_of(AlertRow)
    with engine.connect() as conn:
        row = conn.execute(select(at).where(mine(conn, at.c.site_id), at.c.id == alert_id)).first()
    return None if row is None else cases.alert_json(row)


def seen(engine: Engine, viewer: Viewer, alert_id: int) -> bool:
    """Whether the alert exists and the account may see it."""
    alert = alert_or_none(engine, alert_id)
    return alert is not None and may_see(viewer, About.of(alert))


def second_review(engine: Engine, alert_id: int, viewer: Viewer, now: datetime) -> None:
    """The signed-in account signs the alert off as its second reviewer, under its own
    name: it must not be the first (who the alert is assigned to, or who acknowledged it),
    by its account name or as any roster person it is."""
    first = cases.first_reviewer(engine, alert_id)
    me = {viewer.username.casefold(), *(p.casefold() for p in viewer.people)}
    if first is not None and first.casefold() in me:
        raise cases.CaseError(
            f"alert {alert_id}: {viewer.username} is its first reviewer; the second review "
            "must be another account's"
        )
    cases.review(engine, alert_id, viewer.username, None, now)


def assignable(engine: Engine, alert: Mapping[str, Any]) -> list[Account]:
    """The accounts an alert can be given to: active, and allowed to see it."""
    about = About.of(alert)
    return [a for a in list_accounts(engine) if a.active and may_see(viewer_of(engine, a), about)]


def assign(engine: Engine, alert_id: int, viewer: Viewer, user: str, now: datetime) -> None:
    """Give the alert to another account (or the viewer's own) that may see it."""
    alert = alert_or_none(engine, alert_id)
    if alert is None:
        raise cases.CaseError(f"no alert {alert_id}")
    names = {a.username for a in assignable(engine, alert)}
    user = user.strip().lower()
    if user not in names:
        raise cases.CaseError(
            f"{user or 'nobody'}: not an account that can sign in and may see alert {alert_id}"
        )
    cases.assign(engine, alert_id, viewer.username, user, now)


@dataclass(frozen=True, slots=True)
class Filters:
    """The inbox's filters, each optional."""

    status: str | None = "open"
    severity: str | None = None
    category: str | None = None
    year_group: str | None = None
    person: str | None = None
    day: date | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Filters:
        def get(key: str) -> str | None:
            value = query.get(key, "").strip()
            return value or None

        status = query.get("status", "open").strip() or None
        if status is not None and status not in (*cases.STATUSES, "all"):
            raise BadInput(f"status is one of {', '.join(cases.STATUSES)} or all")
        severity = get("severity")
        if severity is not None and severity not in SEVERITY_RANK:
            raise BadInput(f"severity is one of {', '.join(SEVERITY_RANK)}")
        text = get("date")
        try:
            day = date.fromisoformat(text) if text else None
        except ValueError:
            raise BadInput("date is written YYYY-MM-DD") from None
        person = get("person")
        return cls(
            None if status == "all" else status,
            severity,
            get("category"),
            get("year_group"),
            person.lower() if person else None,
            day,
        )

    def where(self, at: Any, tz: ZoneInfo) -> list[Any]:
        """The filters as conditions on the alerts table ``at``."""
        conds: list[Any] = []
        for column, value in (
            (at.c.status, self.status),
            (at.c.severity, self.severity),
            (at.c.category, self.category),
            (at.c.year_group, self.year_group),
        ):
            if value is not None:
                conds.append(column == value)
        if self.person is not None:
            conds.append(func.lower(at.c.person) == self.person)
        if self.day is not None:
            start = datetime.combine(self.day, time(0, 0), tzinfo=tz)
            conds += [at.c.last_seen >= start, at.c.first_seen < start + timedelta(days=1)]
        return conds


# What the inbox shows of each alert (the API gives the whole of ``alerts list --json``).
INBOX_COLUMNS = (
    "id", "created_at", "last_seen", "severity", "category", "status", "person", "role",
    "year_group", "device", "ip", "indicator", "count", "blocked", "assignee",
)  # fmt: skip
PAGE = 50


@dataclass(frozen=True, slots=True)
class Inbox:
    alerts: list[dict[str, Any]]  # this page's
    total: int  # every alert the account may see that passes the filters
    page: int
    pages: int


def inbox(engine: Engine, viewer: Viewer, filters: Filters, tz: ZoneInfo, page: int = 1) -> Inbox:
    """The alerts the account may see that pass the filters, what needs a person first
    (the most severe, then the longest waiting), a page of ``PAGE`` at a time. The filters
    and the order are the store's work; the role rule is ``may_see``'s, on each."""
    at = table_of(AlertRow)
    rank = case(SEVERITY_RANK, value=at.c.severity, else_=len(SEVERITY_RANK))
    query = (
        select(*(at.c[name] for name in INBOX_COLUMNS))
        .where(mine(engine, at.c.site_id), *filters.where(at, tz))
        .order_by(rank, at.c.created_at, at.c.id)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    seen = [a for a in rows if may_see(viewer, About.of(a))]
    pages = max(1, -(-len(seen) // PAGE))
    page = min(max(page, 1), pages)
    return Inbox(seen[(page - 1) * PAGE : page * PAGE], len(seen), page, pages)


def technical(alert: Mapping[str, Any]) -> bool:
    """An alert about the network rather than a person: acknowledged in bulk."""
    return alert["category"] in TECHNICAL


def people(engine: Engine, usernames: set[str]) -> dict[str, dict[str, Any]]:
    """The roster's entries for the people the inbox names (name, role, year, class)."""
    if not usernames:
        return {}
    pt = table_of(PersonRow)
    columns = (pt.c.username, pt.c.display_name, pt.c.role, pt.c.year_group, pt.c.class_name)
    with engine.connect() as conn:
        found = conn.execute(
            select(*columns).where(mine(conn, pt.c.site_id), pt.c.username.in_(sorted(usernames)))
        )
        return {str(r.username): dict(r._mapping) for r in found}
