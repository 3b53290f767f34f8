"""Rows inserted in bulk straight through the SQLite driver: the hot path of ingest, where
SQLAlchemy's per-row processing would cost more than SQLite's own work.

The rows are turned into columns once (a batch's rows share most of their values' shapes):
a column every row leaves NULL, where SQLite would write NULL if it were left out, is left
out of the statement (an agent report's row has a third of its columns empty, and binding
each costs the driver a call a value); a time is written once for each distinct value in
the batch, as SQLAlchemy or the driver would write it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import sqlite

# How the driver writes a datetime handed to it as it is (the type of ``events.ts``
# passes it on): each distinct one of a batch is written by the same function, once.
_DRIVER_TIME = sqlite3.adapters[(datetime, sqlite3.PrepareProtocol)]


def sqlite_value(value: Any) -> Any:
    """A Python value as SQLAlchemy stores it in SQLite (UTC datetimes as ISO text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def left_out(table: Table, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The model's defaults of the columns ``row`` leaves out, as an INSERT would give them;
    None when one of them is not a plain value."""
    defaults: dict[str, Any] = {}
    for column in table.columns:
        if column.name in row or column.default is None:
            continue
        if not column.default.is_scalar:
            return None
        defaults[column.name] = column.default.arg  # type: ignore[attr-defined]
    return defaults


def _null_when_left_out(cursor: sqlite3.Cursor, table: str) -> set[str]:
    """The columns SQLite fills with NULL when an INSERT leaves them out: those with no
    default in the table as the store made it (its migrations, not the model)."""
    return {
        name
        for _cid, name, _type, _notnull, default, _pk in cursor.execute(
            f'PRAGMA table_info("{table}")'
        )
        if default is None
    }


def _model_times(table: Table, column: str) -> bool:
    """Whether SQLAlchemy's type of ``column`` takes datetimes (it writes them itself)."""
    python = table.c[column].type.python_type
    return isinstance(python, type) and issubclass(python, datetime)


def _written(values: Sequence[Any], write: Callable[[Any], Any], utc_only: bool) -> list[Any]:
    """``values`` with each one but NULL written by ``write``, once each distinct one; with
    ``utc_only``, only UTC datetimes, any other value left to the driver (a time in another
    zone is equal to its UTC instant but written apart)."""
    written: dict[Any, Any] = {}
    out = []
    for v in values:
        if v is not None and (not utc_only or (type(v) is datetime and v.tzinfo is UTC)):
            text = written.get(v)
            if text is None:
                text = written[v] = write(v)
            v = text
        out.append(v)
    return out


def sqlite_bulk(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """INSERT OR IGNORE ``rows`` (each with the first one's keys) through the driver;
    return how many were added. The columns the rows leave out take their model's defaults
    (OR IGNORE would drop a row short of one)."""
    columns = list(rows[0])
    defaults = left_out(table, rows[0])
    if defaults is None:
        done = conn.execute(sqlite.insert(table).on_conflict_do_nothing(), list(rows))
        return max(done.rowcount, 0)
    driver: Any = conn.connection.dbapi_connection
    cursor: sqlite3.Cursor = driver.cursor()
    n = len(rows)
    nullable = _null_when_left_out(cursor, table.name)
    names: list[str] = []
    values: list[Sequence[Any]] = []
    get = itemgetter(*columns)
    by_column = [[get(r) for r in rows]] if len(columns) == 1 else zip(*map(get, rows), strict=True)
    for name, column in zip(columns, by_column, strict=True):
        if name in nullable and column.count(None) == n:
            continue  # NULL all the same
        if _model_times(table, name):
            column = _written(column, sqlite_value, False)
        elif type(next((v for v in column if v is not None), None)) is datetime:
            column = _written(column, _DRIVER_TIME, True)
        names.append(name)
        values.append(column)
    for name, value in defaults.items():
        names.append(name)
        values.append((sqlite_value(value),) * n)
    quoted = ", ".join('"' + c + '"' for c in names)
    marks = ", ".join("?" * len(names))
    sql = f'INSERT OR IGNORE INTO "{table.name}" ({quoted}) VALUES ({marks})'
    cursor.executemany(sql, zip(*values, strict=True))
    # The rows this statement added (ignored ones count 0): unlike the connection's
    # total_changes, rowcount leaves out what triggers did (the search indexes on events).
    added: int = cursor.rowcount
    cursor.close()
    return added
