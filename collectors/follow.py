"""Following a log file from its committed checkpoint, through rotation and restarts.

- Only complete lines are read: a partial last line waits for its newline.
- Rename rotation (``pihole.log`` moved to ``pihole.log.1`` and a new file created): the old
  file is read to its end through the handle already open, then the new one from its start.
- copytruncate (the file copied away, then cut to nothing): the lines written between the
  last read and the copy are read from the copy, found by its first line, then the file from
  its start.
- Deletion: the open file is finished; a file re-created at the path is read from its start.
- A restart resumes at the committed position; if the file was rotated meanwhile, the rotated
  file is found by its first line and finished before the new one is read.
- More than one rotation since the file last read (monitord behind, or stopped, while the log
  was rotated twice): the copies written after it are read whole, oldest first, before the
  new file. Which came after is told by their last write time, which logrotate keeps when it
  renames or gzips a copy.
- The new file at the path not openable yet (empty, or its first line unfinished) when the
  old one is finished: the copies are looked for again once it opens (and, until then,
  whenever the folder changes), so that a file written and rotated away before the follower
  looked again (behind, busy, or just started again) is read whole, in its turn.
- A ``.gz`` copy still being written (logrotate compresses under the final name) is passed
  over while its plain copy is there, and never stops the follower.
- The first start (no checkpoint yet): the position at the start of the first file opened is
  saved before any line of it is read, so that if the daemon stops before it commits a batch
  and the file is rotated meanwhile, the next start finds that file by its first line and
  reads it whole. A file written and rotated away before the first could be opened (the path
  empty or absent at the start) is read whole too; copies written before the start are not
  (they are older logs, for ``monitord ingest``).

inotify (through watchdog) wakes the follower as soon as the file changes; it also polls, so a
file system without inotify (NFS, some containers) is followed too, only less promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from collectors.files import IDENTITY_LIMIT, MAX_LINE, file_identity, open_log, read_head, read_line
from collectors.parsers.base import Batch
from monitord.core.clock import Clock
from monitord.core.model import Checkpoint, Origin, RawRecord
from monitord.store.database import mine, site_of, table_of
from monitord.store.tables import CheckpointRow

log = logging.getLogger("monitord.follow")


def load_checkpoint(engine: Engine, source: str) -> Checkpoint | None:
    """Where the engine's school last read ``source`` up to, if it has."""
    table = table_of(CheckpointRow)
    with engine.connect() as conn:
        own = mine(conn, table.c.site_id) & (table.c.source == source)
        row = conn.execute(select(table).where(own)).first()
    if row is None:
        return None
    return Checkpoint(row.source, row.path, row.file_id, int(row.inode), int(row.offset))


def save_first_checkpoint(engine: Engine, cp: Checkpoint, now: datetime) -> None:
    """Save ``cp`` as where ``cp.source`` has read up to, unless a position is saved for it
    already: the first file a source opens, before a line of it is read."""
    table = table_of(CheckpointRow)
    with engine.begin() as conn:
        own = mine(conn, table.c.site_id) & (table.c.source == cp.source)
        if conn.execute(select(table.c.source).where(own)).first() is not None:
            return
        conn.execute(
            table.insert().values(
                site_id=site_of(conn),
                source=cp.source,
                path=cp.path,
                file_id=cp.file_id,
                inode=cp.inode,
                offset=cp.offset,
                updated_at=now,
            )
        )


# Reading a gzip file that is still being written ends in EOFError, not an OSError.
UNREADABLE = (OSError, EOFError)


def _generation(path: Path) -> int:
    """``name.2`` and ``name.2.gz``: 2, so that of two copies written in the same instant the
    one logrotate numbered lower (newer) sorts first; 0 for other names."""
    suffixes = path.name.removesuffix(".gz").rsplit(".", 1)
    return int(suffixes[1]) if len(suffixes) == 2 and suffixes[1].isdigit() else 0


class _Moved(Exception):
    """A copy was renamed or removed while the copies were being looked at."""


def _rotated(path: Path) -> list[tuple[float, int, Path]]:
    """(last write time, inode, file) of each file a rotation may have made of ``path``,
    newest first."""
    found: list[tuple[float, int, int, Path]] = []
    for p in path.parent.glob(path.name + "[.-]*"):
        try:
            st = p.stat()
        except FileNotFoundError as exc:
            raise _Moved from exc
        except OSError:  # unreadable: as if not there
            continue
        if stat.S_ISREG(st.st_mode):
            found.append((st.st_mtime, -_generation(p), st.st_ino, p))
    found.sort(key=lambda x: (x[0], x[1]), reverse=True)
    return [(mtime, ino, p) for mtime, _, ino, p in found]


