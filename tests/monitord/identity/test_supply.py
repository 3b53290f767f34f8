from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from monitord.identity.roster import ImportError_, import_people
from monitord.identity.supply import Visit, VisitBook, checkin, import_visits, visits_on
from monitord.service.app import App
from monitord.store.database import table_of
from monitord.store.tables import AuditRow

pytestmark = pytest.mark.stores

LONDON = ZoneInfo("Europe/London")
DAY = date(2026, 11, 19)


def roster(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "roster.csv"
    csv.write_text(
        "username,display_name,role,year_group,class,email\n"
        "supply1,Supply 1,supply,,,\n"
        "supply2,Supply 2,supply,,,\n"
        "helen.p,Helen Price,staff,,,\n",
        encoding="utf-8",
    )
    import_people(app.engine, csv, "office", app.clock.now())


def test_checkin_is_recorded_and_audited(app: App, tmp_path: Path) -> None:
    roster(app, tmp_path)
    v = checkin(app.engine, "Supply1", " Jane  Doe ", "4B", DAY, "office", app.clock.now())
    assert (v.login, v.name, v.class_name, v.day, v.source) == (
        "supply1",
        "Jane Doe",
        "4B",
        DAY,
        "checkin",
    )
    with app.engine.connect() as conn:
        assert visits_on(conn, DAY)["supply1"].name == "Jane Doe"
        assert visits_on(conn, DAY + timedelta(days=1)) == {}
        actions = conn.execute(select(table_of(AuditRow).c.action)).scalars().all()
    assert "supply.checkin" in actions


def test_a_later_checkin_for_the_same_day_replaces_the_first(app: App, tmp_path: Path) -> None:
    roster(app, tmp_path)
    now = app.clock.now()
    checkin(app.engine, "supply1", "Jane Doe", "4B", DAY, "office", now)
    checkin(app.engine, "supply1", "Sam Lee", "4B", DAY, "office", now + timedelta(minutes=5))
    with app.engine.connect() as conn:
        assert visits_on(conn, DAY)["supply1"].name == "Sam Lee"


@pytest.mark.parametrize(
    ("login", "name", "klass", "problem"),
    [
        ("helen.p", "Jane Doe", "4B", "'helen.p' is not a supply login on the roster"),
        ("nobody", "Jane Doe", "4B", "'nobody' is not a supply login on the roster"),
        ("supply1", " ", "4B", "name is empty"),
        ("supply1", "Jane Doe", "", "class is empty"),
    ],
)
def test_checkin_refuses_what_would_misattribute(
    app: App, tmp_path: Path, login: str, name: str, klass: str, problem: str
) -> None:
    roster(app, tmp_path)
    with pytest.raises(ImportError_) as info:
        checkin(app.engine, login, name, klass, DAY, "office", app.clock.now())
    (line,) = info.value.problems
    assert line.startswith(problem)


def test_import_records_every_visit_or_none(app: App, tmp_path: Path) -> None:
    roster(app, tmp_path)
    csv = tmp_path / "visits.csv"
    csv.write_text(
        "login,name,class,date\n"
        "Supply1,Jane Doe,4B,2026-11-19\n"
        "supply2,Sam Lee,6A,2026-11-19\n"
        "supply1,Ali Khan,3C,\n",  # no date: today (2026-11-20 by the test clock)
        encoding="utf-8",
    )
    assert import_visits(app.engine, csv, "office", app.clock.now(), LONDON) == 3
    with app.engine.connect() as conn:
        assert {k: v.name for k, v in visits_on(conn, DAY).items()} == {
            "supply1": "Jane Doe",
            "supply2": "Sam Lee",
        }
        assert visits_on(conn, date(2026, 11, 20))["supply1"].source == "import visits.csv"

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "login,name,class,date\nsupply1,Jane Doe,4B,19/11/2026\nhelen.p,X,4B,\nsupply2,Y,5A,\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportError_) as info:
        import_visits(app.engine, bad, "office", app.clock.now(), LONDON)
    assert info.value.problems == [
        f"{bad}: line 2: date '19/11/2026' is not a date (expected YYYY-MM-DD)",
        f"{bad}: line 3: 'helen.p' is not a supply login on the roster "
        "(import a roster that lists it with role supply)",
    ]
    with app.engine.connect() as conn:  # the good third line was not recorded either
        assert "supply2" not in visits_on(conn, date(2026, 11, 20))


def test_visit_book_sees_a_checkin_made_while_it_runs(app: App, tmp_path: Path) -> None:
    roster(app, tmp_path)
    book = VisitBook(app.engine, refresh=0.0)
    assert book.get("supply1", DAY) is None
    checkin(app.engine, "supply1", "Jane Doe", "4B", DAY, "office", app.clock.now())
    visit = book.get("supply1", DAY)
    assert visit is not None
    assert visit.name == "Jane Doe"
    # Within its refresh time a book answers from memory.
    slow = VisitBook(app.engine, refresh=3600.0)
    assert slow.get("supply2", DAY) is None
    checkin(app.engine, "supply2", "Sam Lee", "6A", DAY, "office", app.clock.now())
    assert slow.get("supply2", DAY) is None


def test_visit_book_without_a_store() -> None:
    book = VisitBook()
    at = datetime(2026, 11, 19, 8, 0, tzinfo=LONDON)
    v = Visit("supply1", DAY, "Jane Doe", "4B", at, "office", "checkin")
    book.add(v)
    assert book.get("supply1", DAY) == v
    assert book.get("supply1", DAY + timedelta(days=1)) is None
