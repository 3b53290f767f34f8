"""Following a growing log file: complete lines only, rotation, and resuming from the
checkpoint the pipeline committed."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from collectors import follow
from collectors.files import identify
from collectors.follow import FileCollector, load_checkpoint
from collectors.parsers.base import Batch
from collectors.parsers.squid import PARSER
from monitord.core.clock import FixedClock
from monitord.core.model import Checkpoint, RawRecord
from monitord.service.app import App
from tests.conftest import FIXTURES

pytestmark = pytest.mark.stores

POLL = 0.02
WAIT = 1.5
# Real Squid lines, each with its newline.
REAL = (FIXTURES / "squid" / "beats-access1.log").read_bytes().splitlines(keepends=True)


@contextlib.asynccontextmanager
async def following(collector: FileCollector) -> AsyncIterator[asyncio.Queue[Batch]]:
    """Run the collector in a task that queues its batches; always stop it afterwards."""
    queue: asyncio.Queue[Batch] = asyncio.Queue()

    async def pump() -> None:
        async for batch in collector.batches():
            queue.put_nowait(batch)

    task = asyncio.create_task(pump())
    try:
        yield queue
    finally:
        collector.stop()
        await asyncio.wait_for(task, WAIT)


async def take(queue: asyncio.Queue[Batch], n: int) -> tuple[list[RawRecord], Checkpoint]:
    """The next ``n`` records (however the collector batched them) and the last checkpoint."""
    records: list[RawRecord] = []
    checkpoint: Checkpoint | None = None
    while len(records) < n:
        batch = await asyncio.wait_for(queue.get(), WAIT)
        records.extend(batch.records)
        checkpoint = batch.checkpoint
    assert len(records) == n, [r.data for r in records]
    assert checkpoint is not None
    return records, checkpoint


async def quiet(queue: asyncio.Queue[Batch], seconds: float = 0.2) -> None:
    """Nothing arrives for ``seconds`` (many poll intervals)."""
    await asyncio.sleep(seconds)
    assert queue.empty(), f"unexpected batch: {queue.get_nowait()}"


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def collector(path: Path, app: App, clock: FixedClock, name: str = "proxy") -> FileCollector:
    return FileCollector(name, path, app.engine, clock, poll_interval=POLL)


async def test_appended_lines_are_yielded_with_a_checkpoint(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"".join(REAL[:3]))
    async with following(collector(path, app, clock)) as queue:
        records, cp = await take(queue, 3)
        assert [r.data for r in records] == [line.rstrip(b"\n") for line in REAL[:3]]
        assert [r.origin.offset for r in records] == [0, len(REAL[0]), len(REAL[0] + REAL[1])]
        assert all(r.read_at == clock.now() for r in records)
        assert cp == Checkpoint(
            "proxy", str(path), identify(path), os.stat(path).st_ino, len(b"".join(REAL[:3]))
        )

        # Two whole lines and the start of a third: the checkpoint stops after the whole ones.
        append(path, REAL[3] + REAL[4] + REAL[5][:20])
        records, cp2 = await take(queue, 2)
        assert [r.data for r in records] == [REAL[3].rstrip(b"\n"), REAL[4].rstrip(b"\n")]
        end = len(b"".join(REAL[:5]))
        assert cp2.offset == end
        assert cp2.offset < path.stat().st_size
        assert records[0].origin.offset == cp.offset
        await quiet(queue)


async def test_partial_line_waits_for_its_newline(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(REAL[0])
    async with following(collector(path, app, clock)) as queue:
        _, cp = await take(queue, 1)
        append(path, REAL[1][:30])
        await quiet(queue)
        append(path, REAL[1][30:40])
        await quiet(queue)
        append(path, REAL[1][40:])
        records, cp2 = await take(queue, 1)
        assert records[0].data == REAL[1].rstrip(b"\n")
        assert records[0].origin.offset == cp.offset == len(REAL[0])
        assert cp2.offset == len(REAL[0] + REAL[1])


async def test_file_with_an_unfinished_first_line_waits(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    """Until its first line is complete a file has no identity, so nothing is read."""
    path = tmp_path / "access.log"
    path.write_bytes(REAL[0][:25])
    async with following(collector(path, app, clock)) as queue:
        await quiet(queue)
        append(path, REAL[0][25:] + REAL[1])
        records, cp = await take(queue, 2)
        assert [r.origin.offset for r in records] == [0, len(REAL[0])]
        assert cp.file_id == identify(path)


async def test_missing_file_is_waited_for(tmp_path: Path, app: App, clock: FixedClock) -> None:
    path = tmp_path / "access.log"
    async with following(collector(path, app, clock)) as queue:
        await quiet(queue)
        path.write_bytes(REAL[0])
        records, _ = await take(queue, 1)
        assert records[0].data == REAL[0].rstrip(b"\n")


async def test_renamed_away_file_is_followed_by_the_new_one_from_its_start(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    path = tmp_path / "access.log"
    old = b"".join(REAL[:3])
    path.write_bytes(old)
    async with following(collector(path, app, clock)) as queue:
        _, cp = await take(queue, 3)
        old_inode = cp.inode
        # logrotate's default: rename the old file away, then the writer makes a new one. The
        # new file starts with the same line and is longer than the old position, so only the
        # inode tells them apart.
        path.rename(tmp_path / "access.log.1")
        new = REAL[0] + b"".join(REAL[10:14])
        assert len(new) > cp.offset
        path.write_bytes(new)
        records, cp2 = await take(queue, 5)
        assert [r.data for r in records] == [line.rstrip(b"\n") for line in [REAL[0], *REAL[10:14]]]
        assert records[0].origin.offset == 0
        assert cp2.inode == os.stat(path).st_ino != old_inode
        assert cp2.offset == len(new)
        await quiet(queue)


async def test_truncated_file_is_read_from_its_start(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    """copytruncate: the same file, cut to nothing and written again."""
    path = tmp_path / "access.log"
    path.write_bytes(b"".join(REAL[:4]))
    async with following(collector(path, app, clock)) as queue:
        await take(queue, 4)
        with path.open("r+b") as fh:
            fh.truncate(0)
        append(path, REAL[20])
        records, cp = await take(queue, 1)
        assert records[0].data == REAL[20].rstrip(b"\n")
        assert records[0].origin.offset == 0
        assert cp.offset == len(REAL[20])


def _stored_events(app: App) -> int:
    """Events stored, in either table (an unremarkable request is a ``lookups`` row)."""
    with app.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM all_events")).scalar_one())


async def test_restart_resumes_from_the_committed_checkpoint(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"".join(REAL[:5]))
    assert load_checkpoint(app.engine, "proxy") is None

    async with following(collector(path, app, clock)) as queue:
        records, cp = await take(queue, 5)
        result = app.processor.process("squid", PARSER, records, checkpoint=cp)
    assert (result.lines, result.events, result.rejected, result.stored) == (5, 5, 0, 5)
    assert load_checkpoint(app.engine, "proxy") == cp
    assert cp.offset == path.stat().st_size

    # Written while monitord was down.
    append(path, b"".join(REAL[5:8]))
    async with following(collector(path, app, clock)) as queue:
        records, cp2 = await take(queue, 3)
        assert [r.data for r in records] == [line.rstrip(b"\n") for line in REAL[5:8]]
        assert records[0].origin.offset == cp.offset
        await quiet(queue)
        result = app.processor.process("squid", PARSER, records, checkpoint=cp2)
    assert (result.events, result.stored, result.duplicates) == (3, 3, 0)
    assert load_checkpoint(app.engine, "proxy") == cp2
    assert cp2.offset == path.stat().st_size
    assert _stored_events(app) == 8


async def test_checkpoint_of_another_source_is_not_used(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"".join(REAL[:2]))
    async with following(collector(path, app, clock, name="proxy")) as queue:
        records, cp = await take(queue, 2)
        app.processor.process("squid", PARSER, records, checkpoint=cp)
    assert load_checkpoint(app.engine, "other") is None
    async with following(collector(path, app, clock, name="other")) as queue:
        records, _ = await take(queue, 2)
        assert records[0].origin.offset == 0
        assert records[0].origin.source == "other"


# --- every line exactly once through rotation, truncation, deletion and restarts ----------


def lines(prefix: str, n: int) -> bytes:
    """``n`` distinct Squid lines whose URLs carry ``prefix`` and a number."""
    return b"".join(
        f"1157689312.049 5 10.0.0.1 TCP_MISS/200 10 GET http://{prefix}.example/{i} - "
        f"DIRECT/1.2.3.4 text/html\n".encode()
        for i in range(n)
    )


def read_all(c: FileCollector) -> list[bytes]:
    """Poll until nothing new comes; every record's bytes, in order."""
    out: list[bytes] = []
    while True:
        found = c.poll()
        out += [r.data for b in found for r in b.records]
        if not found:
            return out