def _identify(path: Path, inode: int) -> str | None:
    """The identity of the copy ``path`` once its first line is complete, if it is still the
    file ``inode``."""
    try:
        with open_log(path) as fh:
            if os.fstat(fh.fileno()).st_ino != inode:
                raise _Moved
            head, complete = read_head(fh)
    except FileNotFoundError as exc:
        raise _Moved from exc
    return file_identity(head) if complete else None


def _copies(path: Path) -> list[tuple[float, Path, str]]:
    """(last write time, file, identity) of each rotated copy of ``path`` whose first line is
    complete, newest first. A copy renamed or removed while looked at (logrotate moving
    ``name.1`` to ``name.2``, or removing a copy it has gzipped) has the folder looked at
    again, so that no copy is missed between its old name and its new."""
    found: list[tuple[float, Path, str]] = []
    for _ in range(5):
        found = []
        try:
            for mtime, inode, p in _rotated(path):
                try:
                    file_id = _identify(p, inode)
                except _Moved:
                    raise
                except UNREADABLE:
                    continue
                if file_id is not None:
                    found.append((mtime, p, file_id))
        except _Moved:
            continue
        break
    return found


def _plain_first(paths: list[Path]) -> list[Path]:
    """A plain copy before a .gz one: the .gz may still be being written from it."""
    return sorted(paths, key=lambda p: p.suffix == ".gz")


def find_copies(path: Path, file_id: str) -> list[Path]:
    """The rotated copies of ``path`` that are the file ``file_id``, plain ones first. None
    found is looked for again a moment later: a copy renamed while the folder was read may
    have been in it under neither name."""
    for wait in (0.0, 0.05, 0.2):
        time.sleep(wait)
        found = [p for _, p, seen in _copies(path) if seen == file_id]
        if found:
            return _plain_first(found)
    return []


def rotated_since(path: Path, since: float, known: set[str]) -> list[tuple[str, list[Path]]]:
    """The copies of ``path`` last written at or after ``since`` whose identities are not in
    ``known`` (the file finished, the one at the path now): the whole files that rotations
    made after the file last read. Oldest first, each identity once with its copies (plain
    ones before a .gz). A copy of an older file is not one of them, even while its .gz, being
    written now, is newer."""
    older: set[str] = set()
    newer: list[tuple[str, Path]] = []
    for mtime, p, file_id in _copies(path):
        if mtime < since:
            older.add(file_id)
        else:
            newer.append((file_id, p))
    chosen: dict[str, list[Path]] = {}
    for file_id, p in sorted(newer, key=lambda x: x[1].suffix == ".gz"):
        if file_id not in known and file_id not in older:
            chosen.setdefault(file_id, []).append(p)
    order = {p: i for i, (_, p) in enumerate(newer)}
    return sorted(chosen.items(), key=lambda item: order[item[1][0]], reverse=True)


class _Open:
    """The file being read: its handle, identity and position."""

    def __init__(self, path: Path, fh: io.BufferedIOBase, file_id: str, inode: int) -> None:
        self.path = path
        self.fh = fh
        self.file_id = file_id
        self.inode = inode
        self.offset = 0

    def close(self) -> None:
        self.fh.close()


