"""Following a growing log file from its committed checkpoint.

The follower reads only complete lines (a partial last line waits for its newline) and hands
them on in batches with the position after the batch; the position is committed with the
events, so a restart resumes exactly there. When the file at the path is a different file
(another inode, shorter than the position, or a different first line) it is read from the
start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import Engine, select

from collectors.base import Batch
from collectors.files import MAX_LINE, file_identity, iter_records, open_log, read_first_line
from monitord.clock import Clock
from monitord.model import Checkpoint, RawRecord
from monitord.store import table_of
from monitord.tables import CheckpointRow

log = logging.getLogger("monitord.follow")


def load_checkpoint(engine: Engine, source: str) -> Checkpoint | None:
    table = table_of(CheckpointRow)
    with engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.source == source)).first()
    if row is None:
        return None
    return Checkpoint(row.source, row.path, row.file_id, int(row.inode), int(row.offset))


def _identify_complete(path: Path) -> str | None:
    """The file's identity, once its first line is complete (None before that)."""
    with open_log(path) as fh:
        first = read_first_line(fh)
    if not first.endswith(b"\n") and len(first) < MAX_LINE:
        return None
    return file_identity(first)


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
    ) -> None:
        self.name = name
        self.path = path
        self.engine = engine
        self.clock = clock
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._stop = asyncio.Event()
        self._position: Checkpoint | None = None

    def stop(self) -> None:
        self._stop.set()

    def _read(self) -> list[Batch]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        file_id = _identify_complete(self.path)
        if file_id is None:
            return []
        pos = self._position
        if (
            pos is None
            or pos.file_id != file_id
            or pos.inode != st.st_ino
            or st.st_size < pos.offset
        ):
            if pos is not None:
                log.info("%s: %s is a new file, reading it from the start", self.name, self.path)
            pos = Checkpoint(self.name, str(self.path), file_id, st.st_ino, 0)
        if st.st_size == pos.offset:
            self._position = pos
            return []
        batches: list[Batch] = []
        records: list[RawRecord] = []
        offset = pos.offset
        for rec, after in iter_records(
            self.path, self.name, start=pos.offset, complete_only=True, now=self.clock.now()
        ):
            records.append(rec)
            offset = after
            if len(records) >= self.batch_size:
                batches.append(
                    Batch(
                        records, Checkpoint(self.name, str(self.path), file_id, st.st_ino, offset)
                    )
                )
                records = []
        if records or offset != pos.offset:
            batches.append(
                Batch(records, Checkpoint(self.name, str(self.path), file_id, st.st_ino, offset))
            )
        self._position = Checkpoint(self.name, str(self.path), file_id, st.st_ino, offset)
        return batches

    async def batches(self) -> AsyncIterator[Batch]:
        self._position = await asyncio.to_thread(load_checkpoint, self.engine, self.name)
        while not self._stop.is_set():
            try:
                found = await asyncio.to_thread(self._read)
            except OSError as exc:
                log.warning("%s: cannot read %s: %s", self.name, self.path, exc)
                found = []
            for batch in found:
                yield batch
            if not found:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.poll_interval)
