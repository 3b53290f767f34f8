from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, text

from monitord.store.bulkrows import sqlite_bulk, sqlite_value
from monitord.store.database import open_store, table_of
from monitord.store.tables import EventRow

T0 = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
_ZONES = (UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30)))


def _as_before(path: Path, table: Table, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Every row inserted with every one of its columns, each value as it is but for the
    model's datetime columns (written by SQLAlchemy's rule): what the store held before
    columns left NULL were left out of the statement and times written once each."""
    columns = list(rows[0])
    times = [
        c
        for c in columns
        if isinstance(table.c[c].type.python_type, type)
        and issubclass(table.c[c].type.python_type, datetime)
    ]
    db = sqlite3.connect(path)
    quoted = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(columns))
    db.executemany(
        f'INSERT OR IGNORE INTO "{table.name}" ({quoted}) VALUES ({marks})',
        [tuple(sqlite_value(r[c]) if c in times else r[c] for c in columns) for r in rows],
    )
    db.commit()
    got = db.execute(f'SELECT * FROM "{table.name}" ORDER BY rowid').fetchall()
    db.close()
    return got


_MIGRATED: list[Path] = []


def _migrated(tmp_path_factory: Any) -> Path:
    """A store made once, copied for each example."""
    if not _MIGRATED:
        path = tmp_path_factory.mktemp("migrated") / "store.db"
        open_store(f"sqlite:///{path}").dispose()
        _MIGRATED.append(path)
    return _MIGRATED[0]


def _stored(path: Path, table: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    got = db.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
    db.close()
    return got


_maybe = st.one_of
_times = st.builds(
    lambda minutes, micro, zone: (T0 + timedelta(minutes=minutes, microseconds=micro)).astimezone(
        zone
    ),
    st.integers(0, 3),
    st.sampled_from([0, 250_000]),
    st.sampled_from(_ZONES),
)
_event = st.fixed_dictionaries(
    {
        "ts": _times,
        "user": _maybe(st.none(), st.sampled_from(["ann", "bo"])),
        "text": _maybe(st.none(), st.text(max_size=5)),
        "status": _maybe(st.none(), st.integers(-3, 3)),
        "received_at": _maybe(st.none(), _times),
        "blocked": st.booleans(),
        "raw": st.binary(max_size=4),
    }
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_event, min_size=1, max_size=8), st.booleans())
def test_events_are_stored_as_every_column_bound_would_store_them(
    tmp_path_factory: Any, drawn: list[dict[str, Any]], twice: bool
) -> None:
    """Whatever columns a batch leaves empty in every row, and however its times repeat or
    are zoned, the rows SQLite holds are those every column bound one by one gives."""
    rows = [
        {
            "id": f"ev{n % 5 if twice else n:030d}",
            "site_id": "default",
            "source": "agents",
            "fmt": "agent",
            "kind": "text",
            "attribution": "unattributed",
            "severity": "none",
            "file_id": "f" * 64,
            "offset": n,
            **values,
        }
        for n, values in enumerate(drawn)
    ]
    base = tmp_path_factory.mktemp("bulk")
    expected, actual = base / "before.db", base / "after.db"
    for path in (expected, actual):
        shutil.copyfile(_migrated(tmp_path_factory), path)
    et = table_of(EventRow)
    engine = create_engine(f"sqlite:///{actual}")
    with engine.begin() as conn:
        added = sqlite_bulk(conn, et, rows)
    engine.dispose()
    assert added == len({r["id"] for r in rows})
    assert _stored(actual, "events") == _as_before(expected, et, rows)


def test_a_column_the_store_gives_a_default_keeps_a_null_it_is_given(tmp_path: Path) -> None:
    """A column left empty in every row is left out of the statement only where SQLite
    would fill it with NULL: the store's own default (a migration's) is not given to it."""
    path = tmp_path / "own.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, note VARCHAR(8) DEFAULT 'x', n INTEGER)")
    db.close()
    model = Table(
        "t",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("note", String(8), nullable=True),
        Column("n", Integer, nullable=True),
    )
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        assert sqlite_bulk(conn, model, [{"id": i, "note": None, "n": None} for i in (1, 2)]) == 2
        assert sqlite_bulk(conn, model, [{"id": 3}, {"id": 4}]) == 2
        got = conn.execute(text("SELECT id, note, n FROM t ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in got] == [
        (1, None, None),
        (2, None, None),
        (3, "x", None),
        (4, "x", None),
    ]
