from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, MetaData, Table, select, text

from monitord.store.database import (
    ALL_SITES,
    GENESIS,
    MIGRATIONS,
    SQLITE_CACHE_KIB,
    SchemaError,
    audit,
    current_revision,
    for_site,
    head_revision,
    insert_ignore,
    insert_rows,
    make_engine,
    open_store,
    stored_event_ids,
    table_of,
    upgrade,
    utc,
    verify_audit,
)
from monitord.store.tables import AlertRow, AuditRow, EventRow, MatchRow

pytestmark = pytest.mark.stores

T0 = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def test_new_store_is_created_at_head(blank_url: str, store_kind: str) -> None:
    engine = open_store(blank_url)
    assert current_revision(engine) == head_revision()
    if store_kind == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_revisions_read_as_alembic_reads_them(blank_url: str) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    engine = make_engine(blank_url)
    assert current_revision(engine) is None
    upgrade(engine, "0027")
    with engine.connect() as conn:
        assert current_revision(engine) == MigrationContext.configure(conn).get_current_revision()
    assert current_revision(engine) == "0027" != head_revision()
    engine.dispose()


def test_opening_a_store_imports_neither_alembic_nor_psycopg(tmp_path: Path) -> None:
    """What the daemon imports it holds while it runs: opening a store at its revision
    needs neither the migrations' tool nor the PostgreSQL driver."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url).dispose()
    code = (
        "import sys; from monitord.store.database import open_store; "
        f"open_store({url!r}).dispose(); "
        "print(sorted(m for m in ('alembic', 'psycopg') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


def test_each_sqlite_connection_has_the_bounded_page_cache(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as one, engine.connect() as two:
        for conn in (one, two):  # a negative size is in KiB
            assert conn.execute(text("PRAGMA cache_size")).scalar() == -SQLITE_CACHE_KIB
    assert SQLITE_CACHE_KIB <= 16 * 1024
    engine.dispose()


def test_sqlite_hands_out_the_connection_returned_last(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    one, two = engine.connect(), engine.connect()
    first, last = one.connection.dbapi_connection, two.connection.dbapi_connection
    one.close()
    two.close()
    for _ in range(3):  # the writer's batches, one after another
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection is last
    assert first is not last
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


def test_each_record_names_its_school_and_its_hash_covers_it(store_url: str) -> None:
    north = open_store(store_url, site="north")
    south = for_site(north, "south")
    with north.begin() as conn:
        conn.execute(
            table_of(AlertRow)
            .insert()
            .values(id=7, site_id="south", group_key="g", created_at=T0, updated_at=T0,
                    severity="high", category="self_harm", status="open", indicator="x",
                    first_seen=T0, last_seen=T0, sources="[]", recipients="[]", rule="")
        )  # fmt: skip
    for i, engine in enumerate((north, south, north, for_site(north, ALL_SITES))):
        with engine.begin() as conn:
            audit(conn, "dsl", "search", f"user:pupil{i}", {"reason": "r"}, now=T0)
    # About an alert: the alert's school, whichever school's connection wrote it.
    with north.begin() as conn:
        audit(conn, "dsl", "alert.view", "alert:7", now=T0)
    with north.connect() as conn:
        t = table_of(AuditRow)
        got = conn.execute(select(t.c.id, t.c.site_id, t.c.version).order_by(t.c.id)).all()
        assert [tuple(r) for r in got] == [
            (1, "north", 1), (2, "south", 1), (3, "north", 1), (4, ALL_SITES, 1),
            (5, "south", 1),
        ]  # fmt: skip
        assert verify_audit(conn) == (5, None)
    # A record moved to the other school by hand no longer matches its hash.
    with north.begin() as conn:
        conn.execute(text("UPDATE audit SET site_id = 'north' WHERE id = 2"))
    with north.connect() as conn:
        assert verify_audit(conn) == (1, 2)
    north.dispose()


def _old_hash(prev: str, ts: datetime, actor: str, action: str, subject: str, detail: str) -> str:
    """A record's hash as monitord made it before records named their school."""
    body = json.dumps([prev, ts.isoformat(), actor, action, subject, detail], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _write_old_trail(engine: Engine, count: int) -> None:
    """``count`` records as the store at revision 0019 held them (no site, no version)."""
    model = table_of(AuditRow)
    old = Table(
        "audit",
        MetaData(),
        *(Column(c.name, c.type) for c in model.c if c.name not in ("site_id", "version")),
    )
    prev = GENESIS
    with engine.begin() as conn:
        for i in range(count):
            ts, detail = T0 + timedelta(minutes=i), json.dumps({"n": i})
            digest = _old_hash(prev, ts, "dsl", "account.sign_in", "account:dsl", detail)
            conn.execute(
                old.insert().values(
                    ts=ts, actor="dsl", action="account.sign_in",
                    subject="account:dsl", detail=detail, prev_hash=prev, hash=digest,
                )
            )  # fmt: skip
            prev = digest


@pytest.mark.parametrize("site", ["north", None])
def test_a_trail_from_before_sites_verifies_after_the_upgrade(
    blank_url: str, site: str | None
) -> None:
    """The records written before keep their hashes and verify in their own form; they
    are given the site of the store as the upgrade opened it (or ``default``); new records
    follow in the new form; none may go back to the old form."""
    plain = make_engine(blank_url)
    engine = plain if site is None else for_site(plain, site)
    upgrade(engine, "0019")
    _write_old_trail(engine, 3)
    assert upgrade(engine)[1] == head_revision()
    with engine.begin() as conn:
        audit(conn, "dsl", "search", "user:pupil", {"reason": "r"}, now=T0 + timedelta(hours=1))
    t = table_of(AuditRow)
    with engine.connect() as conn:
        got = conn.execute(select(t.c.site_id, t.c.version).order_by(t.c.id)).all()
        assert verify_audit(conn) == (4, None)
    assert [tuple(r) for r in got] == [(site or "default", 0)] * 3 + [(site or "default", 1)]
    # Marking the new record as of the old form (its site then outside the hash) is a break,
    # and so is an old-form record after a new one.
    for version, broken in ((0, 4), (2, 4)):
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit SET version = :v WHERE id = 4"), {"v": version})
        with engine.connect() as conn:
            assert verify_audit(conn) == (3, broken)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit SET version = 1 WHERE id = 4"))
        audit(conn, "dsl", "search", "user:pupil", {"reason": "r"}, now=T0 + timedelta(hours=2))
        conn.execute(text("UPDATE audit SET version = 0 WHERE id = 5"))
    with engine.connect() as conn:
        assert verify_audit(conn) == (4, 5)
    plain.dispose()


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


def test_stored_ids_are_found_whatever_the_batch_holds(store_url: str) -> None:
    """Which of a batch's ids are stored: asked many at once (more than one statement's
    worth on SQLite, one array on PostgreSQL, twice in one transaction so that a prepared
    plan would be used), across a day's boundary."""
    engine = open_store(store_url)
    et = table_of(EventRow)
    stored = [event_row(i, T0 + timedelta(hours=i)) for i in range(0, 1200, 2)]
    with engine.begin() as conn:
        insert_ignore(conn, et, stored)
    asked = [event_row(i, T0 + timedelta(hours=i)) for i in range(1200)]
    with engine.connect() as conn:
        for _ in range(7):
            assert stored_event_ids(conn, asked) == {r["id"] for r in stored}
        assert stored_event_ids(conn, asked[1::2]) == set()
        assert stored_event_ids(conn, []) == set()
    engine.dispose()


def test_rows_that_cannot_conflict_are_inserted_in_one_go(store_url: str) -> None:
    engine = open_store(store_url)
    mt = table_of(MatchRow)
    rows = [
        {
            "event_id": f"ev{n:030d}",
            "category": "video_streaming",
            "list_name": "allow",
            "entry": "tab\t\n",
            "score": n,
            "allow": n % 2 == 0,
        }
        for n in range(5)
    ]
    with engine.begin() as conn:
        insert_rows(conn, mt, rows)
        insert_rows(conn, mt, [])
    with engine.connect() as conn:
        got = conn.execute(select(mt).order_by(mt.c.id)).all()
    engine.dispose()
    assert [r.id for r in got] == [1, 2, 3, 4, 5]
    assert [(r.event_id, r.entry, r.score, r.allow) for r in got] == [
        (r["event_id"], r["entry"], r["score"], r["allow"]) for r in rows
    ]


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


def test_postgresql_plans_each_statement_for_its_values(postgres_server: Any) -> None:
    """A statement read many times on one connection (a person's day on the console's
    pooled connections) is planned each time for its values, not by a generic plan, and is
    not compiled to machine code (a search stopped at its limit is costed as if it read all)."""
    name = postgres_server.new_database()
    engine = open_store(postgres_server.url(name))
    try:
        with engine.connect() as conn:
            day = text("SELECT count(*) FROM events WHERE username = :u AND ts >= :a AND ts < :b")
            start = datetime(2026, 11, 19, tzinfo=UTC)
            for _ in range(12):  # prepared from the fifth run on
                conn.execute(day, {"u": "pupil44", "a": start, "b": start + timedelta(days=1)})
            mode = conn.exec_driver_sql("SHOW plan_cache_mode").scalar()
            zone = conn.exec_driver_sql("SHOW timezone").scalar()
            jit = conn.exec_driver_sql("SHOW jit").scalar()
    finally:
        engine.dispose()
        postgres_server.drop_database(name)
    assert (mode, zone, jit) == ("force_custom_plan", "UTC", "off")
