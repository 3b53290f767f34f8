"""The small contracts that parsers and collectors implement, and their registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from monitord.core.model import Checkpoint, Origin, Parsed, RawRecord

PARSER_GROUP = "monitord.parsers"
COLLECTOR_GROUP = "monitord.collectors"
NOTIFIER_GROUP = "monitord.notifiers"


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a parser may know beyond the line: the school's zone and the time the file was
    written (to place syslog lines, which carry no year, in the right year)."""

    tz: ZoneInfo
    reference: datetime
    origin: Origin | None = None
    # When a listener received the record (None for a line read from a file).
    received_at: datetime | None = None


class Session(Protocol):
    """Parses the lines of one file in order. A stateless format's session is a pure
    function; a stateful one (a header naming the columns, a reply that enriches its query, a
    lease block spread over lines) keeps what earlier lines said."""

    def parse(self, line: str, ctx: ParseContext) -> Parsed: ...


@runtime_checkable
class BinarySession(Protocol):
    """A session whose records are bytes (captured packets), not text lines."""

    def parse(self, line: str, ctx: ParseContext) -> Parsed: ...

    def parse_bytes(self, data: bytes, ctx: ParseContext) -> Parsed: ...


class Parser(Protocol):
    """A log format: its name and a fresh session for each file read.

    ``header_prefix``: lines starting with it carry the file's layout; a session resumed in
    the middle of a file is first shown those lines again (their output is discarded).
    """

    @property
    def fmt(self) -> str: ...

    @property
    def header_prefix(self) -> str | None: ...

    @property
    def snapshot(self) -> bool:
        """The file is a state snapshot rewritten whole (a leases file), not a log: its
        events are identified by their content rather than their place in the file."""
        ...

    def session(self) -> Session: ...


@dataclass(frozen=True, slots=True)
class LineParser:
    """A stateless format: a name and a pure function from one line to its events."""

    fmt: str
    func: Callable[[str, ParseContext], Parsed]
    header_prefix: str | None = None
    snapshot: bool = False

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        return self.func(line, ctx)

    def session(self) -> Session:
        return self


@dataclass(frozen=True, slots=True)
class StatefulParser:
    """A format whose lines depend on earlier ones: ``factory`` makes a fresh session."""

    fmt: str
    factory: Callable[[], Session]
    header_prefix: str | None = None
    snapshot: bool = False

    def session(self) -> Session:
        return self.factory()


@dataclass(frozen=True, slots=True)
class Batch:
    """Records read together, and the source's position after the last of them."""

    records: list[RawRecord]
    checkpoint: Checkpoint
    # What the source passed over since its last batch, as (kind, name, count): senders a
    # listener refused, messages it dropped. Stored with the checkpoint.
    counts: tuple[tuple[str, str, int], ...] = ()


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
        try:
            parser: Parser = ep.load()
        except (ImportError, AttributeError) as exc:
            raise UnknownFormat(f"the parser for format {fmt!r} cannot be loaded: {exc}") from None
        return parser
    known = ", ".join(available_formats())
    raise UnknownFormat(f"no parser for format {fmt!r} (this installation has: {known})")
