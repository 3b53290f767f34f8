"""What the parser test modules share: the school's zone, a reference time, and the real
fixture files of a format with their numbered lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collectors.parsers.base import ParseContext
from monitord.core.model import Parsed

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


# An annotated sample's expectation: the Event fields its one event must have, the exact
# Parsed (SKIP for a known line with no event), or words the rejection reason must contain.
Expected = dict[str, Any] | Parsed | str


def check_sample(parsed: Parsed, expected: Expected) -> None:
    """Asserts that a parsed sample line gave what its annotation says."""
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
