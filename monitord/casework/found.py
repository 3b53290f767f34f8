"""What a search finds: the stored events as ``Found`` rows, read with the columns each store
hands over fastest, while the collector pauses its text-index work."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from monitord.store.database import utc

# The stored columns of a ``Found``, in its order: first those that differ from event to
# event, then those that mostly repeat (``_REPEATING``).
_REPEATING = (
    "e.source, e.fmt, e.kind, e.client_ip, e.username, e.role, e.year_group, e.device_id, "
    "e.category, e.severity, e.blocked"
)
EVENT_COLUMNS = f"e.id, e.ts, e.url, e.text, e.domain, {_REPEATING}"
# On SQLite the repeating columns come as one JSON array, decoded once for each distinct
# array: one person's day of thousands of events has a handful of them, and the driver
# costs 0.1 to 0.2 µs for each value it hands over, twice what SQLite takes to make the array.
_SQLITE_EVENT_COLUMNS = f"e.id, e.ts, e.url, e.text, e.domain, json_array({_REPEATING})"


class Found(NamedTuple):
    """One event as search and timeline show it: a tuple made straight from the driver's row
    (a person's day is thousands), its time as stored, read as a datetime by ``ts``."""

    id: str
    stamp: Any  # the time as stored: SQLite's text, PostgreSQL's datetime
    url: str | None
    text: str | None
    domain: str | None
    source: str
    fmt: str
    kind: str
    ip: str | None
    person: str | None
    role: str | None
    year_group: str | None
    device: str | None
    category: str | None
    severity: str
    blocked: int  # 0 or 1, as SQLite holds a boolean
    match: bool = True  # False: shown only as context
    group: int | None = None  # with context: the block of neighbouring events it is in
    alerts: tuple[int, ...] | None = None  # the alerts holding it (timeline)

    @property
    def ts(self) -> datetime:
        """The event's time, aware UTC."""
        return _stored_time(self.stamp)

    @property
    def indicator(self) -> str:
        """What the event is about: the search or text, else the URL, else the domain."""
        if self.kind in ("search", "text") and self.text:
            return self.text
        return (
            self.url or self.domain or self.text or " ".join(x for x in (self.kind, self.ip) if x)
        )

    @property
    def flagged(self) -> bool:
        return bool(self.alerts) or (self.category is not None and self.severity != "none")

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": utc_text(self.ts),
            "local_time": self.ts.astimezone(tz).isoformat(),
            "person": self.person,
            "role": self.role,
            "year_group": self.year_group,
            "device": self.device,
            "ip": self.ip,
            "source": self.source,
            "format": self.fmt,
            "kind": self.kind,
            "domain": self.domain,
            "url": self.url,
            "text": self.text,
            "category": self.category,
            "severity": self.severity,
            "blocked": bool(self.blocked),
            "indicator": self.indicator,
            "match": self.match,
            "group": self.group,
        }


@dataclass(slots=True)
class SearchResult:
    events: list[Found]  # hits (and context), in the order shown
    hits: int  # events that matched (not counting context)
    more: bool  # more events matched than the limit: these are the newest
    plan: str  # the index that drove the search (for the benchmark and the curious)


def utc_text(value: datetime) -> str:
    return utc(value).isoformat().replace("+00:00", "Z")


def _stored_time(value: Any) -> datetime:
    """An event time as the driver gives it: SQLite's text (``2026-11-19 10:01:02+00:00``,
    or without the zone when SQLAlchemy wrote it) or PostgreSQL's datetime; aware UTC."""
    if isinstance(value, datetime):
        return utc(value)
    ts = datetime.fromisoformat(value)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def event_columns(conn: Connection) -> str:
    """The select list ``fetch_events`` reads, for this connection's database."""
    return _SQLITE_EVENT_COLUMNS if conn.dialect.name == "sqlite" else EVENT_COLUMNS


class _Repeating(dict[str, tuple[Any, ...]]):
    """The repeating columns of one fetch's rows, each distinct JSON array decoded once,
    with the fields that follow them in a ``Found``."""

    def __init__(self, tail: tuple[Any, ...]) -> None:
        super().__init__()
        self.tail = tail

    def __missing__(self, key: str) -> tuple[Any, ...]:
        value = self[key] = (*json.loads(key), *self.tail)
        return value


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector held off while a fetch makes thousands of tuples: they
    hold no cycles, and a collection would walk them (and now and then every object the
    imports made) for nothing."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def fetch_events(
    conn: Connection, sql: str, params: Mapping[str, Any], *, match: bool = True
) -> list[Found]:
    """The events ``sql`` selects (``event_columns(conn)``, with ``:name`` parameters), in
    its order. On SQLite straight through the driver, each row made a ``Found`` as it
    comes: a person's day is thousands of rows, and per-row processing would cost more
    than SQLite's own work."""
    tail = (match, None, None)
    new = tuple.__new__
    if conn.dialect.name == "sqlite":
        driver = conn.connection.driver_connection
        repeating = _Repeating(tail)
        with _collector_paused():
            rows = driver.execute(sql, dict(params)).fetchall()  # type: ignore[union-attr]
            return [new(Found, (i, t, u, x, d) + repeating[r]) for i, t, u, x, d, r in rows]
    return [new(Found, (*r, *tail)) for r in conn.execute(text(sql), dict(params))]
