"""The lists' change log on a real store of either kind: every import, disabling, enabling,
removal and update, who and when, with each list's counts and all the lists' totals before
and after; a UT1 folder's import as one change, an update's lists under the update only."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from monitord.casework.listlog import ListDelta, list_log
from monitord.classify.listadmin import Change, Counts, ListChange, change_lists, record_change
from monitord.classify.lists import read_plain, record_version, store_list, write_list
from monitord.core.clock import FixedClock

pytestmark = pytest.mark.stores


def plain(folder: Path, name: str, domains: list[str]) -> Path:
    path = folder / f"{name}.txt"
    path.write_text("".join(f"{d}\n" for d in domains))
    return path


def imported(engine: Engine, folder: Path, name: str, domains: list[str], at: datetime) -> None:
    content = read_plain(plain(folder, name, domains), "domains", "gambling", name)
    store_list(engine, folder / "lists", content, "tech", at)


def test_every_change_with_its_counts(engine: Engine, clock: FixedClock, tmp_path: Path) -> None:
    now = clock.now()
    imported(engine, tmp_path, "bets", ["a.example", "b.example"], now)
    imported(engine, tmp_path, "bets", ["a.example", "b.example", "c.example"], now + timedelta(1))
    change_lists(engine, "bets", "disable", "helen.h", now + timedelta(2))
    change_lists(engine, "bets", "enable", "sam.dsl", now + timedelta(3))
    change_lists(engine, "bets", "remove", "tech", now + timedelta(4))
    log = list_log(engine)
    assert [(e.action, e.actor) for e in log.entries] == [
        ("remove", "tech"),
        ("enable", "sam.dsl"),
        ("disable", "helen.h"),
        ("import", "tech"),
        ("import", "tech"),
    ]
    remove, enable, disable, second, first = log.entries
    three = {"lists": 1, "domains": 3, "urls": 0, "expressions": 0}
    none = {"lists": 0, "domains": 0, "urls": 0, "expressions": 0}
    assert (disable.before, disable.after) == (three, none)
    assert (enable.before, enable.after) == (none, three)
    assert (remove.before, remove.after) == (three, none)
    assert disable.lists == (ListDelta("bets", "gambling", three, None),)
    assert second.lists == (
        ListDelta(
            "bets",
            "gambling",
            {"domains": 2, "urls": 0, "expressions": 0},
            {"domains": 3, "urls": 0, "expressions": 0},
        ),
    )
    assert first.lists[0].before is None
    assert (first.before, first.after) == (None, None)  # an import records its list only
    assert log.before is None


def test_a_folder_imported_at_once_is_one_change(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    for name in ("ut1/gambling", "ut1/games", "ut1/adult"):
        imported(engine, tmp_path, name.replace("/", "-"), ["x.example"], clock.now())
    [entry] = list_log(engine).entries
    assert sorted(d.name for d in entry.lists) == ["ut1-adult", "ut1-gambling", "ut1-games"]


def test_an_update_shows_its_lists_once(engine: Engine, clock: FixedClock, tmp_path: Path) -> None:
    now = clock.now()
    imported(engine, tmp_path, "bets", ["a.example"], now)
    later = now + timedelta(days=1)
    content = read_plain(plain(tmp_path, "bets2", ["a.example", "b.example"]), "domains",
                         "gambling", "bets")  # fmt: skip
    written = write_list(tmp_path / "lists", content)
    with engine.begin() as conn:
        record_version(conn, written, "tech", later)
        one, two = Counts(1, 1, 0, 0), Counts(1, 2, 0, 0)
        change = Change("update", "tech", later, (ListChange("bets", "gambling", one, two),), one,
                        two, ("ut1: 1 of 1 lists changed",))  # fmt: skip
        record_change(conn, change, "lists update", None)
    update, first = list_log(engine).entries
    assert (update.action, first.action) == ("update", "import")
    assert update.notes == ("ut1: 1 of 1 lists changed",)
    assert [d.name for d in update.lists] == ["bets"]


def test_pages_of_the_log(engine: Engine, clock: FixedClock, tmp_path: Path) -> None:
    for day in range(5):
        imported(engine, tmp_path, f"l{day}", ["a.example"], clock.now() + timedelta(days=day))
    first = list_log(engine, size=3)
    assert [e.lists[0].name for e in first.entries] == ["l4", "l3", "l2"]
    assert first.before is not None
    rest = list_log(engine, first.before, size=3)
    assert [e.lists[0].name for e in rest.entries] == ["l1", "l0"]
    assert rest.before is None
