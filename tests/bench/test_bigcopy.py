"""bench/bigcopy.py: a small built store's day copied onto the days after it, on both
stores: every copy's events found by search as the seed's are, a day later each time, with
ids of their own and raw lines that carry their own day."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.casework.query import Query, parse_domain
from monitord.casework.search import run_query
from monitord.store.database import open_store
from monitord.store.lookups import lookup_events, micros
from monitord.store.partitions import partitions
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from bigcopy import replicate, syslog_day
from search import FIRST_DAY, build

SEED = 3_000
START = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)


def _day(n: int) -> tuple[datetime, datetime]:
    return START + timedelta(days=n), START + timedelta(days=n + 1)


def _seen(result_events: list, shift: int) -> Counter[tuple]:
    return Counter(
        (e.ts - timedelta(days=shift), e.domain, e.url, e.text, e.kind, e.category)
        for e in result_events
    )


@pytest.mark.stores
def test_a_seed_day_copied_onto_the_days_after_it(store_url: str, tmp_path: Path) -> None:
    build(tmp_path / "built", store_url, SEED, 1, 30)
    engine = open_store(store_url)
    # Monday seeds Tuesday to Friday; the weekend (no weekend seed) stays empty.
    assert replicate(engine, 4 * SEED) == 4 * SEED
    assert replicate(engine, 5 * SEED) == 5 * SEED  # a second run goes on from the last day
    with engine.connect() as conn:
        ids = conn.exec_driver_sql("SELECT count(DISTINCT id), count(*) FROM events").one()
        assert ids[0] == ids[1]
        ids = conn.exec_driver_sql("SELECT count(DISTINCT id), count(*) FROM lookups").one()
        assert ids[0] == ids[1]
        user = conn.exec_driver_sql(
            "SELECT username FROM events WHERE username IS NOT NULL "
            "GROUP BY username ORDER BY count(*) DESC LIMIT 1"
        ).scalar_one()
        seed = run_query(conn, Query(user=user, since=_day(0)[0], until=_day(0)[1], limit=10**6))
        assert seed.hits > 10
        for n in (1, 4):  # Tuesday and Friday, the first and last copy
            copy = run_query(
                conn, Query(user=user, since=_day(n)[0], until=_day(n)[1], limit=10**6)
            )
            assert _seen(copy.events, n) == _seen(seed.events, 0)
            assert not {e.id for e in copy.events} & {e.id for e in seed.events}
        for n in (5, 6):  # the weekend
            assert run_query(conn, Query(since=_day(n)[0], until=_day(n)[1])).hits == 0
        whole = {"since": START, "until": _day(7)[0], "limit": 10**6}
        for q in (
            Query(domain=parse_domain("*.tiktok.com"), **whole),
            Query(text="minecraft", **whole),
        ):
            hits = run_query(conn, q).hits
            one = run_query(conn, replace(q, until=_day(1)[0])).hits
            assert hits == 5 * one > 0
        # Each copied lookup's raw line, read from its block, is of its own day and name.
        lo, hi = (micros(t) for t in _day(4))
        rows = lookup_events(conn, "l.ts >= :lo AND l.ts < :hi", {"lo": lo, "hi": hi})
        assert rows
        for r in rows:
            line = r["raw"].decode()
            if r["fmt"] == "squid":  # a proxy request kept as a lookup
                assert line.startswith(f"{int(r['ts'].timestamp())}."), line
                assert r["url"] in line
            else:
                assert line.startswith(syslog_day(r["ts"].date())), line
                assert f" {r['domain']} " in line
            assert r["attribution"].count(str(_day(4)[0].date())) >= 1
        # And each copied event's, from its row.
        raws = conn.exec_driver_sql(
            "SELECT fmt, ts, raw FROM events WHERE ts >= '2026-11-06' AND ts < '2026-11-07'"
        ).all()
        assert {r[0] for r in raws} >= {"squid", "agent"}
        for fmt, ts, raw in raws:
            when = ts if isinstance(ts, datetime) else datetime.fromisoformat(ts)
            line = bytes(raw).decode()
            if fmt == "squid":
                assert line.startswith(f"{int(when.timestamp())}."), line
            elif fmt == "agent":
                assert f'"{when:%Y-%m-%dT%H:%M:%S}' in line, line
            elif fmt == "dnsmasq":
                assert line.startswith(syslog_day(when.date())), line
    # A last day in part makes up a number that whole days do not, to the second.
    total = replicate(engine, 5 * SEED + SEED // 3)
    assert 5 * SEED + SEED // 3 <= total < 5 * SEED + SEED // 3 + 20
    with engine.connect() as conn:
        last = run_query(conn, Query(since=_day(7)[0], until=_day(8)[0], limit=10**6))
        assert max(e.ts for e in last.events) < _day(7)[0] + timedelta(hours=12)
        if conn.dialect.name == "postgresql":
            assert [p.day for p in partitions(conn)] == [
                (START + timedelta(days=n)).date() for n in (0, 1, 2, 3, 4, 7)
            ]
    engine.dispose()
