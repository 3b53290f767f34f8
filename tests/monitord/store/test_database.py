from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from monitord.store.database import (
    SchemaError,
    audit,
    current_revision,
    head_revision,
    insert_ignore,
    make_engine,
    open_store,
    table_of,
    utc,
    verify_audit,
)
from monitord.store.tables import EventRow

pytestmark = pytest.mark.stores

T0 = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def test_new_store_is_created_at_head(blank_url: str, store_kind: str) -> None:
    engine = open_store(blank_url)
    assert current_revision(engine) == head_revision()
    if store_kind == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_a_database_behind_is_refused_with_the_fix(store_url: str) -> None:
    open_store(store_url).dispose()
    engine = open_store(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    with pytest.raises(SchemaError, match="run `monitord db upgrade`"):
        open_store(store_url)


def test_foreign_database_is_not_touched(blank_url: str) -> None:
    engine = make_engine(blank_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE payroll (id INTEGER)"))
    engine.dispose()
    with pytest.raises(SchemaError):
        open_store(blank_url)


def test_audit_chain_verifies_and_catches_an_edit(store_url: str) -> None:
    engine = open_store(store_url)
    with engine.begin() as conn:
        for i in range(5):
            audit(
                conn,
                "dsl",
                "alert.note",
                f"alert:{i}",
                {"text": f"note {i}"},
                now=T0 + timedelta(minutes=i),
            )
    with engine.connect() as conn:
        assert verify_audit(conn) == (5, None)
    # Someone edits a note directly in the database.
    with engine.begin() as conn:
        conn.execute(text('UPDATE audit SET detail = \'{"text": "nothing to see"}\' WHERE id = 3'))
    with engine.connect() as conn:
        assert verify_audit(conn) == (2, 3)
    engine.dispose()


def test_audit_chain_catches_a_deleted_record(store_url: str) -> None:
    engine = open_store(store_url)
    with engine.begin() as conn:
        for i in range(4):
            audit(conn, "dsl", "alert.view", f"alert:{i}", now=T0)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit WHERE id = 2"))
    with engine.connect() as conn:
        assert verify_audit(conn) == (1, 3)
    engine.dispose()


def event_row(n: int, ts: datetime, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": f"ev{n:030d}",
        "site_id": "default",
        "ts": ts,
        "source": "pihole",
        "fmt": "dnsmasq",
        "kind": "dns",
        "domain": f"host{n}.example",
        "blocked": False,
        "attribution": "unattributed",
        "severity": "none",
        "file_id": "f" * 64,
        "offset": n,
        "raw": b"line",
    }
    row.update(values)
    return row


def test_events_are_stored_once_whatever_their_day(store_url: str) -> None:
    engine = open_store(store_url)
    et = table_of(EventRow)
    rows = [event_row(i, T0 + timedelta(hours=10 * i)) for i in range(6)]
    with engine.begin() as conn:
        assert insert_ignore(conn, et, rows) == 6
    with engine.begin() as conn:
        # The same events again (a restart re-reading its last lines), one new.
        again = [*rows[3:], event_row(9, T0 - timedelta(days=40))]
        assert insert_ignore(conn, et, again) == 1
        # One at a time takes the other path.
        assert insert_ignore(conn, et, [rows[0]]) == 0
    with engine.connect() as conn:
        stored = conn.execute(select(et.c.id, et.c.ts).order_by(et.c.ts)).all()
    engine.dispose()
    assert [r.id for r in stored] == [f"ev{9:030d}"] + [r["id"] for r in rows]
    assert stored[0].ts.replace(tzinfo=UTC) == T0 - timedelta(days=40)


def test_batched_events_keep_their_instant_bytes_and_empty_fields(store_url: str) -> None:
    """The bulk paths (SQLite's driver, PostgreSQL's COPY) store what the row says: a time
    given in another zone as its instant in UTC, raw bytes that are not UTF-8, None as NULL."""
    engine = open_store(store_url)
    et = table_of(EventRow)
    summer = datetime(2026, 6, 1, 9, 30, 15, 250_000, tzinfo=timezone(timedelta(hours=1)))
    rows = [
        event_row(1, summer, raw=b"\xff\x00 tab\t\\ end", user=None, text=None, status=None),
        event_row(2, summer, raw=b"b", user="ann", text="line\nbreak \\N", status=403),
    ]
    with engine.begin() as conn:
        assert insert_ignore(conn, et, rows) == 2
    with engine.connect() as conn:
        got = conn.execute(
            select(et.c.ts, et.c.raw, et.c.user, et.c.text, et.c.status).order_by(et.c.id)
        ).all()
    engine.dispose()
    assert [utc(r.ts) for r in got] == [summer.astimezone(UTC)] * 2
    assert bytes(got[0].raw) == b"\xff\x00 tab\t\\ end"
    assert [(r.user, r.text, r.status) for r in got] == [
        (None, None, None),
        ("ann", "line\nbreak \\N", 403),
    ]


def test_columns_a_batch_leaves_out_take_their_defaults(store_url: str) -> None:
    engine = open_store(store_url)
    et = table_of(EventRow)
    rows = [event_row(n, T0 + timedelta(minutes=n)) for n in range(3)]
    for r in rows:
        for name in ("site_id", "blocked", "attribution", "severity"):
            del r[name]
    with engine.begin() as conn:
        assert insert_ignore(conn, et, rows) == 3
    with engine.connect() as conn:
        got = conn.execute(select(et.c.site_id, et.c.blocked, et.c.attribution, et.c.severity))
        assert set(got) == {("default", False, "unattributed", "none")}
    engine.dispose()


def test_sizes_and_offsets_past_two_gib_are_kept(store_url: str) -> None:
    engine = open_store(store_url)
    et = table_of(EventRow)
    big = 5 * 2**30
    with engine.begin() as conn:
        insert_ignore(conn, et, [event_row(1, T0, size=big, offset=big + 1)])
    with engine.connect() as conn:
        assert conn.execute(select(et.c.size, et.c.offset)).one() == (big, big + 1)
    engine.dispose()
