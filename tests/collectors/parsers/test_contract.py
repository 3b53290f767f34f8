"""The contract every registered parser keeps, checked on every fixture file of its format
and on whatever hypothesis makes up.

Each record, read as the pipeline reads it (lines of text, or packets for a format that
needs them), gives events, updates, nothing, or a rejection with its reason; nothing
raises; what comes out is the model's frozen dataclasses, with times in UTC; the same input
read again by a fresh session gives the same output. The real fixtures are read in full:
none of their records is rejected. A registered format with no fixture files fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.capture import iter_packets
from collectors.files import iter_records
from collectors.parsers.base import ParseContext, Parser, available_formats, load_parser
from monitord.core.model import Parsed
from tests.collectors.parsers.fixturelines import (
    CTX,
    LONDON,
    REFERENCE,
    check_parsed,
    fixture_files,
)
from tests.conftest import FIXTURES, ROOT

# Formats monitord defines itself (its agent's reports), which no public project writes:
# their fixtures are the project's own.
OWN_FIXTURES = ROOT / "tests" / "data" / "fixtures"


def fixture_folder(fmt: str) -> Path:
    shared = FIXTURES / fmt
    return shared if shared.is_dir() else OWN_FIXTURES / fmt


CASES = [
    pytest.param(fmt, path, id=f"{fmt}/{path.name if path else '(none)'}")
    for fmt in available_formats()
    for path in fixture_files(fixture_folder(fmt)) or [None]
]


Record = tuple[int, str | bytes, ParseContext]


def read_records(parser: Parser, path: Path) -> Iterator[Record]:
    """The file's records as the pipeline reads them: the record's offset (a packet's
    index), its text or bytes, and a context placing it by the file's time."""
    binary = parser.needs.binary
    read = iter_packets if binary else iter_records
    for rec, _ in read(path, parser.fmt, now=REFERENCE):
        ctx = ParseContext(LONDON, rec.file_mtime or REFERENCE, rec.origin)
        data = rec.data if binary else rec.data.decode("utf-8", "replace")
        yield rec.origin.offset, data, ctx


def parse_all(parser: Parser, records: list[Record]) -> list[Parsed]:
    """Every record through one fresh session, in order."""
    session = parser.session()
    out = []
    for _, data, ctx in records:
        if isinstance(data, bytes):
            out.append(session.parse_bytes(data, ctx))  # type: ignore[attr-defined]
        else:
            out.append(session.parse(data, ctx))
    return out


@pytest.mark.parametrize(("fmt", "path"), CASES)
def test_every_record_of_every_fixture_keeps_the_contract(fmt: str, path: Path | None) -> None:
    assert path is not None, f"format {fmt} is registered but has no fixture files in " + (
        f"{FIXTURES / fmt} (or, for a format of monitord's own, {OWN_FIXTURES / fmt})"
    )
    parser = load_parser(fmt)
    records = list(read_records(parser, path))
    assert records, f"{path.name}: no records"
    first = parse_all(parser, records)
    for (offset, _, _), parsed in zip(records, first, strict=True):
        where = f"{fmt}/{path.name} at {offset}"
        check_parsed(parsed, where)
        assert parsed.rejected is None, f"{where} rejected: {parsed.rejected}"
    assert parse_all(parser, records) == first, f"{path.name}: read again, it gave otherwise"


@pytest.mark.parametrize("fmt", available_formats())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.text() | st.binary().map(lambda b: b.decode("utf-8", "replace"))))
def test_made_up_text_keeps_the_contract(fmt: str, lines: list[str]) -> None:
    parser = load_parser(fmt)
    session = parser.session()
    results = [session.parse(line, CTX) for line in lines]
    for n, parsed in enumerate(results):
        check_parsed(parsed, f"{fmt} line {n}")
    again = parser.session()
    assert [again.parse(line, CTX) for line in lines] == results


@pytest.mark.parametrize("fmt", [f for f in available_formats() if load_parser(f).needs.binary])
@settings(max_examples=60)
@given(records=st.lists(st.binary(max_size=300)))
def test_made_up_packets_keep_the_contract(fmt: str, records: list[bytes]) -> None:
    parser = load_parser(fmt)
    session = parser.session()
    results = [session.parse_bytes(data, CTX) for data in records]  # type: ignore[attr-defined]
    for n, parsed in enumerate(results):
        check_parsed(parsed, f"{fmt} record {n}")
