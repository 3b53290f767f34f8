"""The small contracts that parsers and collectors implement, and their registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from monitord.core.frozen import quick_init
from monitord.core.model import Checkpoint, Origin, Parsed, RawRecord
from monitord.settings.formats import PARSER_GROUP, format_names


@quick_init
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
class QuietLines(Protocol):
    """A session that tells from a line's bytes alone (as read, without its line end) that
    it is a known line which carries nothing (no event, update or rejection) and changes
    nothing the session keeps: such a line is counted as passed over without being made a
    record, decoded or parsed (most of a resolver's log follows a query)."""

    def quiet(self, data: bytes) -> bool: ...


@runtime_checkable
class BinarySession(Protocol):
    """A session whose records are bytes (captured packets), not text lines."""

    def parse(self, line: str, ctx: ParseContext) -> Parsed: ...

    def parse_bytes(self, data: bytes, ctx: ParseContext) -> Parsed: ...


@dataclass(frozen=True, slots=True)
class Option:
    """A setting of its own a format takes from each source (a key of its ``[[sources]]``
    table, e.g. Windows DNS's ``date_order``), and the values it accepts."""

    key: str
    choices: tuple[str, ...]
    default: str
    about: str  # one line: what it says about the source's log


@dataclass(frozen=True, slots=True)
class Needs:
    """What a format asks of the source that feeds it, said by its parser so that the config,
    the command line and the wiring ask no one else.

    ``binary``: its records are packets (a capture file or a live interface), read with
    ``parse_bytes``, not text lines. ``listened``: a syslog listener may feed it (not so for
    captures, state files or agents' reports). ``options``: the source keys it takes.
    """

    binary: bool = False
    listened: bool = True
    options: tuple[Option, ...] = ()

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)


TEXT = Needs()  # a text log a file or a listener may feed, with no option of its own


class Parser(Protocol):
    """A log format: its name, what it needs, and a fresh session for each file read.

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

    @property
    def needs(self) -> Needs: ...

    def session(self) -> Session: ...

    def configured(self, options: Mapping[str, str]) -> Parser:
        """The parser set up with a source's options (only those ``needs.options`` names,
        with values among their choices: see ``option_problems``)."""
        ...


def option_problems(needs: Needs, options: Mapping[str, str]) -> list[tuple[str, str]]:
    """Each option a source sets that its format does not take, or with a value it does not
    accept, as (key, what is wrong)."""
    problems = []
    for key, value in options.items():
        option = needs.option(key)
        if option is None:
            problems.append((key, "this format takes no such option"))
        elif value not in option.choices:
            choices = ", ".join(option.choices)
            problems.append((key, f"expected one of {choices} ({option.about}), not {value!r}"))
    return problems


@dataclass(frozen=True, slots=True)
class LineParser:
    """A stateless format: a name and a pure function from one line to its events."""

    fmt: str
    func: Callable[[str, ParseContext], Parsed]
    header_prefix: str | None = None
    snapshot: bool = False
    needs: Needs = TEXT

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        return self.func(line, ctx)

    def session(self) -> Session:
        return self

    def configured(self, options: Mapping[str, str]) -> Parser:
        return self  # a format with options has a parser of its own


@dataclass(frozen=True, slots=True)
class StatefulParser:
    """A format whose lines depend on earlier ones: ``factory`` makes a fresh session."""

    fmt: str
    factory: Callable[[], Session]
    header_prefix: str | None = None
    snapshot: bool = False
    needs: Needs = TEXT

    def session(self) -> Session:
        return self.factory()

    def configured(self, options: Mapping[str, str]) -> Parser:
        return self


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
    return list(format_names())


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
