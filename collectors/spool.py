"""The agents' spool directory: report files (JSON Lines, ``monitord.agent/1``) dropped by
endpoint agents, a file share, or the HTTPS ingest endpoint.

A writer puts a file in under a temporary name (starting with ``.`` or ending in ``.tmp`` or
``.part``) and renames it to ``*.jsonl`` when it is complete; only such names are read. A
file is moved to ``done/`` once its events are committed (the store's checkpoint says so),
so a restart in the middle of a file carries on at the committed line and reads nothing
twice. A bad report inside a good file is stored as a rejected line with its reason, like a
bad log line.

Anything in the spool is hostile until checked, and nothing in it stops the reader. An entry
named ``*.jsonl`` goes to ``rejected/``, with a ``.reason`` file beside it, when its name is
not plain text (bytes that are not UTF-8, control characters, over 200 characters), when it
is not a regular file (a directory, a symbolic link, a FIFO), when it is larger than
:data:`MAX_FILE`, when a line is longer than ``MAX_LINE``, when its first report is not
JSON of that schema (nested too deep included), or when reading it fails in any other way.
Files are opened with ``O_NOFOLLOW`` (and ``O_NONBLOCK``, so a FIFO swapped in cannot hang
the reader) and read as plain bytes from that one descriptor: a link cannot lead the reader
out of the spool, and a compressed file is not expanded. ``done/`` and ``rejected/`` are
opened with ``O_NOFOLLOW`` too; if either is a link or a file, it is renamed aside (to a
dot-name the reader ignores) and a real folder made in its place.

Screenshots named by a report (``{"kind": "screenshot", "data": {"file", "sha256"}}``, the
file relative to the report) are checked against their SHA-256 and copied into the evidence
folder under that hash, within the agent's ``screenshot_quota``; a name that would lead
outside the spool is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import json
import logging
import os
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from collectors.files import MAX_LINE, file_identity, read_head, read_line
from collectors.follow import load_checkpoint
from collectors.httpserve import ThrottledLog
from collectors.parsers.base import Batch
from collectors.screenshots import ScreenshotError, check_blob, read_screenshot, store_blob
from monitord.core.clock import Clock
from monitord.core.model import Checkpoint, Origin, RawRecord
from monitord.store.shots import admit

log = logging.getLogger("monitord.spool")
SCHEMA = "monitord.agent/1"
SUFFIX = ".jsonl"
MAX_FILE = 64 * 1024 * 1024  # the most the endpoint's max_body can be
MAX_NAME = 200
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class SpoolFileError(Exception):
    """A spool entry that is not a file of reports; the message says why."""


def shown(name: str) -> str:
    """A file name as it can be logged and stored: odd bytes and controls escaped."""
    return repr(os.fsencode(name))[2:-1]


def is_candidate(name: str) -> bool:
    """A name a finished report file would have (not one still being written)."""
    return (
        name.endswith(SUFFIX) and not name.startswith(".") and not name.endswith((".tmp", ".part"))
    )


def name_problem(name: str) -> str | None:
    """Why a report file's name is refused, or None."""
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in name):
        return "its name is not UTF-8"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "its name holds control characters"
    if len(name) > MAX_NAME:
        return f"its name is longer than {MAX_NAME} characters"
    return None


