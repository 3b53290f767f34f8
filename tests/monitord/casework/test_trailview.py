"""Reading the audit trail on a real store of either kind, as each role may: records about
an alert or a person the reader may not see left out, the technician's technical records
only, filters by account, kind and dates, pages by record id that neither repeat nor skip."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from monitord.casework import trailview
from monitord.casework.accounts import Account, add_account, get_account, people_of
from monitord.casework.totpkey import TotpKey, key_file
from monitord.casework.trailview import TrailError, TrailFilter, read_trail, reads_trail
from monitord.core.clock import FixedClock
from monitord.settings.config import Config
from monitord.store.database import audit
from tests.alerting.test_manager import School, at, build_school
from tests.monitord.casework.conftest import FAST

pytestmark = pytest.mark.stores

# username -> (role, email): the DSL's account is the roster's "someone" by email.
ACCOUNTS = {
    "sam.dsl": ("dsl", "sam@school.example"),
    "helen.h": ("headteacher", ""),
    "tech": ("technician", ""),
    "gov": ("governor", ""),
}


@pytest.fixture
def school(config: Config, clock: FixedClock, tmp_path: Path) -> Iterator[School]:
    with build_school(config, clock, tmp_path) as s:
        s.lookups(
            ("alice.p", "pornhub.com", at(clock, 1)),
            ("helen.h", "pornhub.com", at(clock, 2)),
            ("someone", "pornhub.com", at(clock, 3)),
        )
        for name, (role, email) in ACCOUNTS.items():
            add_account(
                s.app.engine, name, role, "test", clock.now(), email=email, password="x" * 12,
                ph=FAST, key=TotpKey(key_file(config)),
            )  # fmt: skip
        yield s


def alert_of(school: School, person: str) -> int:
    [row] = school.alerts(person=person)
    return int(row["id"])


def account(engine: Engine, name: str) -> tuple[Account, frozenset[str]]:
    found = get_account(engine, name)
    assert found is not None
    return found, people_of(engine, found)


def seen(school: School, name: str, f: TrailFilter | None = None) -> list[tuple[str, str, str]]:
    who, people = account(school.app.engine, name)
    page = read_trail(school.app.engine, who, people, f or TrailFilter(), school.cfg.tz, size=500)
    return [(e.actor, e.action, e.subject) for e in page.entries]


def investigate(school: School) -> None:
    """Staff looking into people: each search and day about someone, with its reason."""
    now = school.clock.now()
    with school.app.engine.begin() as conn:
        for who, subject in (
            ("dep", "user:alice.p"),
            ("dep", "user:someone"),
            ("sam.dsl", "user:helen.h"),
            ("dep", "device:LAP-SOMEONE"),
        ):
            audit(conn, who, "search", subject, {"reason": f"concern about {subject}"}, now=now)
        audit(conn, "sam.dsl", "sar.export", "person:someone", {"reason": "request"}, now=now)
        audit(conn, "sam.dsl", "alert.view", "alert:99999", {}, now=now)


def test_the_dsl_never_reads_what_was_done_about_themselves(school: School) -> None:
    investigate(school)
    alice, helen, sam = (alert_of(school, p) for p in ("alice.p", "helen.h", "someone"))
    found = seen(school, "sam.dsl")
    subjects = {s for _, _, s in found}
    assert {f"alert:{alice}", f"alert:{helen}", "user:alice.p", "user:helen.h"} <= subjects
    # The DSL is the roster's "someone": their alert, the searches about them, their
    # laptop's searches and their subject access request are all kept from them.
    assert not subjects & {f"alert:{sam}", "user:someone", "device:LAP-SOMEONE", "person:someone"}
    assert ("sam.dsl", "account.add", "account:sam.dsl") not in found  # added by "test"
    assert ("test", "account.add", "account:sam.dsl") in found


def test_the_headteacher_never_reads_about_a_headteacher(school: School) -> None:
    investigate(school)
    alice, helen, sam = (alert_of(school, p) for p in ("alice.p", "helen.h", "someone"))
    subjects = {s for _, _, s in seen(school, "helen.h")}
    assert {f"alert:{alice}", f"alert:{sam}", "user:alice.p", "user:someone"} <= subjects
    assert not subjects & {f"alert:{helen}", "user:helen.h"}


def test_a_record_about_an_alert_no_longer_held_keeps_its_detail_back(school: School) -> None:
    investigate(school)
    who, people = account(school.app.engine, "sam.dsl")
    page = read_trail(school.app.engine, who, people, TrailFilter(), school.cfg.tz, size=500)
    [gone] = [e for e in page.entries if e.subject == "alert:99999"]
    assert gone.detail is None
    assert "withheld" in gone.note
    [search] = [e for e in page.entries if e.subject == "user:alice.p"]
    assert search.detail == {"reason": "concern about user:alice.p"}


def test_the_technician_reads_technical_records_only(school: School) -> None:
    investigate(school)
    now = school.clock.now()
    with school.app.engine.begin() as conn:
        audit(conn, "tech", "list.disable", "ut1/games", {"before": {}, "after": {}}, now=now)
    actions = {a for _, a, _ in seen(school, "tech")}
    assert "list.disable" in actions
    assert "account.add" in actions
    assert not {a for a in actions if not a.startswith(("account.", "list."))}


def test_governors_read_nothing(school: School) -> None:
    who, people = account(school.app.engine, "gov")
    assert not reads_trail(who)
    assert read_trail(school.app.engine, who, people, TrailFilter(), school.cfg.tz).entries == ()


def test_filters_by_account_kind_and_dates(school: School) -> None:
    investigate(school)
    later = school.clock.now() + timedelta(days=3)
    with school.app.engine.begin() as conn:
        audit(conn, "dep", "search", "user:alice.p", {"reason": "again"}, now=later)
    by_dep = seen(school, "sam.dsl", TrailFilter(actor="dep"))
    assert by_dep
    assert {a for a, _, _ in by_dep} == {"dep"}
    searches = seen(school, "sam.dsl", TrailFilter(kind="searches"))
    assert {a for _, a, _ in searches} == {"search"}
    day = later.astimezone(school.cfg.tz).date()
    assert seen(school, "sam.dsl", TrailFilter(since=day)) == [("dep", "search", "user:alice.p")]
    before = seen(school, "sam.dsl", TrailFilter(until=day - timedelta(days=1)))
    assert ("dep", "search", "user:alice.p") in before
    assert len(before) == len(seen(school, "sam.dsl")) - 1


def test_bad_filters_are_named() -> None:
    with pytest.raises(TrailError, match="kind: expected one of"):
        TrailFilter.parse({"kind": "everything"})
    with pytest.raises(TrailError, match="from: expected a date as YYYY-MM-DD"):
        TrailFilter.parse({"from": "last week"})
    with pytest.raises(TrailError, match="to: comes before from"):
        TrailFilter.parse({"from": "2026-11-20", "to": "2026-11-19"})
    f = TrailFilter.parse({"account": " Dep ", "kind": "lists", "from": "2026-11-01"})
    assert f.asked() == {"account": "dep", "kind": "lists", "from": "2026-11-01"}


def test_pages_neither_repeat_nor_skip(school: School, monkeypatch: pytest.MonkeyPatch) -> None:
    investigate(school)
    everything = seen(school, "helen.h")
    monkeypatch.setattr(trailview, "_BATCH", 3)
    monkeypatch.setattr(trailview, "SCAN", 7)  # many hidden records: pages go on past them
    engine = school.app.engine
    who, people = account(engine, "helen.h")
    ids: list[int] = []
    before = None
    for _ in range(200):
        page = read_trail(engine, who, people, TrailFilter(), school.cfg.tz, before, size=4)
        assert len(page.entries) <= 4
        ids += [e.id for e in page.entries]
        if page.before is None:
            break
        before = page.before
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == len(set(ids)) == len(everything)
