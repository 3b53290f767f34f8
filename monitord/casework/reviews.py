"""The annual review of the school's filtering and monitoring, as the DfE filtering and
monitoring standard asks: at least once a year the senior leadership team, the DSL and IT
support look at the provision together and record who reviewed it, when, what was checked
and what was changed. monitord keeps each review (table ``filtering_reviews``) with its audit
record, and says when the next one is due.

A review names at least two reviewers, each an active account of this school; it is recorded
by a signed-in account of a role that may (``RECORD_ROLES``) and read by those and the
governors (``READ_ROLES``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from monitord.casework.accounts import Account, Role, get_account
from monitord.store.database import audit, inserted_id, mine, site_of, table_of
from monitord.store.tables import ReviewRow

RECORD_ROLES = frozenset({Role.DSL, Role.DEPUTY_DSL, Role.HEADTEACHER, Role.TECHNICIAN})
READ_ROLES = RECORD_ROLES | {Role.CHAIR, Role.GOVERNOR}
EVERY = timedelta(days=366)  # the standard: at least once a year
MAX_TEXT = 4000

# The points of the standard a review looks at (key, what was checked), in our words.
CHECKS: dict[str, str] = {
    "roles": "Who is responsible is named: the senior leader, the DSL, IT support and the "
    "governor for filtering and monitoring",
    "risks": "The pupils' risks: their ages, special needs, English as an additional "
    "language, and what comes from outside school (county lines, local concerns)",
    "blocking": "What the filtering blocks and allows, and why: harmful and inappropriate "
    "content blocked without getting in the way of teaching",
    "illegal": "Illegal content is blocked: the provider is an IWF member and blocks the "
    "police's unlawful terrorist content list",
    "coverage": "Every user and device is covered: school-owned, shared, guest and "
    "personal devices, on every network",
    "tested": "The filtering was tested (monitord check-filtering) and failures fixed",
    "monitoring": "Monitoring fits the school's safeguarding needs: what is watched, who "
    "is told and how fast, and alerts were acted on",
    "incidents": "This year's safeguarding incidents and reports: what the systems missed "
    "or raised without cause",
    "teaching": "Teaching needs (RSHE, PSHE) and the pupils' digital resilience",
    "policies": "The acceptable use, online safety and child protection policies agree "
    "with what the systems do",
    "training": "Staff know what the systems do and how to report a concern",
}


class ReviewError(Exception):
    """A review that cannot be recorded; the message names the field and what is expected."""


@dataclass(frozen=True, slots=True)
class Reviewer:
    username: str
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class NewReview:
    """A review as given (by the form or the command line), before it is checked."""

    reviewed_on: date
    reviewers: tuple[str, ...]
    checked: tuple[str, ...]
    notes: str
    changed: str
    next_review: date


@dataclass(frozen=True, slots=True)
class Review:
    id: int
    reviewed_on: date
    reviewers: tuple[Reviewer, ...]
    checked: tuple[str, ...]
    notes: str
    changed: str
    next_review: date
    recorded_by: str
    recorded_at: datetime


def may_record(account: Account) -> bool:
    return account.role in RECORD_ROLES


def may_read(account: Account) -> bool:
    return account.role in READ_ROLES


def parse_day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReviewError(f"{field}: expected a date as YYYY-MM-DD, not {text[:40]!r}") from None


def _text(value: str, field: str) -> str:
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise ReviewError(f"{field}: at most {MAX_TEXT:,} characters ({len(value):,} given)")
    return value


def _reviewers(engine: Engine, names: Iterable[str]) -> tuple[Reviewer, ...]:
    found: dict[str, Reviewer] = {}
    for given in names:
        name = given.strip().lower()
        if not name or name in found:
            continue
        account = get_account(engine, name)
        if account is None or not account.active:
            raise ReviewError(
                f"reviewers: {given[:64]!r} is not an active account (monitord users list)"
            )
        found[name] = Reviewer(account.username, account.full_name, account.role.value)
    if len(found) < 2:
        raise ReviewError("reviewers: name at least two accounts (the standard asks for the "
                          "senior leader, the DSL and IT support together)")  # fmt: skip
    return tuple(found.values())


def check_review(given: NewReview, today: date) -> NewReview:
    """What can be said of a review before the store is asked: its days, the points checked
    (in the standard's order), its texts (stripped). ``today``: the school's date now (a
    review is not recorded before it happens)."""
    if given.reviewed_on > today:
        raise ReviewError(f"date: {given.reviewed_on} is in the future")
    unknown = [c for c in given.checked if c not in CHECKS]
    if unknown:
        raise ReviewError(f"checked: {unknown[0][:40]!r} is not one of {', '.join(CHECKS)}")
    checked = tuple(c for c in CHECKS if c in given.checked)
    notes = _text(given.notes, "notes")
    if not checked and not notes:
        raise ReviewError("checked: tick what was checked, or say it in the notes")
    changed = _text(given.changed, "changed")
    if not changed:
        raise ReviewError('changed: say what was changed (or "nothing", and why)')
    if not given.reviewed_on < given.next_review <= given.reviewed_on + EVERY:
        raise ReviewError(
            f"next review: a day after the review and within a year of it (by "
            f"{given.reviewed_on + EVERY}), not {given.next_review}"
        )
    return NewReview(given.reviewed_on, given.reviewers, checked, notes, changed, given.next_review)


def record_review(engine: Engine, given: NewReview, by: Account, now: datetime, today: date) -> int:
    """Check ``given`` (``check_review``, and its reviewers) and store it with its audit
    record, as recorded by ``by``; its id."""
    if not may_record(by):
        raise ReviewError(f"a {by.role.value} account may not record a review")
    given = check_review(given, today)
    reviewers = _reviewers(engine, given.reviewers)
    people = [{"username": r.username, "name": r.name, "role": r.role} for r in reviewers]
    t = table_of(ReviewRow)
    with engine.begin() as conn:
        values = {
            "site_id": site_of(conn),
            "reviewed_on": given.reviewed_on,
            "reviewers": json.dumps(people),
            "checked": json.dumps(list(given.checked)),
            "notes": given.notes,
            "changed": given.changed,
            "next_review": given.next_review,
            "recorded_by": by.username,
            "recorded_at": now,
        }
        review_id = inserted_id(conn.execute(insert(t).values(**values)))
        kept = {k: v for k, v in values.items() if k not in ("site_id", "recorded_at")}
        detail = {
            **kept,
            "reviewers": people,
            "checked": list(given.checked),
            "site": site_of(conn),
        }
        audit(conn, by.username, "review.add", f"review:{review_id}", detail, now=now)
    return review_id


def _review(row: Any) -> Review:
    r = row._mapping
    people = json.loads(r["reviewers"])
    return Review(
        int(r["id"]),
        r["reviewed_on"],
        tuple(Reviewer(p["username"], p.get("name", ""), p.get("role", "")) for p in people),
        tuple(json.loads(r["checked"])),
        r["notes"],
        r["changed"],
        r["next_review"],
        r["recorded_by"],
        r["recorded_at"],
    )


def list_reviews(engine: Engine) -> list[Review]:
    """This school's reviews, the latest first."""
    t = table_of(ReviewRow)
    with engine.connect() as conn:
        rows = conn.execute(
            select(t).where(mine(conn, t.c.site_id)).order_by(t.c.reviewed_on.desc(), t.c.id.desc())
        )
        return [_review(r) for r in rows]


def next_due(reviews: Sequence[Review]) -> date | None:
    """When the next review is due: the latest review's own next day (None: never reviewed)."""
    return reviews[0].next_review if reviews else None
