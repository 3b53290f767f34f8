"""Search results for a person to read or a spreadsheet to take: printable text, CSV that
no spreadsheet runs as a formula, JSON, times in the school's zone."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from monitord.casework.found import Found
from monitord.core import terminal
from monitord.store.database import mine, table_of
from monitord.store.tables import DeviceRow

# The columns a search shows and exports, in the order of the CSV.
COLUMNS = (
    "id",
    "ts",
    "local_time",
    "person",
    "role",
    "year_group",
    "device",
    "ip",
    "source",
    "format",
    "kind",
    "domain",
    "url",
    "text",
    "category",
    "severity",
    "blocked",
    "indicator",
    "match",
    "group",
)


def printable(value: str | None, width: int | None = None) -> str:
    """Log content made safe for a terminal (``monitord.core.terminal``): control characters,
    escape sequences and bidirectional overrides a pupil could type shown as ``?``, long
    values cut."""
    if value is None:
        return "-"
    s = terminal.printable(value)
    if width is not None and len(s) > width:
        s = s[: width - 1] + "…"
    return s


def _spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab or
    carriage return) is prefixed with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_csv(events: Iterable[Found], tz: ZoneInfo, stream: TextIO) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    for ev in events:
        row = ev.as_json(tz)
        writer.writerow([_spreadsheet_safe(row[c]) for c in COLUMNS])


def csv_text(events: Iterable[Found], tz: ZoneInfo) -> str:
    buf = io.StringIO()
    write_csv(events, tz, buf)
    return buf.getvalue()


def json_text(events: Iterable[Found], tz: ZoneInfo) -> str:
    return json.dumps([ev.as_json(tz) for ev in events], indent=2, ensure_ascii=False) + "\n"


def local_time(ts: datetime, tz: ZoneInfo, with_date: bool = True) -> str:
    return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def resolve_device(conn: Connection, value: str) -> str:
    """A device as the operator names it: its id in the inventory, or its host name (in any
    case) when that names exactly one device; otherwise the value as given."""
    dt = table_of(DeviceRow)
    own = mine(conn, dt.c.site_id)
    known = conn.execute(select(dt.c.device_id).where(own, dt.c.device_id == value)).first()
    if known is not None:
        return value
    named = conn.execute(
        select(dt.c.device_id).where(own, func.lower(dt.c.hostname) == value.lower()).limit(2)
    ).all()
    return str(named[0][0]) if len(named) == 1 else value
