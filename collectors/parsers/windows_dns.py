"""Windows DNS Server's debug log (``dns.log``) with packet logging on.

The file starts with a header (``DNS Server log file creation at ...``, ``Message logging
key ...`` and an indented description of the fields) and then has one line per packet::

    DATE TIME THREAD PACKET  CONTEXT UDP|TCP Snd|Rcv REMOTE-IP XID [R] OPCODE
        [FLAGS-HEX FLAG-CHARS RCODE] QTYPE NAME

``R`` marks a response (blank for a query); the opcode is ``Q`` (query), ``N`` (notify),
``U`` (update) or ``?``. The name is written as length-prefixed labels,
``(3)www(6)google(3)com(0)``, or on some servers dotted, ``.www.google.com.``.

A client's query is a query packet the server received (``Rcv``, no ``R``, opcode ``Q``):
the remote IP is the client. Everything else (the server's own queries to forwarders, the
responses both ways, notifies, updates) carries no event, nor do the other lines that start
with a date (events, notes) or the indented packet details.

The date and time are written in the server's locale, in its zone (taken as the school's):
US ``M/D/YYYY h:mm:ss AM`` by default, ``D/M/YYYY HH:mm:ss`` in many others, ISO
``YYYY-MM-DD`` in some. ``make_parser`` takes the order the server writes the day and month
in; a date whose first field has four digits is read as year-month-day, and one that cannot
be in the configured order (a 22nd month) is read in the other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Literal

from collectors.parsers.base import Needs, Option, ParseContext
from collectors.parsers.urls import normalise_host
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

DateOrder = Literal["mdy", "dmy", "ymd"]
DATE_ORDERS: tuple[DateOrder, ...] = ("mdy", "dmy", "ymd")

_HEAD = re.compile(
    r"^(?P<date>\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}) (?P<time>\d{1,2}:\d\d:\d\d)"
    r"(?: (?P<ampm>[AaPp]\.?[Mm]\.?))? (?P<thread>[0-9A-Fa-f]{1,8}) (?P<rest>.*)$"
)
_PACKET = re.compile(
    r"^PACKET +(?P<context>[0-9A-Fa-f]+) +(?P<proto>UDP|TCP) +(?P<dir>Snd|Rcv) "
    r"+(?P<ip>[0-9A-Fa-f:.]+(?:%\w+)?) +(?P<xid>[0-9A-Fa-f]+) +(?:(?P<response>R) +)?"
    r"(?P<opcode>[QNU?]) +\[(?P<flags>[^\]]*)\] +(?P<qtype>\S+) +(?P<name>\S+)\s*$"
)
_HEADERS = ("DNS Server log", "Log file wrap at", "Message logging key")
_DETAIL = re.compile(r"^(?:UDP|TCP) (?:question|response) info at ")
_LABEL = re.compile(r"\((\d{1,3})\)")


def decode_name(raw: str) -> str:
    """``(3)www(6)google(3)com(0)`` or ``.www.google.com.`` to ``www.google.com``."""
    if not raw.startswith("("):
        return raw.strip(".")
    labels: list[str] = []
    pos = 0
    while (m := _LABEL.match(raw, pos)) is not None:
        size, pos = int(m[1]), m.end()
        if size == 0:
            if pos == len(raw):
                return ".".join(labels)
            break
        label = raw[pos : pos + size]
        if len(label) < size:
            break
        labels.append(label)
        pos += size
    # Lengths that do not add up (a label with odd characters): each (n) is a dot.
    return _LABEL.sub(".", raw).strip(".")


def _date(text: str, order: DateOrder) -> tuple[int, int, int] | None:
    """(year, month, day) from the locale's short date, or None when there is no such day."""
    a, b, c = re.split(r"[/.-]", text)
    if len(a) == 4:
        candidates = [(int(a), int(b), int(c))]
    elif len(c) in (2, 4):
        year = int(c) + (2000 if len(c) == 2 else 0)
        month_first = (year, int(a), int(b))
        day_first = (year, int(b), int(a))
        candidates = [day_first, month_first] if order == "dmy" else [month_first, day_first]
    else:
        return None
    for year, month, day in candidates:
        try:
            datetime(year, month, day)
        except ValueError:
            continue
        return year, month, day
    return None


