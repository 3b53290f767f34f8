"""The agents' spool directory: report files (JSON Lines, ``monitord.agent/1``) dropped by
endpoint agents, a file share, or the HTTPS ingest endpoint.

A writer puts a file in under a temporary name (starting with ``.`` or ending in ``.tmp`` or
``.part``) and renames it to ``*.jsonl`` when it is complete; only such files are read. A file
is moved to ``done/`` once its events are committed (the store's checkpoint says so), so a
restart in the middle of a file carries on at the committed line and reads nothing twice. A
file that is not agent reports at all (its first report is not JSON of that schema) goes to
``rejected/`` with a ``.reason`` file beside it; a bad report inside a good file is stored as a
rejected line with its reason, like a bad log line.

Screenshots named by a report (``{"kind": "screenshot", "data": {"file", "sha256"}}``, the
file relative to the report) are checked against their SHA-256 and copied into the evidence
folder under that hash; a name that would lead outside the spool is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from sqlalchemy import Engine

from collectors.base import Batch
from collectors.files import identify, iter_records
from collectors.follow import load_checkpoint
from collectors.screenshots import ScreenshotError, store_screenshot
from monitord.clock import Clock
from monitord.model import Checkpoint, RawRecord

log = logging.getLogger("monitord.spool")
SCHEMA = "monitord.agent/1"
SUFFIX = ".jsonl"


def is_ready(path: Path) -> bool:
    """A finished report file (not one still being written under a temporary name)."""
    name = path.name
    return (
        path.is_file()
        and name.endswith(SUFFIX)
        and not name.startswith(".")
        and not name.endswith((".tmp", ".part"))
    )


def malformed(path: Path) -> str | None:
    """Why ``path`` is not a file of agent reports at all, or None when it is."""
    try:
        with path.open("rb") as fh:
            for n, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    report = json.loads(raw)
                except (ValueError, UnicodeDecodeError) as exc:
                    return f"line {n}: not JSON ({exc})"
                if not isinstance(report, dict) or report.get("schema") != SCHEMA:
                    return f"line {n}: not a {SCHEMA} report"
                return None
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    return None  # an empty file: nothing to read, nothing wrong


def screenshots_of(path: Path) -> Iterator[tuple[str, str]]:
    """(file, sha256) of every screenshot report in a report file."""
    with path.open("rb") as fh:
        for raw in fh:
            if b'"screenshot"' not in raw:
                continue
            try:
                report = json.loads(raw)
                data = report["data"]
                if report.get("kind") == "screenshot":
                    yield str(data["file"]), str(data["sha256"])
            except (ValueError, KeyError, TypeError):
                continue  # the parser rejects the report itself, with its reason


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
    ) -> None:
        self.name = name
        self.folder = folder
        self.evidence = evidence
        self.engine = engine
        self.clock = clock
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    def waiting(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.iterdir() if is_ready(p)]
        return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))

    def _move(self, path: Path, to: str, reason: str | None = None) -> None:
        target = self.folder / to
        target.mkdir(exist_ok=True)
        final = target / path.name
        if final.exists():  # the same name again: keep both
            final = target / f"{path.stem}.{int(self.clock.now().timestamp())}{path.suffix}"
        if reason is not None:
            (target / f"{final.name}.reason").write_text(reason + "\n", encoding="utf-8")
        os.replace(path, final)

    def _keep_screenshots(self, path: Path) -> None:
        for name, digest in screenshots_of(path):
            try:
                stored = store_screenshot(self.folder, name, digest, self.evidence)
                log.info("%s: screenshot %s kept as %s", self.name, name, stored)
            except ScreenshotError as exc:
                log.warning("%s: %s: %s", self.name, path.name, exc)

    def _batches(self, path: Path, start: int) -> list[Batch]:
        file_id = identify(path)
        inode = os.stat(path).st_ino
        out: list[Batch] = []
        records: list[RawRecord] = []
        offset = start
        for rec, after in iter_records(path, self.name, start=start, now=self.clock.now()):
            records.append(rec)
            offset = after
            if len(records) >= self.batch_size:
                out.append(Batch(records, Checkpoint(self.name, str(path), file_id, inode, offset)))
                records = []
        end = os.stat(path).st_size
        if records or offset != end:
            out.append(Batch(records, Checkpoint(self.name, str(path), file_id, inode, end)))
        return out

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
                reason = await asyncio.to_thread(malformed, path)
                if reason is not None:
                    log.warning(
                        "%s: %s is not agent reports (%s): moved to rejected/",
                        self.name,
                        path.name,
                        reason,
                    )
                    await asyncio.to_thread(self._move, path, "rejected", reason)
                    continue
                file_id = await asyncio.to_thread(identify, path)
                start = resume.offset if resume is not None and resume.file_id == file_id else 0
                resume = None
                await asyncio.to_thread(self._keep_screenshots, path)
                found = await asyncio.to_thread(self._batches, path, start)
                for batch in found:
                    if self._stop.is_set():
                        return  # the rest is read from the checkpoint at the next start
                    yield batch
                if found:
                    await self._committed(found[-1])
                if self._stop.is_set():
                    return  # not moved: the next start finds it and its checkpoint
                await asyncio.to_thread(self._move, path, "done")
            if not files:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.poll_interval)
