from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from monitord.store.database import (
    head_revision,
    insert_ignore,
    make_engine,
    open_store,
    table_of,
    upgrade,
)
from monitord.store.partitions import (
    day_of,
    day_of_micros,
    ensure_partitions,
    is_partition_name,
    partition_of,
    partitions,
)
from monitord.store.tables import DomainNameRow, EventRow
from tests.monitord.store.test_database import event_row
from tests.pgserver import PostgresServer

T0 = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)


def test_a_day_is_the_utc_day() -> None:
    late = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    assert day_of(late) == date(2026, 6, 30)
    # 00:30 in London in summer is still the 30th in UTC.
    assert day_of(late.astimezone(ZoneInfo("Europe/London"))) == date(2026, 6, 30)
    part = partition_of(date(2026, 6, 30))
    assert part.name == "events_p20260630"
    assert part.end - part.start == timedelta(days=1)
    assert is_partition_name(part.name)
    assert not is_partition_name("events_text")
    lookups = partition_of(date(2026, 6, 30), "lookups")
    assert lookups.name == "lookups_p20260630"
    assert is_partition_name(lookups.name)
    assert not is_partition_name("lookup_parties")
    assert not is_partition_name("events_pending")
    # Each partition's bounds in its table's terms: a timestamp, or microseconds since 1970.
    assert part.bounds() == "FROM ('2026-06-30T00:00:00+00:00') TO ('2026-07-01T00:00:00+00:00')"
    first = int(lookups.start.timestamp()) * 1_000_000
    assert lookups.bounds() == f"FROM ({first}) TO ({first + 86_400_000_000})"
    assert day_of_micros(first + 86_400_000_000 - 1) == date(2026, 6, 30)
    with pytest.raises(ValueError, match="not partitioned"):
        partition_of(date(2026, 6, 30), "alerts")


@pytest.mark.stores
def test_events_land_in_their_days_partition(store_url: str, store_kind: str) -> None:
    engine = open_store(store_url)
    et = table_of(EventRow)
    rows = [event_row(i, T0 + timedelta(hours=i)) for i in range(3)]
    with engine.begin() as conn:
        insert_ignore(conn, et, rows)
        found = partitions(conn)
        if store_kind == "sqlite":
            assert found == []
            return
        placed = conn.execute(
            text("SELECT tableoid::regclass::text, id FROM events ORDER BY ts")
        ).all()
    engine.dispose()
    assert [p.day for p in found] == [date(2026, 11, 19), date(2026, 11, 20)]
    assert [name for name, _ in placed] == ["events_p20261119"] + ["events_p20261120"] * 2


def test_two_schools_meeting_a_new_day_make_it_once(postgres_server: PostgresServer) -> None:
    url = postgres_server.url(postgres_server.new_database())
    engines = [open_store(url), open_store(url)]
    et = table_of(EventRow)
    day = datetime(2027, 1, 4, 9, tzinfo=UTC)
    both = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(school: int) -> None:
        try:
            rows = [
                event_row(100 * school + i, day + timedelta(minutes=i), site_id=f"school{school}")
                for i in range(50)
            ]
            with engines[school].begin() as conn:
                both.wait(timeout=10)
                insert_ignore(conn, et, rows)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    with engines[0].connect() as conn:
        assert [p.name for p in partitions(conn)] == ["events_p20270104"]
        counts: dict[str, int] = dict(
            conn.execute(text("SELECT site_id, count(*) FROM events GROUP BY site_id")).all()
        )
    for e in engines:
        e.dispose()
    assert counts == {"school0": 50, "school1": 50}


def test_ensure_partitions_does_nothing_on_sqlite() -> None:
    engine = make_engine("sqlite://")
    with engine.connect() as conn:
        ensure_partitions(conn, [T0])
        assert partitions(conn) == []


@pytest.mark.stores
def test_upgrading_a_store_with_events_keeps_them(blank_url: str, store_kind: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0007")
    et = table_of(EventRow)
    with engine.begin() as conn:
        # Written as 0007's table stands: without the 64-bit columns' new range.
        for i in range(4):
            row = event_row(i, T0 + timedelta(days=i))
            row.pop("size", None)
            conn.execute(et.insert().values(row))
    assert upgrade(engine, "head")[1] == head_revision()
    with engine.begin() as conn:
        kept = conn.execute(select(et.c.id).order_by(et.c.ts)).scalars().all()
        # The domain names trigger is there again after the table was rebuilt.
        insert_ignore(conn, et, [event_row(7, T0, domain="new.example")])
        names = set(conn.execute(select(table_of(DomainNameRow).c.domain)).scalars())
        days = [p.day for p in partitions(conn)]
    engine.dispose()
    assert kept == [f"ev{i:030d}" for i in range(4)]
    assert "new.example" in names
    assert "host0.example" in names
    if store_kind == "postgresql":
        assert days == [date(2026, 11, 19) + timedelta(days=i) for i in range(4)]
