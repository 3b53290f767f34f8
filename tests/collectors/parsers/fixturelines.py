"""What the parser test modules share: the school's zone, a reference time, the real
fixture files of a format with their numbered lines, and the check of the contract every
parser keeps for every record."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collectors.parsers.base import ParseContext
from monitord.core.model import Event, EventKind, EventUpdate, Parsed

LONDON = ZoneInfo("Europe/London")
REFERENCE = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
CTX = ParseContext(LONDON, REFERENCE)


def fixture_files(folder: Path) -> list[Path]:
    """The real sample files directly in a format's folder (not its SOURCES.md)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix != ".md")


def numbered_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each non-blank line, decoded as the pipeline decodes it."""
    out = []
    for n, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        if raw.strip():
            out.append((n, raw.decode("utf-8", "replace").rstrip("\r")))
    return out


def fixture_line(paths: list[Path], text: str) -> str:
    """The first line of the fixture files containing ``text``, wherever it is."""
    for path in paths:
        for _, line in numbered_lines(path):
            if text in line:
                return line
    raise AssertionError(f"no fixture line contains {text!r}")


# An annotated sample's expectation: the Event fields its one event must have, the exact
# Parsed (SKIP for a known line with no event), or words the rejection reason must contain.
Expected = dict[str, Any] | Parsed | str


def check_sample(parsed: Parsed, expected: Expected) -> None:
    """Asserts that a parsed sample line gave what its annotation says (and kept the
    parsers' contract)."""
    check_parsed(parsed)
    if isinstance(expected, dict):
        assert parsed.rejected is None, parsed.rejected
        assert len(parsed.events) == 1
        ev = parsed.events[0]
        assert {name: getattr(ev, name) for name in expected} == expected
    elif isinstance(expected, Parsed):
        assert parsed == expected
    else:
        assert parsed.events == ()
        assert parsed.rejected is not None
        assert expected in parsed.rejected


def _frozen(value: object) -> bool:
    return dataclasses.is_dataclass(value) and value.__dataclass_params__.frozen  # type: ignore[attr-defined]


def check_parsed(parsed: object, where: str = "", *, most: int | None = None) -> None:
    """One record's result keeps the parsers' contract: a frozen Parsed holding frozen
    events (times in UTC) and updates, or a rejection with its reason and nothing else.
    ``most``: how many events and updates one record of the format may give at most."""
    assert isinstance(parsed, Parsed), f"{where}: {type(parsed).__name__}, not Parsed"
    assert _frozen(parsed), where
    if parsed.rejected is not None:
        assert isinstance(parsed.rejected, str), where
        assert parsed.rejected.strip(), f"{where}: rejected without a reason"
        assert parsed.events == (), where
        assert parsed.updates == (), where
    assert parsed.passed_over is None or isinstance(parsed.passed_over, str), where
    for ev in parsed.events:
        assert isinstance(ev, Event), where
        assert _frozen(ev), where
        assert isinstance(ev.kind, EventKind), where
        assert ev.ts.utcoffset() == timedelta(0), f"{where}: {ev.ts} is not in UTC"
    for update in parsed.updates:
        assert isinstance(update, EventUpdate), where
        assert _frozen(update), where
    if most is not None:
        assert len(parsed.events) + len(parsed.updates) <= most, where
