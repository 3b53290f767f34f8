"""The small contracts that parsers and collectors implement, and their registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from typing import Protocol
from zoneinfo import ZoneInfo

from monitord.model import Checkpoint, Parsed, RawRecord

PARSER_GROUP = "monitord.parsers"
COLLECTOR_GROUP = "monitord.collectors"
NOTIFIER_GROUP = "monitord.notifiers"


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a parser may know beyond the line: the school's zone and the time the file was
    written (to place syslog lines, which carry no year, in the right year)."""

    tz: ZoneInfo
    reference: datetime


class Parser(Protocol):
    """A pure function from one decoded line to the events it records."""

    fmt: str

    def parse(self, line: str, ctx: ParseContext) -> Parsed: ...


@dataclass(frozen=True, slots=True)
class LineParser:
    """A parser made of a format name and a pure function."""

    fmt: str
    func: Callable[[str, ParseContext], Parsed]

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        return self.func(line, ctx)


@dataclass(frozen=True, slots=True)
class Batch:
    """Records read together, and the source's position after the last of them."""

    records: list[RawRecord]
    checkpoint: Checkpoint


class Collector(Protocol):
    """Something that yields batches of raw records until it is stopped."""

    name: str

    def batches(self) -> AsyncIterator[Batch]: ...

    def stop(self) -> None: ...


class UnknownFormat(LookupError):
    pass


def available_formats() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=PARSER_GROUP))


def load_parser(fmt: str) -> Parser:
    """Import only the parser that is asked for."""
    for ep in entry_points(group=PARSER_GROUP, name=fmt):
        parser: Parser = ep.load()
        return parser
    known = ", ".join(available_formats())
    raise UnknownFormat(f"no parser for format {fmt!r} (this installation has: {known})")
