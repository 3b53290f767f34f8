"""Reading log files as raw records with exact byte offsets, plain or gzip-compressed."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime
from pathlib import Path

from collectors.files import (
    MAX_LINE,
    identify,
    is_gzip,
    iter_records,
    read_batches,
    records_before,
)
from monitord.core.model import content_digest
from monitord.service import pipeline
from tests.conftest import FIXTURES

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
LINES = [b"first line\n", b"second, longer line\n", b"\xc3\xa9t\xc3\xa9\n", b"last\n"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _read(
    path: Path, *, start: int = 0, complete_only: bool = False
) -> list[tuple[int, bytes, int]]:
    """(offset, data, offset after) of each record."""
    return [
        (rec.origin.offset, rec.data, after)
        for rec, after in iter_records(
            path, "src", start=start, complete_only=complete_only, now=NOW
        )
    ]


def test_offsets_are_exact_byte_offsets(tmp_path: Path) -> None:
    data = b"".join(LINES)
    path = _write(tmp_path / "a.log", data)
    got = _read(path)
    assert [d for _, d, _ in got] == [line.rstrip(b"\n") for line in LINES]
    for offset, record, after in got:
        assert data[offset:after].rstrip(b"\n") == record
    assert [o for o, _, _ in got] == [0, 11, 31, 37]
    assert got[-1][2] == len(data)


def test_records_carry_origin_and_times(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.log", b"one\ntwo\n")
    mtime = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    (rec, _), (rec2, _) = list(iter_records(path, "proxy", now=NOW))
    assert rec.origin.source == "proxy"
    assert rec.origin.path == str(path)
    assert rec.origin.file_id == rec2.origin.file_id == identify(path)
    assert rec.read_at == NOW
    assert rec.file_mtime == mtime
    assert rec.origin.event_id() != rec2.origin.event_id()
    # Each with its content's digest, which its events' ids are made with.
    assert (rec.origin.content, rec2.origin.content) == (
        content_digest(b"one"),
        content_digest(b"two"),
    )


def test_start_resumes_at_that_offset_with_the_same_origins(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.log", b"".join(LINES))
    whole = list(iter_records(path, "src", now=NOW))
    resumed = list(iter_records(path, "src", start=whole[1][1], now=NOW))
    assert [(r.origin, a) for r, a in resumed] == [(r.origin, a) for r, a in whole[2:]]


def test_records_before_an_offset_are_whole_lines_only(tmp_path: Path) -> None:
    # offsets 0, 11, 31, 37: the lines ending by 37, and of them those within the span
    path = _write(tmp_path / "a.log", b"".join(LINES))
    for span, want in ((37, [0, 11, 31]), (30, [11, 31]), (26, [11, 31]), (25, [31]), (1, [])):
        got = [r.origin.offset for r in records_before(path, "src", 37, span)]
        assert got == want, span
    assert [r.data for r in records_before(path, "src", 31, 100)] == [
        LINES[0].rstrip(b"\n"),
        LINES[1].rstrip(b"\n"),
    ]


def test_plain_and_gzip_copies_give_identical_origins(tmp_path: Path) -> None:
    data = b"".join(LINES) * 50
    plain = _write(tmp_path / "access.log", data)
    packed = _write(tmp_path / "access.log.1.gz", gzip.compress(data))
    assert not is_gzip(plain)
    assert is_gzip(packed)
    assert identify(plain) == identify(packed)
    a = [
        (r.origin.file_id, r.origin.offset, r.data, after) for r, after in iter_records(plain, "s")
    ]
    b = [
        (r.origin.file_id, r.origin.offset, r.data, after) for r, after in iter_records(packed, "s")
    ]
    assert len(a) == 200
    assert a == b
    # and so the same event ids, whichever copy was read
    ids_a = [r.origin.event_id() for r, _ in iter_records(plain, "s")]
    ids_b = [r.origin.event_id() for r, _ in iter_records(packed, "s")]
    assert ids_a == ids_b


def test_gzip_read_resumes_at_an_uncompressed_offset(tmp_path: Path) -> None:
    data = b"".join(LINES)
    packed = _write(tmp_path / "a.log.gz", gzip.compress(data))
    assert _read(packed, start=31) == [(31, "été".encode(), 37), (37, b"last", 42)]


def test_real_fixture_plain_and_gzip_agree(tmp_path: Path) -> None:
    source = FIXTURES / "squid" / "beats-access1.log"
    packed = _write(tmp_path / "access1.log.gz", gzip.compress(source.read_bytes()))
    plain = [(r.origin.file_id, r.origin.offset) for r, _ in iter_records(source, "s")]
    gz = [(r.origin.file_id, r.origin.offset) for r, _ in iter_records(packed, "s")]
    assert len(plain) == 100
    assert plain == gz


def test_partial_last_line_waits_when_complete_only(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.log", b"one\ntwo\nthr")
    assert _read(path, complete_only=True) == [(0, b"one", 4), (4, b"two", 8)]
    # A finished file (backfill) has no writer: its last line is whole without a newline.
    assert _read(path) == [(0, b"one", 4), (4, b"two", 8), (8, b"thr", 11)]
    with path.open("ab") as fh:
        fh.write(b"ee\n")
    assert _read(path, start=8, complete_only=True) == [(8, b"three", 14)]


def test_over_long_line_is_one_record_and_the_next_line_is_found(tmp_path: Path) -> None:
    long = b"x" * (70 * 1024)
    data = b"short\n" + long + b"\nafter\n"
    path = _write(tmp_path / "a.log", data)
    got = _read(path)
    assert len(got) == 3
    offset, record, after = got[1]
    assert offset == 6
    assert len(record) > MAX_LINE
    assert len(record) > pipeline.MAX_LINE  # so the pipeline rejects it rather than parse it
    assert record == long[: len(record)]
    assert after == 6 + len(long) + 1
    assert got[2] == (after, b"after", len(data))


def test_line_of_exactly_max_line_bytes_is_kept_whole(tmp_path: Path) -> None:
    line = b"y" * MAX_LINE
    path = _write(tmp_path / "a.log", line + b"\r\n" + b"next\n")
    got = _read(path)
    assert got == [(0, line, MAX_LINE + 2), (MAX_LINE + 2, b"next", MAX_LINE + 7)]


def test_over_long_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    long = b"z" * (MAX_LINE * 2 + 10)
    path = _write(tmp_path / "a.log", b"head\n" + long)
    assert _read(path, complete_only=True) == [(0, b"head", 5)]
    with path.open("ab") as fh:
        fh.write(b"tail\nnext\n")
    got = _read(path, start=5, complete_only=True)
    assert len(got) == 2
    assert got[0][0] == 5
    assert len(got[0][1]) > MAX_LINE
    assert got[0][2] == 5 + len(long) + 5
    assert got[1] == (got[0][2], b"next", got[0][2] + 5)


def test_blank_lines_are_not_records_but_count_in_offsets(tmp_path: Path) -> None:
    data = b"\n\none\n   \n\t\r\ntwo\n\n"
    path = _write(tmp_path / "a.log", data)
    assert _read(path) == [(2, b"one", 6), (13, b"two", 17)]


def test_crlf_is_stripped(tmp_path: Path) -> None:
    data = b"one\r\ntwo\r\nthree"
    path = _write(tmp_path / "a.log", data)
    assert _read(path) == [(0, b"one", 5), (5, b"two", 10), (10, b"three", 15)]
    # only the line ending: other whitespace is part of the record
    path2 = _write(tmp_path / "b.log", b" padded \r\n")
    assert _read(path2) == [(0, b" padded ", 10)]


def test_empty_file_has_no_records(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.log", b"")
    assert _read(path) == []
    assert _read(path, complete_only=True) == []


def test_identity_is_the_first_line(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.log", b"header\none\n")
    b = _write(tmp_path / "b.log", b"header\ntwo\nthree\n")
    c = _write(tmp_path / "c.log", b"other\none\n")
    assert identify(a) == identify(b)
    assert identify(a) != identify(c)


def test_batches_hold_the_records_a_quiet_session_does_not_pass_over(tmp_path: Path) -> None:
    """A backfill's batches: the same records as read one by one, less those ``quiet``
    passes over, which are counted; each batch of the size asked (lines, quiet or not); a
    blank line is neither; an over-long line is never passed over."""
    long = b"q" * (MAX_LINE + 10)
    lines = [b"a1\n", b"q2\n", b"\n", b"q3\n", b"a4\n", long + b"\n", b"q5\n", b"a6"]
    path = _write(tmp_path / "a.log", b"".join(lines))

    def quiet(data: bytes) -> bool:
        return data.startswith(b"q")

    batches = list(read_batches(path, "src", 3, quiet=quiet, now=NOW))
    assert [(len(records), passed) for records, passed in batches] == [(1, 2), (2, 1), (1, 0)]
    kept = [rec for records, _ in batches for rec in records]
    expected = [rec for rec, _ in iter_records(path, "src", now=NOW)]
    expected = [rec for rec in expected if not (quiet(rec.data) and len(rec.data) <= MAX_LINE)]
    assert kept == expected
    assert [r.data[:2] for r in kept] == [b"a1", b"a4", b"qq", b"a6"]
    plain = list(read_batches(path, "src", 100, now=NOW))
    assert [(len(records), passed) for records, passed in plain] == [(7, 0)]
