"""Reading a store in tests, whichever kind it is (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows a query gives, as plain tuples; booleans as 0/1 and times as the text
    ``2026-11-19 10:00:00`` (to the second, UTC), the same from either store."""
    with engine.connect() as conn:
        return [tuple(_plain(v) for v in r) for r in conn.execute(text(sql), params)]


def row(engine: Engine, sql: str, **params: Any) -> tuple[Any, ...]:
    """The query's one row."""
    [found] = rows(engine, sql, **params)
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(" ", "seconds")
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return value
        return value[:19]
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the store, its rows sorted: two dumps are equal when nothing changed."""
    names = sorted(inspect(engine).get_table_names())
    return {n: sorted(rows(engine, f'SELECT * FROM "{n}"'), key=repr) for n in names}


def use_store(config_path: Path, url: str) -> None:
    """Point a config that ``monitord init`` wrote at the store ``url``."""
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text.replace('url = "sqlite:///var/monitord.db"', f'url = "{url}"'), encoding="utf-8"
    )