class _Wake(FileSystemEventHandler):
    """Turns inotify events about the followed file into a wake-up of the follower."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        self.name = path.name
        self.loop = loop
        self.event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = (event.src_path, getattr(event, "dest_path", ""))
        if any(os.fsdecode(p).endswith(self.name) for p in paths if p):
            self.loop.call_soon_threadsafe(self.event.set)


class FileCollector:
    """Follows one ``[[sources]]`` file."""

    def __init__(
        self,
        name: str,
        path: Path,
        engine: Engine,
        clock: Clock,
        *,
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        use_inotify: bool = True,
    ) -> None:
        self.name = name
        self.path = path
        self.engine = engine
        self.clock = clock
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.use_inotify = use_inotify
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._current: _Open | None = None
        self._resume: Checkpoint | None = None
        # While no file at the path is open: the last write time of the file finished last
        # and the identities read up to it. The copies rotated after it are read before the
        # file next found at the path, however long that takes.
        self._finished: tuple[float, frozenset[str]] | None = None
        self._folder_mtime: int | None = None
        self._first = False  # no position saved for this source yet

    def start(self) -> None:
        """Take up from the committed checkpoint; without one (the source's first start),
        read the copies rotated from now on until a file at the path is open, and save a
        position at the start of that file before reading it."""
        self._resume = load_checkpoint(self.engine, self.name)
        if self._resume is None:
            self._first = True
            self._finished = (time.time(), frozenset())

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def close(self) -> None:
        """Close the file being followed (``batches`` does this itself when it ends)."""
        if self._current is not None:
            self._current.close()
            self._current = None

    # --- reading (in a worker thread) ---------------------------------------------------

    def _records(self, cur: _Open, *, finish: bool) -> Iterator[tuple[RawRecord, int]]:
        """Complete lines of the open file from its position; with ``finish`` (the file will
        not grow again) a last line without its newline is read too."""
        mtime = self.clock.now()
        with contextlib.suppress(OSError):
            mtime = _mtime(os.fstat(cur.fh.fileno()).st_mtime)
        read_at = self.clock.now()
        cur.fh.seek(cur.offset)
        offset = cur.offset
        while True:
            line, consumed, complete = read_line(cur.fh)
            if not consumed:
                return
            if not complete and not finish:
                cur.fh.seek(offset)
                return
            origin = Origin(self.name, cur.file_id, offset, str(cur.path))
            offset += consumed
            if line.strip():
                yield RawRecord(origin, line.rstrip(b"\r\n"), read_at, mtime), offset
            else:
                yield RawRecord(origin, b"", read_at, mtime), offset

    def _drain(self, cur: _Open, *, finish: bool = False) -> Iterator[Batch]:
        """The batches of ``cur`` from its position, read one at a time as they are taken,
        so that a backlog of any size is never held whole; ``cur.offset`` is where the
        batch handed out last ends."""
        records: list[RawRecord] = []
        offset = cur.offset
        for rec, after in self._records(cur, finish=finish):
            if rec.data:
                records.append(rec)
            offset = after
            if len(records) >= self.batch_size:
                cur.offset = offset
                yield Batch(records, self._checkpoint(cur, offset))
                records = []
        if records or offset != cur.offset:
            cur.offset = offset
            yield Batch(records, self._checkpoint(cur, offset))

    def _checkpoint(self, cur: _Open, offset: int) -> Checkpoint:
        return Checkpoint(self.name, str(cur.path), cur.file_id, cur.inode, offset)

    def _open(self, path: Path) -> _Open | None:
        """Open ``path`` once its first line is complete (its identity is known)."""
        try:
            fh = open_log(path)
        except FileNotFoundError:
            return None
        head, complete = read_head(fh)
        if not complete:
            fh.close()
            return None
        return _Open(path, fh, file_identity(head), os.fstat(fh.fileno()).st_ino)

    def _open_copy(self, file_id: str, paths: list[Path]) -> _Open | None:
        """The first of ``paths``, copies of the file ``file_id``, that opens as that file. A
        plain copy goes once logrotate has written its .gz, perhaps while we look: then the
        copies are looked for again."""
        for _ in range(2):
            for p in paths:
                try:
                    cur = self._open(p)
                except UNREADABLE:
                    continue
                if cur is not None and cur.file_id == file_id:
                    return cur
                if cur is not None:
                    cur.close()
            paths = find_copies(self.path, file_id)
        return None

    def _finish_rotated(self, checkpoint: Checkpoint) -> Iterator[Batch]:
        """After a restart: finish the file the checkpoint names if it was rotated away."""
        found = find_copies(self.path, checkpoint.file_id)
        cur = self._open_copy(checkpoint.file_id, found) if found else None
        if cur is None:
            log.warning(
                "%s: the file read before the restart (%s) is gone; lines after its last "
                "committed position cannot be read",
                self.name,
                checkpoint.path,
            )
            return
        log.info("%s: finishing %s, rotated while monitord was stopped", self.name, cur.path)
        cur.offset = checkpoint.offset
        try:
            yield from self._drain(cur, finish=True)
            self._finished = (os.fstat(cur.fh.fileno()).st_mtime, frozenset({checkpoint.file_id}))
        finally:
            cur.close()

    def _read_between(self, opened: str | None = None) -> Iterator[Batch]:
        """The whole copies that rotations made after the file finished last (``_finished``),
        oldest first, before the file at the path (``opened``, when it is open); each copy
        read is remembered as finished, so that none is read twice."""
        if self._finished is None:
            return
        since, known = self._finished
        exclude = set(known) if opened is None else {*known, opened}
        for file_id, paths in rotated_since(self.path, since, exclude):
            cur = self._open_copy(file_id, paths)
            if cur is None:
                log.warning("%s: cannot open %s", self.name, paths[0])
                continue
            log.info(
                "%s: reading %s whole: it was rotated away before monitord had finished the "
                "file before it",
                self.name,
                cur.path,
            )
            try:
                self._save_first(cur)
                yield from self._drain(cur, finish=True)
                since = max(since, os.fstat(cur.fh.fileno()).st_mtime)
            except UNREADABLE as exc:  # the lines read before it are not to be lost with it
                log.warning("%s: cannot read %s: %s", self.name, cur.path, exc)
            finally:
                cur.close()
            known = known | {file_id}
            self._finished = (since, known)

    def _save_first(self, cur: _Open) -> None:
        """Before the first line this source ever reads: its position, the start of ``cur``."""
        if self._first:
            save_first_checkpoint(self.engine, self._checkpoint(cur, 0), self.clock.now())
            self._first = False

    def _copied_tail(self, cur: _Open) -> Iterator[Batch]:
        """copytruncate: the lines after our position went into the copy; read them there."""
        found = find_copies(self.path, cur.file_id)
        tail = self._open_copy(cur.file_id, found) if found else None
        if tail is None:
            return
        tail.offset = cur.offset
        tail.path = self.path  # the lines belong to the followed file's identity
        try:
            yield from self._drain(tail, finish=True)
            self._finished = (os.fstat(tail.fh.fileno()).st_mtime, frozenset({cur.file_id}))
        finally:
            tail.close()

    def poll(self) -> list[Batch]:
        """One look at the file: the batches of lines that are new since the last look."""
        return list(self.look())

    def look(self) -> Generator[Batch, None, None]:
        """One look at the file, its new batches made one at a time as they are taken (the
        follower's memory stays one batch however far behind it is). A look left unfinished
        is taken up by the next: each position is advanced only past a batch handed out."""
        if self._current is None and self._resume is not None:
            resume, self._resume = self._resume, None
            yield from self._start_from_checkpoint(resume)
        cur = self._current
        if cur is not None:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                st = None
            if st is not None and st.st_ino == cur.inode and not self._unchanged(cur, st.st_size):
                log.info(
                    "%s: %s was truncated (copytruncate): reading from the start",
                    self.name,
                    self.path,
                )
                yield from self._copied_tail(cur)
                cur.close()
                self._current = cur = None
            elif st is None or st.st_ino != cur.inode:
                yield from self._drain(cur, finish=True)
                self._finished = (os.fstat(cur.fh.fileno()).st_mtime, frozenset({cur.file_id}))
                cur.close()
                self._current = cur = None
                if st is not None:
                    log.info("%s: %s was rotated: reading the new file", self.name, self.path)
            else:
                yield from self._drain(cur)
        if self._current is None:
            opened = self._open(self.path)
            # Looked for once the file at the path is open, so that one rotated away before
            # it was (even while the path held nothing to open) is found; and while the path
            # holds nothing to open, each time the folder changes.
            if opened is not None or self._folder_changed():
                try:
                    yield from self._read_between(opened.file_id if opened is not None else None)
                except BaseException:
                    if opened is not None:
                        opened.close()
                    raise
            if opened is not None:
                self._save_first(opened)
                self._finished = None
                self._current = opened
                yield from self._drain(opened)

    def _folder_changed(self) -> bool:
        """Whether a file was added, removed or renamed in the folder since the last look."""
        if self._finished is None:
            return False
        try:
            mtime = os.stat(self.path.parent).st_mtime_ns
        except OSError:
            return False
        changed, self._folder_mtime = mtime != self._folder_mtime, mtime
        return changed

    def _unchanged(self, cur: _Open, size: int) -> bool:
        """Still the same content: not cut shorter than our position, and the same first
        line (a truncated file may already have grown past where we were)."""
        if size < cur.offset:
            return False
        if not isinstance(cur.fh, io.BufferedReader):
            return True  # a compressed file is never truncated in place
        data = os.pread(cur.fh.fileno(), IDENTITY_LIMIT + MAX_LINE, 0)
        head, complete = read_head(io.BytesIO(data))
        return complete and file_identity(head) == cur.file_id

    def _start_from_checkpoint(self, cp: Checkpoint) -> Iterator[Batch]:
        opened = self._open(self.path)
        if opened is not None and opened.file_id == cp.file_id:
            opened.offset = cp.offset
            self._current = opened
            return
        if opened is not None:
            opened.close()
        yield from self._finish_rotated(cp)

    # --- the async side -----------------------------------------------------------------

    async def batches(self) -> AsyncIterator[Batch]:
        await asyncio.to_thread(self.start)
        observer = self._watch()
        try:
            while not self._stop.is_set():
                self._wake.clear()
                found = False
                looking = self.look()
                try:
                    while not self._stop.is_set():
                        batch = await asyncio.to_thread(next, looking, None)
                        if batch is None:
                            break
                        found = True
                        yield batch
                except UNREADABLE as exc:
                    log.warning("%s: cannot read %s: %s", self.name, self.path, exc)
                finally:
                    looking.close()
                if not found:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
            self.close()

    def _watch(self) -> BaseObserver | None:
        if not self.use_inotify or not self.path.parent.is_dir():
            return None
        try:
            observer = Observer()
            handler = _Wake(self.path, asyncio.get_running_loop(), self._wake)
            observer.schedule(handler, str(self.path.parent), recursive=False)
            observer.start()
        except OSError as exc:  # inotify limits reached, or not supported here
            log.warning(
                "%s: no inotify (%s); polling every %.1fs", self.name, exc, self.poll_interval
            )
            return None
        return observer


def _mtime(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)