@contextlib.contextmanager
def open_report(path: Path) -> Iterator[io.BufferedReader]:
    """A report file opened without following a link, checked to be a regular file no
    larger than MAX_FILE."""
    try:
        fd = os.open(path, _OPEN)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SpoolFileError("a symbolic link, not a file") from None
        raise SpoolFileError(f"cannot be opened: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise SpoolFileError("a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise SpoolFileError("not a regular file")
        if st.st_size > MAX_FILE:
            raise SpoolFileError(f"larger than {MAX_FILE} bytes")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as fh:
        yield fh


def lines_of(fh: io.BufferedReader) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of a report file; a line over MAX_LINE stops it."""
    n = 0
    while True:
        raw, consumed, _complete = read_line(fh)
        if not consumed:
            return
        n += 1
        if len(raw) > MAX_LINE:
            raise SpoolFileError(f"line {n} is longer than {MAX_LINE} bytes")
        yield n, raw


def malformed(path: Path) -> str | None:
    """Why ``path`` is not a file of agent reports at all, or None when it is."""
    problem = name_problem(path.name)
    if problem is not None:
        return problem
    try:
        with open_report(path) as fh:
            first = True
            for n, raw in lines_of(fh):
                if not first or not raw.strip():
                    continue
                first = False
                try:
                    report = json.loads(raw)
                except (ValueError, UnicodeDecodeError) as exc:
                    return f"line {n}: not JSON ({exc})"
                except RecursionError:
                    return f"line {n}: JSON nested too deeply"
                if not isinstance(report, dict) or report.get("schema") != SCHEMA:
                    return f"line {n}: not a {SCHEMA} report"
    except SpoolFileError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    return None  # an empty file: nothing to read, nothing wrong


def screenshots_of(path: Path) -> Iterator[tuple[str, str, str]]:
    """(file, sha256, agent_id) of every screenshot report in a report file."""
    with open_report(path) as fh:
        for _n, raw in lines_of(fh):
            if b'"screenshot"' not in raw:
                continue
            try:
                report = json.loads(raw)
                data = report["data"]
                if report.get("kind") == "screenshot":
                    yield str(data["file"]), str(data["sha256"]), str(report["agent_id"])
            except (ValueError, KeyError, TypeError, RecursionError):
                continue  # the parser rejects the report itself, with its reason


def read_records(
    path: Path, source: str, start: int, now: datetime
) -> Iterator[tuple[RawRecord, int]]:
    """Each report line of ``path`` from byte ``start`` with the offset after it, read from
    one descriptor opened without following links; also (first) the file's identity."""
    with open_report(path) as fh:
        mtime = datetime.fromtimestamp(os.fstat(fh.fileno()).st_mtime, UTC)
        file_id = file_identity(read_head(fh)[0])
        fh.seek(start)
        offset = start
        while True:
            line, consumed, _complete = read_line(fh)
            if not consumed:
                return
            if len(line) > MAX_LINE:
                raise SpoolFileError(f"a line at byte {offset} is longer than {MAX_LINE} bytes")
            origin = Origin(source, file_id, offset, str(path))
            offset += consumed
            if line.strip():
                yield RawRecord(origin, line.rstrip(b"\r\n"), now, mtime), offset


def identify_report(path: Path) -> str:
    with open_report(path) as fh:
        return file_identity(read_head(fh)[0])


class SpoolCollector:
    """Reads the report files dropped into one spool folder."""

    def __init__(
        self,
        name: str,
        folder: Path,
        evidence: Path,
        engine: Engine,
        clock: Clock,
        *,
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        quota: int = 512 * 1024 * 1024,
    ) -> None:
        self.name = name
        self.folder = folder
        self.evidence = evidence
        self.engine = engine
        self.clock = clock
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.quota = quota  # bytes of screenshots one agent may have kept
        self._stop = asyncio.Event()
        self._stuck: set[tuple[str, int]] = set()  # entries that could not even be moved
        self.throttle = ThrottledLog(log)

    def stop(self) -> None:
        self._stop.set()

    def waiting(self) -> list[Path]:
        """The entries to look at, oldest first: every ``*.jsonl`` name, whatever it is."""
        try:
            with os.scandir(self.folder) as it:
                found = []
                for entry in it:
                    if not is_candidate(entry.name):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue  # gone since it was listed
                    if (entry.name, st.st_ino) not in self._stuck:
                        found.append((st.st_mtime, entry.name))
        except OSError as exc:
            self.throttle.log(
                logging.ERROR, "list", "%s: cannot list %s: %s", self.name, self.folder, exc
            )
            return []
        return [self.folder / name for _, name in sorted(found)]

    def _subfolder(self, top: int, name: str) -> int:
        """A descriptor of the real folder ``name`` in the spool; a link or a file there is
        renamed aside first."""
        try:
            return os.open(name, _FOLDER, dir_fd=top)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            stamp = self.clock.now().strftime("%Y%m%dT%H%M%S")
            aside = f".{name}.not-a-folder.{stamp}.{os.getpid()}"
            os.rename(name, aside, src_dir_fd=top, dst_dir_fd=top)
            log.warning(
                "%s: %s/%s was not a folder (a link or a file): renamed to %s",
                self.name,
                self.folder,
                name,
                aside,
            )
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=top)
        return os.open(name, _FOLDER, dir_fd=top)

    def _move(self, path: Path, to: str, reason: str | None = None) -> None:
        top = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            target = self._subfolder(top, to)
            try:
                final = path.name
                n = 0
                while True:  # the same name again: keep both
                    try:
                        os.stat(final, dir_fd=target, follow_symlinks=False)
                    except FileNotFoundError:
                        break
                    n += 1
                    final = f"{path.stem}.{int(self.clock.now().timestamp())}.{n}{path.suffix}"
                if reason is not None:
                    note = f"{final}.reason"
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(note, dir_fd=target)
                    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                    fd = os.open(note, flags, 0o600, dir_fd=target)
                    with os.fdopen(fd, "w", encoding="utf-8") as fh:
                        fh.write(f"{shown(path.name)}: {reason}\n")
                os.replace(path.name, final, src_dir_fd=top, dst_dir_fd=target)
            finally:
                os.close(target)
        finally:
            os.close(top)

    def _reject(self, path: Path, reason: str) -> None:
        self.throttle.log(
            logging.WARNING,
            "rejected",
            "%s: %s is not agent reports (%s): moved to rejected/",
            self.name,
            shown(path.name),
            reason,
        )
        try:
            self._move(path, "rejected", reason)
        except OSError as exc:
            log.error(
                "%s: %s could not be moved to rejected/ (%s): left where it is, skipped",
                self.name,
                shown(path.name),
                exc,
            )
            with contextlib.suppress(OSError):
                self._stuck.add((path.name, path.lstat().st_ino))

    def _keep_screenshots(self, path: Path) -> None:
        for name, digest, agent in screenshots_of(path):
            try:
                data = read_screenshot(self.folder, name, digest)
                check_blob(data, digest)
                over = admit(
                    self.engine, agent[:128], digest, len(data), self.quota, self.clock.now()
                )
                if over is not None:
                    raise ScreenshotError(f"screenshot {shown(name)} not kept: {over}")
                stored = store_blob(data, digest, self.evidence)
                log.info("%s: screenshot %s kept as %s", self.name, shown(name), stored)
            except ScreenshotError as exc:
                self.throttle.log(
                    logging.WARNING, "screenshot", "%s: %s: %s", self.name, shown(path.name), exc
                )

    def _batches(self, path: Path, start: int) -> list[Batch]:
        inode = path.lstat().st_ino
        out: list[Batch] = []
        records: list[RawRecord] = []
        offset = start
        file_id = ""
        for rec, after in read_records(path, self.name, start, self.clock.now()):
            file_id = rec.origin.file_id
            records.append(rec)
            offset = after
            if len(records) >= self.batch_size:
                out.append(Batch(records, Checkpoint(self.name, str(path), file_id, inode, offset)))
                records = []
        end = path.lstat().st_size
        if records or offset != end:
            file_id = file_id or identify_report(path)
            out.append(Batch(records, Checkpoint(self.name, str(path), file_id, inode, end)))
        return out

    def _prepare(self, path: Path, resume: Checkpoint | None) -> list[Batch]:
        """The batches of one checked file, its screenshots kept."""
        file_id = identify_report(path)
        start = resume.offset if resume is not None and resume.file_id == file_id else 0
        self._keep_screenshots(path)
        return self._batches(path, start)

    async def _committed(self, batch: Batch) -> None:
        """Wait until the store holds the file's last batch (its checkpoint)."""
        want = batch.checkpoint
        while not self._stop.is_set():
            cp = await asyncio.to_thread(load_checkpoint, self.engine, self.name)
            if cp is not None and cp.file_id == want.file_id and cp.offset >= want.offset:
                return
            await asyncio.sleep(0.05)

    async def batches(self) -> AsyncIterator[Batch]:
        resume = await asyncio.to_thread(load_checkpoint, self.engine, self.name)
        while not self._stop.is_set():
            files = await asyncio.to_thread(self.waiting)
            for path in files:
                if self._stop.is_set():
                    return
                try:
                    reason = await asyncio.to_thread(malformed, path)
                    found = [] if reason else await asyncio.to_thread(self._prepare, path, resume)
                except FileNotFoundError:
                    continue  # taken away since it was listed
                except Exception as exc:  # whatever the file holds, the reader goes on
                    reason = f"could not be read: {type(exc).__name__}: {exc}"
                if reason is not None:
                    await asyncio.to_thread(self._reject, path, reason)
                    continue
                resume = None
                for batch in found:
                    if self._stop.is_set():
                        return  # the rest is read from the checkpoint at the next start
                    yield batch
                if found:
                    await self._committed(found[-1])
                if self._stop.is_set():
                    return  # not moved: the next start finds it and its checkpoint
                try:
                    await asyncio.to_thread(self._move, path, "done")
                except OSError as exc:
                    await asyncio.to_thread(self._reject, path, f"could not be moved: {exc}")
            if not files:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.poll_interval)
