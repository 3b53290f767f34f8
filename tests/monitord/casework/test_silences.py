"""Silences: set with who and why, listed, expired, and refused when they make no sense."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from monitord.casework.silences import (
    SilenceError,
    add_silence,
    expire_silence,
    list_silences,
    silence_for,
    silences_after,
)
from monitord.store.database import open_store, verify_audit

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_store(f"sqlite:///{tmp_path}/m.db")


def add(engine: Engine, **kw: object) -> int:
    args: dict[str, object] = {
        "person": "alice.p",
        "device": None,
        "category": None,
        "duration": timedelta(hours=2),
        "reason": "testing the filter",
        "actor": "it.tech",
        "now": NOW,
    }
    args.update(kw)
    return add_silence(engine, **args).id  # type: ignore[arg-type]


def test_a_silence_covers_its_person_and_category_until_it_ends(engine: Engine) -> None:
    first = add(engine, category="gaming")
    second = add(engine, person=None, device="LAP-7")
    with engine.connect() as conn:
        assert silence_for(conn, "alice.p", None, "gaming", NOW) == first
        assert silence_for(conn, "alice.p", None, "gambling", NOW) is None
        assert silence_for(conn, "ben.p", "LAP-7", "gambling", NOW) == second
        assert silence_for(conn, None, None, "gaming", NOW) is None
        later = NOW + timedelta(hours=2)
        assert silence_for(conn, "alice.p", None, "gaming", later) is None
    assert [s.id for s in list_silences(engine, NOW)] == [first, second]
    ended = expire_silence(engine, first, "dsl", NOW + timedelta(minutes=5))
    assert (ended.expired_by, ended.active(NOW + timedelta(minutes=6))) == ("dsl", False)
    assert [s.id for s in list_silences(engine, NOW + timedelta(minutes=6))] == [second]
    assert len(list_silences(engine, NOW + timedelta(minutes=6), every=True)) == 2
    shown = ended.as_json(NOW + timedelta(minutes=6))
    assert shown["reason"] == "testing the filter"
    assert shown["expires_at"] == "2026-11-20T12:00:00Z"
    with pytest.raises(SilenceError, match="no longer in force"):
        expire_silence(engine, first, "dsl", NOW + timedelta(minutes=7))
    with pytest.raises(SilenceError, match="no silence 99"):
        expire_silence(engine, 99, "dsl", NOW)
    with engine.connect() as conn:
        assert verify_audit(conn) == (3, None)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"person": None}, "one --person or one --device"),
        ({"device": "LAP-7"}, "one --person or one --device"),
        ({"reason": "  "}, "needs a --reason"),
        ({"duration": timedelta(0)}, "longer than zero"),
        ({"duration": timedelta(days=31)}, "at most 30 days"),
        ({"category": "memes"}, "not a category id"),
        ({"category": "child_abuse"}, "cannot be silenced"),
    ],
)
def test_silences_that_make_no_sense_are_refused(
    engine: Engine, kw: dict[str, object], message: str
) -> None:
    with pytest.raises(SilenceError, match=message):
        add(engine, **kw)
    assert list_silences(engine, NOW, every=True) == []


def test_silences_after_says_whether_any_silence_can_still_hold_a_mail(engine: Engine) -> None:
    with engine.connect() as conn:
        assert not silences_after(conn, NOW)
    first = add(engine, category="gaming")
    with engine.connect() as conn:
        assert silences_after(conn, NOW)
        # Whoever and whatever it covers, and even before it began.
        assert silences_after(conn, NOW - timedelta(days=1))
        assert not silences_after(conn, NOW + timedelta(hours=2))
    expire_silence(engine, first, "dsl", NOW + timedelta(minutes=5))
    with engine.connect() as conn:
        assert not silences_after(conn, NOW)
