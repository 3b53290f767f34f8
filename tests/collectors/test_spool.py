"""The agents' spool folder against real files: reports in, events stored, files moved only
after their events are committed, a restart mid-file reading each report once."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from collectors.parsers.agent import PARSER
from collectors.parsers.base import Parser
from collectors.spool import SpoolCollector, SpoolFileError, is_candidate, malformed, read_records
from monitord.core.clock import FixedClock
from monitord.service.app import App
from monitord.store.database import table_of
from monitord.store.tables import EventRow, RejectedRow

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


def spool(
    tmp_path: Path,
    app: App,
    clock: FixedClock,
    batch_size: int = 100,
    quota: int = 512 * 1024 * 1024,
) -> SpoolCollector:
    return SpoolCollector(
        "agents",
        tmp_path / "spool",
        tmp_path / "evidence",
        app.engine,
        clock,
        batch_size=batch_size,
        poll_interval=0.02,
        quota=quota,
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


async def test_screenshots_past_the_agents_quota_are_not_kept(
    tmp_path: Path, app: App, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "spool"
    (folder / "shots").mkdir(parents=True)
    lines = []
    for n in range(3):  # 26 bytes each against a quota of 60
        data = f"\x89PNG fake screenshot no {n}".encode()
        (folder / "shots" / f"s{n}.png").write_bytes(data)
        lines.append(
            report(n, "screenshot", file=f"shots/s{n}.png", sha256=hashlib.sha256(data).hexdigest())
        )
    drop(folder, "shots.jsonl", lines)
    await run_until_idle(spool(tmp_path, app, clock, quota=60), app)
    kept = [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()]
    assert len(kept) == 2
    assert (
        "not kept: agent 'y6-lt-07''s screenshots take 52 bytes of its quota of 60" in caplog.text
    )
    assert count(app, EventRow) == 3  # the reports themselves are stored


def test_what_counts_as_a_finished_report_file(tmp_path: Path) -> None:
    for name in ("a.jsonl", ".a.jsonl", "a.jsonl.tmp", "a.json", "a.jsonl.part"):
        (tmp_path / name).write_text(report(1) + "\n")
    assert [p.name for p in tmp_path.iterdir() if is_candidate(p.name)] == ["a.jsonl"]
    (tmp_path / "b.jsonl").write_text('{"schema": "other/1"}\n')
    assert malformed(tmp_path / "b.jsonl") == "line 1: not a monitord.agent/1 report"
    (tmp_path / "c.jsonl").write_text("\n\n")
    assert malformed(tmp_path / "c.jsonl") is None


async def test_the_reader_survives_anything_in_the_spool(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    folder = tmp_path / "spool"
    folder.mkdir()
    outside = tmp_path / "outside"
    (outside / "done").mkdir(parents=True)
    (outside / "rejected").mkdir()
    secret = outside / "secret.txt"
    secret.write_text('{"schema": "monitord.agent/1", "password": "hunter2"}\n')
    (folder / "done").symlink_to(outside / "done")  # links for the folders it moves into
    (folder / "rejected").symlink_to(outside / "rejected")
    (folder / "dir.jsonl").mkdir()  # a directory where a file is expected
    (folder / "dir.jsonl" / "x.jsonl").write_text(report(1) + "\n")
    (folder / "link.jsonl").symlink_to(secret)  # a link out of the spool
    os.mkfifo(folder / "fifo.jsonl")  # would hang a reader that opened it blocking
    odd = os.fsdecode(b"odd-\xff\xfe.jsonl")  # not UTF-8 (a NUL cannot be in a name at all)
    (folder / odd).write_text(report(2) + "\n")
    (folder / "bell\x07\n.jsonl").write_text(report(3) + "\n")
    (folder / "deep.jsonl").write_text("[" * 50_000 + "\n")
    with (folder / "huge.jsonl").open("wb") as fh:  # one 400 MB line (sparse on disk)
        fh.truncate(400 * 1024 * 1024)
    (folder / "long.jsonl").write_bytes(b'{"x": "' + b"a" * (5 * 1024 * 1024) + b'"}\n')
    nested = json.dumps({"a": 1}).replace("1", "[" * 20_000 + "]" * 20_000)
    drop(folder, "mixed.jsonl", [report(4), nested, report(5)])
    drop(folder, "good.jsonl", [report(6), report(7)])

    await run_until_idle(spool(tmp_path, app, clock), app)

    assert count(app, EventRow) == 4  # mixed.jsonl's two and good.jsonl's two
    assert count(app, RejectedRow) == 1  # the nested line inside a good file
    done, rejected = folder / "done", folder / "rejected"
    assert not done.is_symlink()
    assert not rejected.is_symlink()
    assert sorted(p.name for p in done.iterdir()) == ["good.jsonl", "mixed.jsonl"]
    assert list((outside / "done").iterdir()) == []  # nothing went through the links
    assert list((outside / "rejected").iterdir()) == []
    aside = sorted(p.name for p in folder.iterdir() if ".not-a-folder." in p.name)
    assert [name.split(".")[1] for name in aside] == ["done", "rejected"]

    def reason(name: str) -> str:
        return (rejected / f"{name}.reason").read_text()

    assert "a directory, not a file" in reason("dir.jsonl")
    assert "a symbolic link, not a file" in reason("link.jsonl")
    assert (rejected / "link.jsonl").is_symlink()  # the link itself moved, never followed
    assert "not a regular file" in reason("fifo.jsonl")
    assert "odd-\\xff\\xfe.jsonl: its name is not UTF-8" in reason(odd)
    assert "control characters" in reason("bell\x07\n.jsonl")
    assert "JSON nested too deeply" in reason("deep.jsonl")
    assert "larger than 67108864 bytes" in reason("huge.jsonl")
    assert "line 1 is longer than 65536 bytes" in reason("long.jsonl")
    assert secret.read_text().endswith('hunter2"}\n')
    with app.engine.connect() as conn:
        raws = [bytes(r.raw) for r in conn.execute(select(table_of(RejectedRow)))]
    assert not any(b"hunter2" in r for r in raws)
    assert not [p for p in folder.iterdir() if p.name.endswith(".jsonl")]


async def test_a_report_file_swapped_for_a_link_is_not_followed(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    folder = tmp_path / "spool"
    outside = tmp_path / "secret.jsonl"
    outside.write_text(report(1) + "\n")
    folder.mkdir()
    (folder / "a.jsonl").symlink_to(outside)
    collector = spool(tmp_path, app, clock)
    assert collector.waiting() == [folder / "a.jsonl"]  # looked at, as anything named so
    with pytest.raises(SpoolFileError, match="a symbolic link"):
        list(read_records(folder / "a.jsonl", "agents", 0, clock.now()))
    await run_until_idle(collector, app)
    assert count(app, EventRow) == 0
