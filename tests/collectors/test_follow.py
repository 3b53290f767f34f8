"""Following a growing log file: complete lines only, rotation, and resuming from the
checkpoint the pipeline committed."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import func, select

from collectors.base import Batch
from collectors.files import identify
from collectors.follow import FileCollector, load_checkpoint
from collectors.squid import PARSER
from monitord.app import App
from monitord.clock import FixedClock
from monitord.model import Checkpoint, RawRecord
from monitord.store import table_of
from monitord.tables import EventRow
from tests.conftest import FIXTURES

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
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table_of(EventRow))).scalar_one())


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
