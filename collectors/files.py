"""Reading log files as raw records with exact byte offsets: plain or gzip-compressed.

A file is identified by a hash of its first line, so the same log read live and later from
its rotated ``.gz`` copy gives the same origins (and so the same event ids).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from monitord.core.model import Origin, RawRecord, content_digest

MAX_LINE = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def open_log(path: Path) -> io.BufferedIOBase:
    """The uncompressed byte stream of a plain or gzip file."""
    if is_gzip(path):
        return gzip.open(path, "rb")
    return path.open("rb")


IDENTITY_LIMIT = 4 * MAX_LINE


def file_identity(head: bytes) -> str:
    return hashlib.blake2b(head[:IDENTITY_LIMIT], digest_size=16).hexdigest()


def read_head(fh: io.BufferedIOBase) -> tuple[bytes, bool]:
    """What identifies a file: its first line, or when that is a ``#`` header (Zeek's
    ``#separator``, the same in every Zeek log), the header lines through the first line that
    is not one (Zeek's ``#open`` carries the time the file was begun). Also whether all of it
    is written yet (its last line has its newline)."""
    head = b""
    while True:
        line = fh.readline(MAX_LINE)
        head += line
        complete = line.endswith(b"\n") or len(line) >= MAX_LINE
        if not complete or not line.startswith(b"#") or len(head) >= IDENTITY_LIMIT:
            return head, complete


def identify(path: Path) -> str:
    with open_log(path) as fh:
        return file_identity(read_head(fh)[0])


def read_line(fh: io.BufferedIOBase) -> tuple[bytes, int, bool]:
    """One line, at most MAX_LINE + 1 bytes kept (over-long lines are cut and flagged by their
    length), the number of bytes consumed, and whether the line ended with its newline."""
    line = fh.readline(MAX_LINE + 1)
    consumed = len(line)
    complete = line.endswith(b"\n")
    if len(line) > MAX_LINE and not complete:
        more, complete = _rest_of_line(fh)
        consumed += more
    return line, consumed, complete


def _rest_of_line(fh: io.BufferedIOBase) -> tuple[int, bool]:
    """Pass over the rest of an over-long line: the bytes consumed, and whether the line
    ended with its newline."""
    consumed = 0
    while True:
        more = fh.readline(MAX_LINE)
        consumed += len(more)
        if not more or more.endswith(b"\n"):
            return consumed, bool(more)


def _lines(
    fh: io.BufferedIOBase, start: int, complete_only: bool
) -> Iterator[tuple[int, int, bytes]]:
    """Each line with something on it from byte ``start``: (its offset, the offset after
    it, its bytes without the line end); with ``complete_only`` a last line without its
    newline is left for later."""
    fh.seek(start)
    offset = start
    readline = fh.readline
    while True:
        line = readline(MAX_LINE + 1)
        if not line:
            return
        at = offset
        offset += len(line)
        if not line.endswith(b"\n"):
            if len(line) > MAX_LINE:
                more, complete = _rest_of_line(fh)
                offset += more
            else:
                complete = False
            if complete_only and not complete:
                return
        if line.strip():
            yield at, offset, line.rstrip(b"\r\n")


def read_header(path: Path, prefix: str, limit: int) -> list[str]:
    """The lines at the start of ``path`` (before byte ``limit``) that begin with ``prefix``:
    what a session resumed in the middle of the file must see again."""
    lines: list[str] = []
    marker = prefix.encode()
    with open_log(path) as fh:
        offset = 0
        while offset < limit:
            line, consumed, _complete = read_line(fh)
            if not consumed or not line.startswith(marker):
                break
            offset += consumed
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
    return lines


def records_before(path: Path, source: str, end: int, span: int) -> Iterator[RawRecord]:
    """The whole lines of ``path`` in the ``span`` bytes before offset ``end`` (a line
    boundary), as records with their origins."""
    start = max(0, end - span)
    if start > 0:
        with open_log(path) as fh:
            fh.seek(start - 1)
            start += len(fh.readline(end - start + 1)) - 1  # to the start of the next line
    for rec, after in iter_records(path, source, start=start, complete_only=True):
        if after > end:
            return
        yield rec


def iter_records(
    path: Path,
    source: str,
    *,
    start: int = 0,
    complete_only: bool = False,
    now: datetime | None = None,
) -> Iterator[tuple[RawRecord, int]]:
    """Each line of ``path`` from byte ``start`` as a RawRecord and the offset after it.

    With ``complete_only`` a last line without its newline is left for later (a writer is
    still writing it); otherwise it is read as a whole line (a finished backfill file).
    """
    read_at = now or datetime.now(UTC)
    mtime = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    where = str(path)
    with open_log(path) as fh:
        file_id = file_identity(read_head(fh)[0])
        for at, after, data in _lines(fh, start, complete_only):
            # With its content's digest, which its events' ids are made with: the pipeline
            # then need not make the record again.
            origin = Origin(source, file_id, at, where, "", content_digest(data))
            yield RawRecord(origin, data, read_at, mtime), after


def read_batches(
    path: Path,
    source: str,
    size: int,
    *,
    quiet: Callable[[bytes], bool] | None = None,
    now: datetime | None = None,
) -> Iterator[tuple[list[RawRecord], int]]:
    """A whole file's lines (a backfill) in batches of ``size`` lines, each as its records
    and how many lines ``quiet`` passed over: a line it says carries nothing (a session's
    ``quiet``, see ``collectors.parsers.base.QuietLines``) is counted, not made a record.
    A last line without its newline is read as a whole line."""
    read_at = now or datetime.now(UTC)
    mtime = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    where = str(path)
    records: list[RawRecord] = []
    passed = 0
    with open_log(path) as fh:
        file_id = file_identity(read_head(fh)[0])
        for at, _after, data in _lines(fh, 0, False):
            if quiet is not None and len(data) <= MAX_LINE and quiet(data):
                passed += 1
            else:
                origin = Origin(source, file_id, at, where, "", content_digest(data))
                records.append(RawRecord(origin, data, read_at, mtime))
            if len(records) + passed >= size:
                yield records, passed
                records, passed = [], 0
    if records or passed:
        yield records, passed
