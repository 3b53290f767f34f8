"""The annual filtering and monitoring review on a real store of either kind: recorded by a
role that may, with at least two active accounts as reviewers, what was checked and changed,
the next review within a year; in the audit trail; every bad field named."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from monitord.casework.accounts import Account, add_account, get_account, set_disabled
from monitord.casework.reviews import (
    NewReview,
    ReviewError,
    list_reviews,
    may_read,
    next_due,
    parse_day,
    record_review,
)
from monitord.casework.totpkey import TotpKey
from monitord.core.clock import FixedClock
from tests.monitord.casework.conftest import FAST
from tests.stores import rows

pytestmark = pytest.mark.stores

TODAY = date(2026, 11, 20)


@pytest.fixture
def staff(engine: Engine, clock: FixedClock, key: TotpKey) -> dict[str, Account]:
    made = {}
    for name, role, full in (
        ("helen.h", "headteacher", "Helen Head"),
        ("sam.dsl", "dsl", "Sam Someone"),
        ("tech", "technician", "Tariq Tech"),
        ("gov", "governor", "Gina Governor"),
        ("chair", "chair", "Colin Chair"),
    ):
        add_account(engine, name, role, "test", clock.now(), full_name=full, password="x" * 12,
                    ph=FAST, key=key)  # fmt: skip
        found = get_account(engine, name)
        assert found is not None
        made[name] = found
    return made


def review(**changes: object) -> NewReview:
    values: dict[str, object] = {
        "reviewed_on": TODAY,
        "reviewers": ("helen.h", "SAM.DSL", "tech"),
        "checked": ("tested", "roles", "blocking"),
        "notes": "Looked at the year's check-filtering reports.",
        "changed": "Blocked two proxy sites the check found open.",
        "next_review": date(2027, 11, 1),
    }
    values.update(changes)
    return NewReview(**values)  # type: ignore[arg-type]


def test_a_review_is_kept_and_audited(
    engine: Engine, clock: FixedClock, staff: dict[str, Account]
) -> None:
    assert next_due(list_reviews(engine)) is None
    review_id = record_review(engine, review(), staff["tech"], clock.now(), TODAY)
    [r] = list_reviews(engine)
    assert r.id == review_id
    assert [(p.username, p.name, p.role) for p in r.reviewers] == [
        ("helen.h", "Helen Head", "headteacher"),
        ("sam.dsl", "Sam Someone", "dsl"),
        ("tech", "Tariq Tech", "technician"),
    ]
    assert r.checked == ("roles", "blocking", "tested")  # in the standard's order
    assert (r.reviewed_on, r.next_review, r.recorded_by) == (TODAY, date(2027, 11, 1), "tech")
    assert next_due([r]) == date(2027, 11, 1)
    [record] = rows(
        engine, "SELECT actor, action, subject, detail FROM audit WHERE action = 'review.add'"
    )
    assert (record[0], record[2]) == ("tech", f"review:{review_id}")
    detail = json.loads(record[3])
    assert detail["changed"] == "Blocked two proxy sites the check found open."
    assert [p["username"] for p in detail["reviewers"]] == ["helen.h", "sam.dsl", "tech"]


def test_the_latest_review_says_when_the_next_is_due(
    engine: Engine, clock: FixedClock, staff: dict[str, Account]
) -> None:
    record_review(engine, review(reviewed_on=TODAY - timedelta(days=400),
                                 next_review=TODAY - timedelta(days=40)), staff["sam.dsl"],
                  clock.now(), TODAY)  # fmt: skip
    record_review(engine, review(), staff["helen.h"], clock.now(), TODAY)
    reviews = list_reviews(engine)
    assert [r.reviewed_on for r in reviews] == [TODAY, TODAY - timedelta(days=400)]
    assert next_due(reviews) == date(2027, 11, 1)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"reviewers": ("helen.h",)}, "reviewers: name at least two accounts"),
        ({"reviewers": ("helen.h", "Helen.H ")}, "reviewers: name at least two accounts"),
        ({"reviewers": ("helen.h", "nobody")}, "reviewers: 'nobody' is not an active account"),
        ({"reviewers": ("helen.h", "tech", "gone")}, "reviewers: 'gone' is not an active account"),
        ({"reviewed_on": TODAY + timedelta(days=1)}, "date: 2026-11-21 is in the future"),
        ({"checked": ("roles", "vibes")}, "checked: 'vibes' is not one of roles, "),
        ({"checked": (), "notes": " "}, "checked: tick what was checked"),
        ({"changed": "  "}, "changed: say what was changed"),
        ({"next_review": TODAY}, "next review: a day after the review and within a year"),
        ({"next_review": date(2027, 11, 30)}, "within a year of it (by 2027-11-21)"),
        ({"notes": "x" * 4001}, "notes: at most 4,000 characters"),
    ],
)
def test_every_bad_field_is_named(
    engine: Engine,
    clock: FixedClock,
    staff: dict[str, Account],
    key: TotpKey,
    changes: dict[str, object],
    why: str,
) -> None:
    add_account(engine, "gone", "technician", "test", clock.now(), password="x" * 12, ph=FAST,
                key=key)  # fmt: skip
    set_disabled(engine, "gone", "test", clock.now(), disabled=True)
    with pytest.raises(ReviewError, match=why.replace("(", r"\(").replace(")", r"\)")):
        record_review(engine, review(**changes), staff["tech"], clock.now(), TODAY)
    assert list_reviews(engine) == []


def test_who_records_and_who_reads(
    engine: Engine, clock: FixedClock, staff: dict[str, Account]
) -> None:
    for name in ("gov", "chair"):
        with pytest.raises(ReviewError, match=f"a {staff[name].role.value} account may not"):
            record_review(engine, review(), staff[name], clock.now(), TODAY)
        assert may_read(staff[name])
    assert list_reviews(engine) == []


def test_a_date_is_read_or_named() -> None:
    assert parse_day(" 2026-11-20 ", "date") == TODAY
    with pytest.raises(ReviewError, match="next review: expected a date as YYYY-MM-DD"):
        parse_day("next year", "next review")