def _time(text: str, ampm: str | None) -> tuple[int, int, int] | None:
    hh, mm, ss = (int(x) for x in text.split(":"))
    if ampm is not None:
        if not 1 <= hh <= 12:
            return None
        pm = ampm[0] in "Pp"
        hh = (hh % 12) + (12 if pm else 0)
    if hh > 23 or mm > 59 or ss > 59:
        return None
    return hh, mm, ss


def parse_line(line: str, ctx: ParseContext, date_order: DateOrder = "mdy") -> Parsed:
    # A stray backtick at either end (a line copied out of a Markdown or script block, as
    # some collection tools hand them on) is not part of the line.
    text = line.rstrip("\r\n").lstrip("\ufeff").strip("`")
    head = _HEAD.match(text)
    if head is None:
        if not text.strip() or text[0].isspace():
            return SKIP  # blank, the header's field key, or a packet's details
        if text.startswith(_HEADERS) or _DETAIL.match(text):
            return SKIP
        return reject(
            "not a Windows DNS debug log line (expected 'DATE TIME THREAD PACKET ...' or a "
            "log header)"
        )
    rest = head["rest"]
    if not rest.startswith("PACKET "):
        return SKIP  # an EVENT or Note line from the server itself
    packet = _PACKET.match(rest)
    if packet is None:
        return reject(f"unrecognised PACKET line {rest[:60]!r}")
    if packet["dir"] != "Rcv" or packet["response"] or packet["opcode"] != "Q":
        return SKIP  # a response, the server's own query upstream, a notify or an update
    domain = normalise_host(decode_name(packet["name"]))
    if domain is None:
        return SKIP  # a query for the root names no site
    day = _date(head["date"], date_order)
    hms = _time(head["time"], head["ampm"])
    if day is None or hms is None:
        return reject(f"impossible date {head['date']} {head['time']}")
    try:
        ts = datetime(*day, *hms, tzinfo=ctx.tz).astimezone(UTC)
    except OverflowError:
        return reject(f"date {head['date']} is out of range")
    return Parsed(
        events=(
            Event(
                kind=EventKind.DNS,
                ts=ts,
                client_ip=packet["ip"],
                domain=domain,
                qtype=packet["qtype"].upper()[:16],
            ),
        )
    )


DATE_ORDER = Option(
    "date_order",
    DATE_ORDERS,
    "mdy",
    "the order the server's locale writes the day, month and year in",
)


@dataclass(frozen=True, slots=True)
class WindowsDnsParser:
    """The ``windows-dns`` format, reading dates in one server's ``date_order``."""

    date_order: DateOrder = "mdy"
    fmt: ClassVar[str] = "windows-dns"
    header_prefix: ClassVar[str | None] = None
    snapshot: ClassVar[bool] = False
    needs: ClassVar[Needs] = Needs(options=(DATE_ORDER,))

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        return parse_line(line, ctx, self.date_order)

    def session(self) -> WindowsDnsParser:
        return self

    def configured(self, options: Mapping[str, str]) -> WindowsDnsParser:
        return make_parser(options.get(DATE_ORDER.key, self.date_order))


def make_parser(date_order: str = "mdy") -> WindowsDnsParser:
    """The parser for a server that writes dates day/month in ``date_order``."""
    for order in DATE_ORDERS:
        if date_order == order:
            return WindowsDnsParser(order)
    raise ValueError(f"date_order must be one of {', '.join(DATE_ORDERS)}, not {date_order!r}")


PARSER = WindowsDnsParser()
