"""The agents' spool folder against real files: reports in, events stored, files moved only
after their events are committed, a restart mid-file reading each report once."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from collectors.agent import PARSER
from collectors.base import Parser
from collectors.spool import SpoolCollector, is_ready, malformed
from monitord.app import App
from monitord.clock import FixedClock
from monitord.store import table_of
from monitord.tables import EventRow, RejectedRow

pytestmark = pytest.mark.stores


def report(n: int, kind: str = "search", **data: str) -> str:
    body = data or {"engine": "google", "query": f"homework help {n}"}
    return json.dumps(
        {
            "schema": "monitord.agent/1",
            "agent_id": "y6-lt-07",
            "hostname": "Y6-LT-07",
            "ts": f"2026-11-19T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "user": "jayden.s",
            "ip": "10.20.6.7",
            "mac": "aa:00:00:00:00:07",
            "kind": kind,
            "data": body,
        }
    )


def drop(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    final = folder / name
    tmp.rename(final)
    return final


def count(app: App, model: type) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table_of(model))).scalar_one())


async def run_until_idle(
    c: SpoolCollector, app: App, limit: int | None = None, parser: Parser = PARSER
) -> int:
    """Act as the daemon's writer: commit each batch with its checkpoint. With ``limit``,
    stop (like a crash) after that many batches."""
    session = parser.session()
    done = 0

    async def consume() -> None:
        nonlocal done
        async for batch in c.batches():
            await asyncio.to_thread(
                app.processor.process, "agent", session, batch.records, batch.checkpoint
            )
            done += 1
            if limit is not None and done >= limit:
                c.stop()

    task = asyncio.create_task(consume())
    for _ in range(100):
        await asyncio.sleep(0.05)
        if task.done() or not c.waiting():
            break
    c.stop()
    await asyncio.wait_for(task, 5)
    return done


def spool(tmp_path: Path, app: App, clock: FixedClock, batch_size: int = 100) -> SpoolCollector:
    return SpoolCollector(
        "agents",
        tmp_path / "spool",
        tmp_path / "evidence",
        app.engine,
        clock,
        batch_size=batch_size,
        poll_interval=0.02,
    )


async def test_reports_become_events_and_the_file_is_moved_after_commit(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    path = drop(tmp_path / "spool", "a.jsonl", [report(i) for i in range(5)])
    (tmp_path / "spool" / ".b.jsonl.part").write_text(report(9) + "\n")  # still being written
    await run_until_idle(spool(tmp_path, app, clock), app)
    assert count(app, EventRow) == 5
    assert not path.exists()
    assert (tmp_path / "spool" / "done" / "a.jsonl").exists()
    assert (tmp_path / "spool" / ".b.jsonl.part").exists()


async def test_a_bad_report_is_a_rejected_line_a_bad_file_goes_to_rejected(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    bad_line = json.dumps({"schema": "monitord.agent/1", "agent_id": "x"})
    drop(tmp_path / "spool", "mixed.jsonl", [report(1), bad_line, report(2)])
    drop(tmp_path / "spool", "junk.jsonl", ["<html>not reports</html>"])
    await run_until_idle(spool(tmp_path, app, clock), app)
    assert count(app, EventRow) == 2
    assert count(app, RejectedRow) == 1
    rejected = tmp_path / "spool" / "rejected"
    assert (rejected / "junk.jsonl").exists()
    assert "line 1: not JSON" in (rejected / "junk.jsonl.reason").read_text()


async def test_restart_mid_file_reads_each_report_once(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    path = drop(tmp_path / "spool", "big.jsonl", [report(i) for i in range(250)])
    assert await run_until_idle(spool(tmp_path, app, clock), app, limit=1) == 1
    assert path.exists()  # stopped before the whole file was committed: not moved
    assert count(app, EventRow) == 100
    await run_until_idle(spool(tmp_path, app, clock), app)
    assert count(app, EventRow) == 250
    assert (tmp_path / "spool" / "done" / "big.jsonl").exists()


async def test_screenshots_are_checked_and_kept_by_their_hash(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    picture = b"\x89PNG fake screenshot bytes"
    digest = hashlib.sha256(picture).hexdigest()
    folder = tmp_path / "spool"
    (folder / "shots").mkdir(parents=True)
    (folder / "shots" / "s1.png").write_bytes(picture)
    (tmp_path / "secret.txt").write_text("not for the evidence folder")
    lines = [
        report(1, "screenshot", file="shots/s1.png", sha256=digest),
        report(2, "screenshot", file="shots/s1.png", sha256="0" * 64),  # wrong hash
        report(
            3,
            "screenshot",
            file="../secret.txt",
            sha256=hashlib.sha256(b"not for the evidence folder").hexdigest(),
        ),
        report(4, "screenshot", file="/etc/passwd", sha256="1" * 64),
    ]
    drop(folder, "shots.jsonl", lines)
    await run_until_idle(spool(tmp_path, app, clock), app)
    kept = sorted(p.name for p in (tmp_path / "evidence").rglob("*") if p.is_file())
    assert kept == [digest]
    assert (tmp_path / "evidence" / "screenshots" / digest[:2] / digest).read_bytes() == picture


def test_what_counts_as_a_finished_report_file(tmp_path: Path) -> None:
    for name in ("a.jsonl", ".a.jsonl", "a.jsonl.tmp", "a.json", "a.jsonl.part"):
        (tmp_path / name).write_text(report(1) + "\n")
    assert [p.name for p in tmp_path.iterdir() if is_ready(p)] == ["a.jsonl"]
    (tmp_path / "b.jsonl").write_text('{"schema": "other/1"}\n')
    assert malformed(tmp_path / "b.jsonl") == "line 1: not a monitord.agent/1 report"
    (tmp_path / "c.jsonl").write_text("\n\n")
    assert malformed(tmp_path / "c.jsonl") is None
