"""What every parser's output goes through before it is judged and stored: each value made
one the store can hold, whatever the line or report said.

A log line or agent report is written by whoever controls the device or the file, and one
value the store refuses (a NUL in a PostgreSQL text column, a lone surrogate that UTF-8
cannot encode, a date in the year 9999 that overflows the alert arithmetic) would otherwise
fail the whole batch it came in. So, for every format, in one place:

- times are checked against a sane window: not before 2000, and not more than a day ahead
  of the clock (a lease's expiry, which is in the future by nature, up to ten years); a
  record with a time outside it is rejected with the reason;
- text is made valid UTF-8: NUL and lone surrogates become U+FFFD (the record's raw bytes,
  stored beside the event, keep what was really there);
- text is cut to the width of its column, and numbers outside their column's range are
  dropped.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

from monitord.core.model import Event, EventKind, Parsed, reject

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# How far ahead of the clock an event may be: a device whose clock runs fast by hours is
# still believed, one that reports next year is not.
AHEAD = timedelta(days=1)
# A lease's expiry is in the future by nature; years ahead is a fixed reservation.
LEASE_AHEAD = timedelta(days=3660)
REPLACEMENT = "\ufffd"
# Texts a column of unbounded type holds (a URL, what was typed): a line is at most 64 KiB.
MAX_TEXT = 16 * 1024
# The width of the column each text field of an event is stored in (any other text field:
# MAX_TEXT).
WIDTHS: dict[str, int] = {
    "client_ip": 64,
    "client_mac": 32,
    "user": 256,
    "domain": 512,
    "url": MAX_TEXT,
    "method": 16,
    "qtype": 16,
    "action": 64,
    "hostname": 256,
    "text": MAX_TEXT,
    "category": 32,
    "filter_category": 128,
    "agent": 128,
    "report": 32,
    "app": 256,
    "sender": 255,
}
# The range a number's column holds: 64-bit, but an HTTP status is 32-bit on PostgreSQL.
RANGES: dict[str, tuple[int, int]] = {"status": (-(2**31), 2**31 - 1)}
BIGINT = (-(2**63), 2**63 - 1)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Every text, time and number field of an event by its declared type, so that one added
# later is checked too.
TEXT_FIELDS = tuple(
    (f.name, WIDTHS.get(f.name, MAX_TEXT)) for f in fields(Event) if str(f.type).startswith("str")
)
TIME_FIELDS = tuple(
    f.name for f in fields(Event) if str(f.type).startswith("datetime") and f.name != "ts"
)
NUMBER_FIELDS = tuple(
    (f.name, RANGES.get(f.name, BIGINT)) for f in fields(Event) if str(f.type).startswith("int")
)
_LEASE = EventKind.LEASE  # read once (an enum hook in Python 3.11)


def clean_text(value: str, width: int | None = None) -> str:
    """``value`` as valid UTF-8 without NUL (each such character U+FFFD), cut to ``width``."""
    if not value.isascii() or "\x00" in value:
        value = _UNSTORABLE.sub(REPLACEMENT, value)
    return value if width is None or len(value) <= width else value[:width]


def _stamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def time_problem(name: str, value: Any, now: datetime, ahead: timedelta = AHEAD) -> str | None:
    """Why the time ``value`` (field ``name``) cannot be stored, or None when it can."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        return f"{name}: not a time with a zone ({type(value).__name__})"
    if value < EARLIEST:
        return f"{name}: {_stamp(value)} is before {EARLIEST.year}"
    if value - now > ahead:
        return f"{name}: {_stamp(value)} is more than {_span(ahead)} ahead of now ({_stamp(now)})"
    return None


def _span(delta: timedelta) -> str:
    return "a day" if delta == AHEAD else f"{delta.days} days"


# Each kind of field read in one call (an event's fields are mostly empty).
_TEXTS = attrgetter(*(name for name, _ in TEXT_FIELDS))
_TIMES = attrgetter(*TIME_FIELDS)
_NUMBERS = attrgetter(*(name for name, _ in NUMBER_FIELDS))
_NO_TIMES = (None,) * len(TIME_FIELDS)
_NO_NUMBERS = (None,) * len(NUMBER_FIELDS)


def storable_event(ev: Event, now: datetime) -> Event | str:
    """``ev`` with every value storable, or why it cannot be stored."""
    lease = ev.kind is _LEASE
    ahead = LEASE_AHEAD if lease else AHEAD
    why = time_problem("ts", ev.ts, now, ahead)
    if why is None and _TIMES(ev) != _NO_TIMES:
        for name in TIME_FIELDS:
            value = getattr(ev, name)
            if why is None and value is not None:
                limit = LEASE_AHEAD if name.startswith("lease") else AHEAD
                why = time_problem(name, value, now, limit)
    if why is not None:
        return why
    changes: dict[str, Any] = {}
    for (name, width), value in zip(TEXT_FIELDS, _TEXTS(ev), strict=True):
        if value is None:
            continue
        if not isinstance(value, str):
            return f"{name}: expected text, got {type(value).__name__}"
        if value.isascii() and "\x00" not in value and len(value) <= width:
            continue  # as it is (``clean_text`` would give it back)
        cleaned = clean_text(value, width)
        if cleaned is not value:
            changes[name] = cleaned
    if _NUMBERS(ev) != _NO_NUMBERS:
        for name, (low, high) in NUMBER_FIELDS:
            number = getattr(ev, name)
            if number is not None and (
                isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high
            ):
                changes[name] = None
    if ev.blocked is not True and ev.blocked is not False:
        changes["blocked"] = bool(ev.blocked)
    return replace(ev, **changes) if changes else ev


def storable(parsed: Parsed, now: datetime) -> Parsed:
    """What a parser made of one record, every value made storable; the record rejected,
    with the reason, when one of its events cannot be (a time outside the window)."""
    if parsed.rejected is not None:
        return parsed
    changed = False
    events = []
    for ev in parsed.events:
        checked = storable_event(ev, now)
        if isinstance(checked, str):
            return reject(checked)
        changed = changed or checked is not ev
        events.append(checked)
    updates = []
    for upd in parsed.updates:
        action = upd.action if upd.action is None else clean_text(upd.action, WIDTHS["action"])
        said = upd.filter_category
        filtered = said if said is None else clean_text(said, WIDTHS["filter_category"])
        if action is upd.action and filtered is said:
            updates.append(upd)
            continue
        changed = True
        updates.append(replace(upd, action=action, filter_category=filtered))
    return Parsed(tuple(events), None, tuple(updates)) if changed else parsed