OPENED: list[FileCollector] = []


@pytest.fixture(autouse=True)
def _close_collectors() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().close()


def sync(path: Path, app: App, clock: FixedClock, batch_size: int = 2000) -> FileCollector:
    c = FileCollector("proxy", path, app.engine, clock, batch_size=batch_size, use_inotify=False)
    OPENED.append(c)
    return c


def test_rename_rotation_finishes_the_old_file_first(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(lines("a", 5))
    c = sync(log, app, clock)
    assert len(read_all(c)) == 5
    append(log, lines("b", 3))  # written just before the rotation, not yet read
    log.rename(tmp_path / "access.log.1")
    log.write_bytes(lines("c", 4))
    got = read_all(c)
    assert got == (lines("b", 3) + lines("c", 4)).splitlines()


def test_a_backlog_is_read_a_batch_at_a_time(tmp_path: Path, app: App, clock: FixedClock) -> None:
    """However far behind, a look reads no further than the batch it hands out."""
    log = tmp_path / "access.log"
    log.write_bytes(lines("a", 50))
    c = sync(log, app, clock, batch_size=10)
    looking = c.look()
    first = next(looking)
    assert len(first.records) == 10
    assert c._current is not None
    assert c._current.offset == first.checkpoint.offset == len(lines("a", 10))
    assert c._current.fh.tell() < log.stat().st_size  # the rest is still on disk
    rest = [r.data for b in looking for r in b.records]
    assert [r.data for r in first.records] + rest == lines("a", 50).splitlines()


@pytest.mark.parametrize("rotated", [False, True], ids=["live", "rotated"])
def test_a_look_left_unfinished_is_taken_up_by_the_next(
    tmp_path: Path, app: App, clock: FixedClock, rotated: bool
) -> None:
    """A look closed after two batches (the daemon stopping, its queue full) loses and
    repeats nothing: the next look starts after the last batch handed out."""
    log = tmp_path / "access.log"
    log.write_bytes(lines("a", 5))
    c = sync(log, app, clock, batch_size=10)
    assert len(read_all(c)) == 5
    append(log, lines("b", 45))
    if rotated:
        log.rename(tmp_path / "access.log.1")
        log.write_bytes(lines("c", 7))
    looking = c.look()
    got = [r.data for _ in range(2) for r in next(looking).records]
    looking.close()
    got += read_all(c)
    expected = lines("b", 45) + (lines("c", 7) if rotated else b"")
    assert got == expected.splitlines()


def test_copytruncate_reads_the_tail_from_the_copy(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(lines("a", 5))
    c = sync(log, app, clock)
    assert len(read_all(c)) == 5
    append(log, lines("b", 2))
    (tmp_path / "access.log.1").write_bytes(log.read_bytes())  # the copy
    with log.open("r+b") as fh:
        fh.truncate(0)
    append(log, lines("c", 9))  # already longer than the old position when next looked at
    got = read_all(c)
    assert got == (lines("b", 2) + lines("c", 9)).splitlines()


def test_deleted_and_recreated_file(tmp_path: Path, app: App, clock: FixedClock) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(lines("a", 2))
    c = sync(log, app, clock)
    assert len(read_all(c)) == 2
    append(log, lines("b", 1))
    log.unlink()
    assert read_all(c) == lines("b", 1).splitlines()
    assert read_all(c) == []
    log.write_bytes(lines("c", 2))
    assert read_all(c) == lines("c", 2).splitlines()


def _commit_all(c: FileCollector, app: App) -> list[bytes]:
    """Poll and commit every batch with its checkpoint, as the daemon does."""
    parser = PARSER.session()
    got: list[bytes] = []
    while True:
        found = c.poll()
        for b in found:
            app.processor.process("squid", parser, b.records, b.checkpoint)
            got += [r.data for r in b.records]
        if not found:
            return got


def _committed(tmp_path: Path, app: App, clock: FixedClock, n: int) -> Path:
    """access.log with ``n`` lines "a", read and committed by a follower since stopped."""
    log = tmp_path / "access.log"
    log.write_bytes(lines("a", n))
    assert len(_commit_all(sync(log, app, clock), app)) == n
    return log


def _restarted(log: Path, app: App, clock: FixedClock) -> FileCollector:
    """A follower started again: it resumes from the committed checkpoint."""
    c = sync(log, app, clock)
    c._resume = load_checkpoint(app.engine, "proxy")
    return c


def test_restart_after_a_rotation_while_stopped(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    log = _committed(tmp_path, app, clock, 4)
    # monitord is stopped; the proxy writes on, then logrotate renames and starts afresh.
    append(log, lines("b", 3))
    log.rename(tmp_path / "access.log.1")
    log.write_bytes(lines("c", 2))
    second = _restarted(log, app, clock)
    assert _commit_all(second, app) == (lines("b", 3) + lines("c", 2)).splitlines()
    assert _stored_events(app) == 9


def test_restart_in_the_middle_of_a_file_reads_each_line_once(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(lines("a", 4500))
    first = sync(log, app, clock, batch_size=1000)
    found = first.poll()
    assert len(found) == 5
    # Only the first two batches were committed before the crash.
    parser = PARSER.session()
    for b in found[:2]:
        app.processor.process("squid", parser, b.records, b.checkpoint)
    second = sync(log, app, clock, batch_size=1000)
    second._resume = load_checkpoint(app.engine, "proxy")
    rest = _commit_all(second, app)
    assert len(rest) == 2500
    assert rest[0] == lines("a", 4500).splitlines()[2000]
    assert _stored_events(app) == 4500


def _written(path: Path, seconds_ago: float) -> None:
    """Set the file's last write time: logrotate keeps it on a copy it renames or gzips."""
    when = time.time() - seconds_ago
    os.utime(path, (when, when))


def _following_a(tmp_path: Path, app: App, clock: FixedClock, n: int) -> FileCollector:
    """A follower that has read ``n`` lines "a" of access.log."""
    log = tmp_path / "access.log"
    log.write_bytes(lines("a", n))
    c = sync(log, app, clock)
    assert len(read_all(c)) == n
    return c


def _shift(log: Path) -> None:
    """name.1 becomes name.2, name.2.gz name.3.gz and so on, as logrotate makes room for the
    next copy."""
    for n in range(9, 0, -1):
        for gz in ("", ".gz"):
            older = log.with_name(f"{log.name}.{n}{gz}")
            if older.exists():
                older.rename(log.with_name(f"{log.name}.{n + 1}{gz}"))


def _gzipped(plain: Path) -> Path:
    """logrotate's compress: the .gz of a copy, given the copy's times; the copy is left."""
    gz = plain.with_name(plain.name + ".gz")
    with plain.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.utime(gz, (plain.stat().st_atime, plain.stat().st_mtime))
    return gz


def _renamed(log: Path, seconds_ago: float, then: bytes) -> None:
    """Rename rotation of a log last written ``seconds_ago``; ``then`` goes to the new log."""
    _written(log, seconds_ago)
    _shift(log)
    log.rename(log.with_name(log.name + ".1"))
    log.write_bytes(then)


def _copytruncated(log: Path, seconds_ago: float, then: bytes) -> None:
    """copytruncate, the copy made ``seconds_ago``; ``then`` is written after the cut."""
    _shift(log)
    copy = log.with_name(log.name + ".1")
    copy.write_bytes(log.read_bytes())
    _written(copy, seconds_ago)
    with log.open("r+b") as fh:
        fh.truncate(0)
    append(log, then)


@pytest.mark.parametrize("rotate", [_renamed, _copytruncated], ids=["rename", "copytruncate"])
def test_two_rotations_between_looks_read_the_file_between(
    tmp_path: Path, app: App, clock: FixedClock, rotate: Callable[[Path, float, bytes], None]
) -> None:
    # A busy log rotated twice while the follower was still on the first file (behind, or
    # not looking): the file in between is read whole, in its turn, before the new one.
    c = _following_a(tmp_path, app, clock, 5)
    append(c.path, lines("b", 3))
    rotate(c.path, 30, lines("c", 4))
    rotate(c.path, 20, lines("d", 2))
    got = read_all(c)
    assert got == (lines("b", 3) + lines("c", 4) + lines("d", 2)).splitlines()


def test_a_gz_copy_still_being_written_is_passed_over(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    # logrotate gzips an older copy under its final name while the follower looks for the
    # copy of its file: the half-written .gz (a gzip header, no end) must not stop it.
    c = _following_a(tmp_path, app, clock, 5)
    append(c.path, lines("b", 2))
    _copytruncated(c.path, 10, lines("c", 3))
    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(lines("z", 50))[:40])
    assert read_all(c) == (lines("b", 2) + lines("c", 3)).splitlines()


def test_an_older_copy_being_gzipped_is_not_read_again(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    # compress + delaycompress: right after a rotation logrotate gzips the copy before
    # (read long ago) into name.2.gz, which is newer than anything until logrotate gives it
    # the copy's time and removes the plain copy.
    c = _following_a(tmp_path, app, clock, 200)
    _renamed(c.path, 60, lines("b", 3))
    assert read_all(c) == lines("b", 3).splitlines()
    append(c.path, lines("c", 2))
    _renamed(c.path, 30, lines("d", 1))
    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(lines("a", 200)))
    assert read_all(c) == (lines("c", 2) + lines("d", 1)).splitlines()


def test_a_copy_removed_as_it_is_opened_is_read_from_its_gz(
    tmp_path: Path, app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # logrotate removes a plain copy once its .gz is written, which may be just when the
    # follower opens it to read it whole: it reads the .gz instead.
    c = _following_a(tmp_path, app, clock, 5)
    append(c.path, lines("b", 3))
    _renamed(c.path, 40, lines("c", 4))
    _renamed(c.path, 30, lines("d", 2))
    _renamed(c.path, 20, lines("e", 1))
    between = tmp_path / "access.log.2"  # the lines "c"
    _gzipped(between)
    opening = FileCollector._open

    def removed_first(self: FileCollector, path: Path) -> Any:
        if path == between:
            between.unlink(missing_ok=True)
        return opening(self, path)

    monkeypatch.setattr(FileCollector, "_open", removed_first)
    got = read_all(c)
    assert got == (lines("b", 3) + lines("c", 4) + lines("d", 2) + lines("e", 1)).splitlines()


def test_restart_after_two_rotations_while_stopped_reads_every_file(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    log = _committed(tmp_path, app, clock, 4)
    # Stopped over two rotations (compress, delaycompress): the file read before the stop
    # is access.log.2.gz by the time monitord starts again, the next one access.log.1.
    append(log, lines("b", 3))
    _renamed(log, 30, lines("c", 4))
    _written(log, 20)
    one = tmp_path / "access.log.1"
    _gzipped(one).rename(tmp_path / "access.log.2.gz")
    one.unlink()  # as logrotate does: the .gz keeps the copy's time, the copy goes
    log.rename(one)
    log.write_bytes(lines("d", 2))
    second = _restarted(log, app, clock)
    got = _commit_all(second, app)
    assert got == (lines("b", 3) + lines("c", 4) + lines("d", 2)).splitlines()
    assert _stored_events(app) == 13


def test_a_file_rotated_away_before_it_could_be_opened_is_read(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    # The log is rotated and the follower looks while the new file is still empty; by its
    # next look (behind, or busy) that file has been written and rotated away too.
    c = _following_a(tmp_path, app, clock, 5)
    append(c.path, lines("b", 3))
    _renamed(c.path, 30, b"")
    assert read_all(c) == lines("b", 3).splitlines()
    append(c.path, lines("c", 4))
    _renamed(c.path, 20, lines("d", 2))
    assert read_all(c) == (lines("c", 4) + lines("d", 2)).splitlines()
    # Rotated twice more while it was behind, then quiet: the file between is read without
    # waiting for a first line in the new file, and only once.
    append(c.path, lines("e", 1))
    _renamed(c.path, 10, lines("f", 2))
    _renamed(c.path, 5, b"")
    assert read_all(c) == (lines("e", 1) + lines("f", 2)).splitlines()
    assert read_all(c) == []


def test_a_restart_onto_an_empty_new_file_reads_the_file_rotated_after_it(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    log = _committed(tmp_path, app, clock, 4)
    _renamed(log, 30, b"")  # monitord starts again just after a rotation
    second = _restarted(log, app, clock)
    assert _commit_all(second, app) == []
    append(log, lines("b", 3))
    _renamed(log, 20, lines("c", 2))
    assert _commit_all(second, app) == (lines("b", 3) + lines("c", 2)).splitlines()
    assert _stored_events(app) == 9


async def test_inotify_wakes_the_follower_before_the_poll_interval(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(lines("a", 1))
    c = FileCollector("proxy", log, app.engine, clock, poll_interval=30.0)
    async with following(c) as queue:
        await take(queue, 1)
        append(log, lines("b", 2))
        records, _ = await take(queue, 2)  # within WAIT (1.5 s), far less than 30 s
    assert [r.data for r in records] == lines("b", 2).splitlines()


def test_a_copy_renamed_while_the_copies_are_listed_is_found(
    tmp_path: Path, app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Started again after a rotation, just as logrotate shifts name.1 to name.2: the copy of
    # the file read before is listed under the name it has just lost. It is looked for again
    # (before, it was "gone", and the rest of it and the file after it were lost).
    log = _committed(tmp_path, app, clock, 4)
    append(log, lines("b", 3))
    _renamed(log, 30, lines("c", 4))
    one, two = tmp_path / "access.log.1", tmp_path / "access.log.2"
    identifying = follow._identify

    def shifted_first(path: Path, inode: int) -> str | None:
        if path == one and not two.exists():
            _shift(log)
            log.rename(one)
            log.write_bytes(lines("d", 2))
        return identifying(path, inode)

    monkeypatch.setattr(follow, "_identify", shifted_first)
    got = _commit_all(_restarted(log, app, clock), app)
    assert got == (lines("b", 3) + lines("c", 4) + lines("d", 2)).splitlines()


def _started(log: Path, app: App, clock: FixedClock) -> FileCollector:
    """A follower started as the daemon starts one: from the committed checkpoint, if any."""
    c = sync(log, app, clock)
    c.start()
    return c


def test_a_log_rotated_before_its_first_commit_is_still_read(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    # monitord's very first start: it reads the log, and is killed before the batches are
    # committed; logrotate renames the log before monitord starts again.
    log = tmp_path / "access.log"
    log.write_bytes(lines("a", 4))
    first = _started(log, app, clock)
    assert len(read_all(first)) == 4  # never committed
    append(log, lines("b", 2))
    _renamed(log, 10, lines("c", 3))
    second = _started(log, app, clock)
    got = _commit_all(second, app)
    assert got == (lines("a", 4) + lines("b", 2) + lines("c", 3)).splitlines()
    assert _stored_events(app) == 9


def test_a_log_written_and_rotated_before_it_was_first_opened_is_read(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    # monitord starts before the program that writes the log (or just as it rotates): the
    # file is written and renamed away before the follower's next look. Older copies, from
    # before monitord was started, are not read: they are for `ingest` to backfill.
    log = tmp_path / "access.log"
    old = tmp_path / "access.log.1"
    old.write_bytes(lines("old", 5))
    _written(old, 3600)
    c = _started(log, app, clock)
    assert _commit_all(c, app) == []
    log.write_bytes(lines("a", 2))
    _renamed(log, 0, lines("b", 3))
    assert _commit_all(c, app) == (lines("a", 2) + lines("b", 3)).splitlines()
    assert _commit_all(c, app) == []
